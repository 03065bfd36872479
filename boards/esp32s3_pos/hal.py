"""HAL of the ESP32-S3 POS board: machine.* objects from board.json.

The esp32 port routes any peripheral to any GPIO through the GPIO matrix,
so bus pins are passed to the constructors.  The fiscal flash and the OTA
area are data partitions ("fiscal", "ota") of the module's flash, used
through esp32.Partition, which implements the block device protocol with
4 KiB erase blocks.
"""

import machine

from boards.common.machine_hal import MachineBoard


class Board(MachineBoard):
    PINS_IN_CONSTRUCTOR = True

    def _partition(self, area):
        from boards.common.fs import area_spec

        spec = area_spec(self.config, area)
        import esp32

        parts = esp32.Partition.find(esp32.Partition.TYPE_DATA, label=spec["partition"])
        if not parts:
            raise OSError(19)  # ENODEV: the partition table lacks it
        part = parts[0]
        if part.ioctl(5, 0) != spec["block_size"] or part.ioctl(4, 0) < spec["block_count"]:
            raise ValueError(
                "partition %s smaller than the board's %s area" % (spec["partition"], area)
            )
        return part

    def flash(self):
        if self._flash is None:
            self._flash = self._partition("fiscal")
        return self._flash

    def ota_flash(self):
        if self._ota_flash is None:
            self._ota_flash = self._partition("ota")
        return self._ota_flash

    def card_clock(self, on=True):
        """Start (or stop) the contact card's clock: LEDC PWM at clock_hz, 50 %."""
        dev = self.device("card_reader")
        if "card_clock" not in self._open:
            pin = self.pin(dev["pins"]["clk"], value=0)
            self._open["card_clock"] = machine.PWM(pin, freq=dev["clock_hz"], duty_u16=0)
        pwm = self._open["card_clock"]
        pwm.duty_u16(32768 if on else 0)
        return pwm
