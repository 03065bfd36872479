"""HAL of the ESP32-S3 POS board: machine.* objects from board.json.

The esp32 port routes any peripheral to any GPIO through the GPIO matrix,
so bus pins are passed to the constructors.  The fiscal flash is a data
partition ("fiscal") of the module's flash, used through esp32.Partition,
which implements the block device protocol with 4 KiB erase blocks.
"""

import machine

from boards.common.machine_hal import MachineBoard


class Board(MachineBoard):
    PINS_IN_CONSTRUCTOR = True

    def flash(self):
        if self._flash is None:
            import esp32

            spec = self.config["flash"]["fiscal"]
            parts = esp32.Partition.find(esp32.Partition.TYPE_DATA, label=spec["partition"])
            if not parts:
                raise OSError(19)  # ENODEV: partition table lacks "fiscal"
            part = parts[0]
            if part.ioctl(5, 0) != spec["block_size"] or part.ioctl(4, 0) < spec["block_count"]:
                raise ValueError(
                    "partition %s smaller than the board's fiscal flash" % spec["partition"]
                )
            self._flash = part
        return self._flash

    def card_clock(self, on=True):
        """Start (or stop) the contact card's clock: LEDC PWM at clock_hz, 50 %."""
        dev = self.device("card_reader")
        if "card_clock" not in self._open:
            pin = self.pin(dev["pins"]["clk"], value=0)
            self._open["card_clock"] = machine.PWM(pin, freq=dev["clock_hz"], duty_u16=0)
        pwm = self._open["card_clock"]
        pwm.duty_u16(32768 if on else 0)
        return pwm
