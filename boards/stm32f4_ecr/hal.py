"""HAL of the STM32F405 ECR board (pyboard v1.1 core): machine.* from board.json.

On the stm32 port each UART/I2C/SPI id has its pins fixed by the board's C
configuration (PYBV11: UART4 = X1/X2 = A0/A1, ...), so the constructors take
no pins; board.json records them for the schematic and the pin check.  The
fiscal flash is an external W25Q32 on SPI2, driven by boards/common/spiflash.
The card clock comes from timer 3 channel 3 on B0 (pyb.Timer: the stm32
port's machine module has no PWM on every release).  There is no OTA area
(``"ota": null`` in board.json): ``ota_fs()`` raises ValueError.
"""

from boards.common.machine_hal import MachineBoard
from boards.common.spiflash import SpiNorFlash

NO_OTA = (
    "board stm32f4_ecr has no OTA area: the application is frozen into the"
    " MCU's internal flash and the W25Q32 is all fiscal memory; update by"
    " reflashing the firmware (DFU or SWD)"
)


class Board(MachineBoard):
    PINS_IN_CONSTRUCTOR = False

    def flash(self):
        if self._flash is None:
            spec = self.config["flash"]["fiscal"]
            spi = self.bus(spec["bus"])
            cs = self.pin(spec["pins"]["cs"], value=1)
            self._flash = SpiNorFlash(spi, cs, spec["block_count"])
        return self._flash

    def ota_flash(self):
        raise ValueError(NO_OTA)

    def ota_fs(self, path=None, format_if_needed=True, device=None):
        raise ValueError(NO_OTA)

    def card_clock(self, on=True):
        """Start (or stop) the contact card's clock on TIM3 CH3 at clock_hz."""
        import pyb

        dev = self.device("card_reader")
        timer_id, channel = dev["clock_timer"]
        if "card_clock" not in self._open:
            self._open["card_clock"] = pyb.Timer(timer_id, freq=dev["clock_hz"])
        timer = self._open["card_clock"]
        pin = self.pin(dev["pins"]["clk"], value=0)
        timer.channel(channel, pyb.Timer.PWM, pin=pin, pulse_width_percent=50 if on else 0)
        return timer
