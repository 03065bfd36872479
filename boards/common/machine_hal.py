"""The HAL of a physical board, built from its board.json with ``machine``.

Same interface as boards/sim/hal.py: ``bus(name)``, ``bus_for(role)``,
``device(role)``, ``pin(name_or_id)``, ``display()``, ``keypad()``,
``status()``, ``rtc()``, ``flash()``, ``mount_fiscal()``, ``fiscal_fs()``,
``ota_flash()``, ``ota_fs()``, ``deinit()``.
A board's hal.py subclasses ``MachineBoard`` for what differs between ports:
whether bus pins are passed to the constructors (esp32: yes; stm32: no, the
pins of each peripheral id are fixed by the board's C config) and where the
fiscal flash and the OTA area live.
"""

import machine

from boards.common.clock import HwRtc
from boards.common.indicators import Indicators
from boards.common.keypad import Tca8418Keypad
from boards.common.panel import Ili9341, St7565

PANELS = {"ili9341": Ili9341, "st7565": St7565}


class MachineBoard:
    # Does machine.UART/I2C/SPI take tx=/rx=/scl=/sda=/sck=/mosi=/miso=?
    PINS_IN_CONSTRUCTOR = True

    def __init__(self, config):
        self.config = config
        self.name = config["name"]
        self._open = {}
        self._flash = None
        self._ota_flash = None
        self._rtc = None

    # -- data ----------------------------------------------------------------
    def device(self, role):
        devices = self.config["devices"]
        if role not in devices:
            raise ValueError("no device %r on board %s" % (role, self.name))
        return devices[role]

    def pin(self, pin_id, mode=None, pull=None, value=None):
        """machine.Pin for an id from the board data (int on esp32, 'A0'-style
        CPU pin name on stm32)."""
        if mode is None:
            mode = machine.Pin.OUT
        if value is None:
            if pull is None:
                return machine.Pin(pin_id, mode)
            return machine.Pin(pin_id, mode, pull)
        return machine.Pin(pin_id, mode, pull, value=value)

    # -- buses -----------------------------------------------------------------
    def bus(self, bus_name):
        if bus_name in self._open:
            return self._open[bus_name]
        spec = self.config["buses"].get(bus_name)
        if spec is None:
            raise ValueError("no bus %r on board %s" % (bus_name, self.name))
        kind = spec["kind"]
        if kind == "uart":
            obj = self._uart(spec)
        elif kind == "i2c":
            obj = self._i2c(spec)
        elif kind == "spi":
            obj = self._spi(spec)
        elif kind == "usb_cdc":
            from boards.common.stdio_uart import StdioUart

            obj = StdioUart(spec.get("timeout_ms", 0), spec.get("timeout_char_ms", 2))
        else:
            raise ValueError("bus %s: kind %s has no machine object" % (bus_name, kind))
        self._open[bus_name] = obj
        return obj

    def _uart(self, spec):
        kw = {
            "baudrate": spec["baudrate"],
            "bits": spec.get("bits", 8),
            "parity": spec.get("parity"),
            "stop": spec.get("stop", 1),
            "timeout": spec.get("timeout_ms", 0),
            "timeout_char": spec.get("timeout_char_ms", 2),
            "rxbuf": spec.get("rxbuf", 1024),
        }
        pins = spec.get("pins", {})
        if self.PINS_IN_CONSTRUCTOR:
            kw["tx"] = pins["tx"]
            kw["rx"] = pins["rx"]
        return machine.UART(spec["id"], **kw)

    def _i2c(self, spec):
        pins = spec.get("pins", {})
        if self.PINS_IN_CONSTRUCTOR:
            return machine.I2C(
                spec["id"],
                scl=machine.Pin(pins["scl"]),
                sda=machine.Pin(pins["sda"]),
                freq=spec["freq"],
            )
        return machine.I2C(spec["id"], freq=spec["freq"])

    def _spi(self, spec):
        kw = {
            "baudrate": spec["freq"],
            "polarity": spec.get("polarity", 0),
            "phase": spec.get("phase", 0),
        }
        pins = spec.get("pins", {})
        if self.PINS_IN_CONSTRUCTOR:
            kw["sck"] = machine.Pin(pins["sck"])
            kw["mosi"] = machine.Pin(pins["mosi"])
            if pins.get("miso") is not None:
                kw["miso"] = machine.Pin(pins["miso"])
        return machine.SPI(spec["id"], **kw)

    def bus_for(self, role):
        """The bus the driver of device ``role`` receives ("nfc" -> uart1)."""
        dev = self.device(role)
        if role == "display":
            return self.display()
        if role == "keypad":
            return self.keypad()
        if role in ("buzzer", "leds"):
            return self.status()
        if dev.get("bus") is None:
            raise ValueError("device %s has no bus" % role)
        return self.bus(dev["bus"])

    def control_pins(self, role):
        """machine.Pin objects for a device's side pins (card reset/VCC/
        presence, NFC reset...): outputs, except the names listed in the
        device's "inputs" (inputs with pull-up).  The clock pin is excluded:
        see ``card_clock``."""
        dev = self.device(role)
        inputs = dev.get("inputs", [])
        out = {}
        pins = dev.get("pins", {})
        for name in sorted(pins):
            if name == "clk":
                continue
            if name in inputs:
                out[name] = self.pin(pins[name], machine.Pin.IN, machine.Pin.PULL_UP)
            else:
                out[name] = self.pin(pins[name], value=0)
        return out

    def uart(self, bus_name):
        return self.bus(bus_name)

    def i2c(self, bus_name):
        return self.bus(bus_name)

    # -- human interface -------------------------------------------------------
    def display(self):
        if "display" not in self._open:
            dev = self.device("display")
            cls = PANELS.get(dev.get("panel"))
            if cls is None:
                raise ValueError("display panel %r not supported" % (dev.get("panel"),))
            pins = dev["pins"]
            spi = self.bus(dev["bus"])
            cs = self.pin(pins["cs"], value=1)
            dc = self.pin(pins["dc"], value=0)
            rst = self.pin(pins["rst"], value=1) if pins.get("rst") is not None else None
            bl = None
            if pins.get("backlight") is not None:
                bl_pin = self.pin(pins["backlight"], value=0)
                bl = (
                    machine.PWM(bl_pin, freq=1000, duty_u16=0)
                    if dev.get("backlight_pwm")
                    else bl_pin
                )
            self._open["display"] = cls(spi, cs, dc, rst, bl, dev["width"], dev["height"])
        return self._open["display"]

    def keypad(self):
        if "keypad" not in self._open:
            dev = self.device("keypad")
            if dev["driver"] != "tca8418":
                raise ValueError("keypad driver %r not supported" % (dev["driver"],))
            self._open["keypad"] = Tca8418Keypad(self.bus(dev["bus"]), dev["addr"], dev["keys"])
        return self._open["keypad"]

    def status(self):
        if "status" not in self._open:
            buzzer = self.device("buzzer")
            leds = self.device("leds")
            bpin = self.pin(buzzer["pins"]["pin"], value=0)
            pwm = buzzer.get("kind") == "passive"
            bz = machine.PWM(bpin, freq=2700, duty_u16=0) if pwm else bpin
            names = leds["names"]
            pins = leds["pins"]["leds"]
            led_list = [(names[i], self.pin(pins[i])) for i in range(len(names))]
            self._open["status"] = Indicators(bz, pwm, led_list, leds.get("active_low", False))
        return self._open["status"]

    def dialer(self, role):
        """No network stack is wired on the physical boards yet (their
        ``tax``/``tsm`` devices are data only, docs/boards.md)."""
        raise ValueError("%s: no network link for %r on this board yet" % (self.name, role))

    def rtc(self):
        if self._rtc is None:
            self._rtc = HwRtc()
        return self._rtc

    # -- flash: the fiscal memory and the OTA area ------------------------------
    # (boards.common.fs is imported on first use: the payment app opens the
    # board and never mounts, so its bytecode stays out of the app's heap)
    def flash(self):
        """The fiscal flash block device (board specific)."""
        raise NotImplementedError

    def ota_flash(self):
        """The OTA area's block device (board specific; ValueError on a
        board without one)."""
        from boards.common.fs import area_spec

        area_spec(self.config, "ota")
        raise NotImplementedError

    def mount_fiscal(self, path=None, format_if_needed=True, device=None):
        """Mount littlefs on the fiscal flash; returns the mount point.
        ``device`` replaces the flash, e.g. ``PowerCutDevice(board.flash(), N)``."""
        from boards.common.fs import mount_spec

        dev = self.flash() if device is None else device
        return mount_spec(dev, self.config["flash"]["fiscal"], path, format_if_needed)

    def fiscal_fs(self, path=None, format_if_needed=True, device=None):
        """Mount the fiscal flash (as ``mount_fiscal``) and return its
        ``boards.common.fs.Files``: what ``Journal.format/open`` take."""
        from boards.common.fs import mount_files

        dev = self.flash() if device is None else device
        return mount_files(dev, self.config["flash"]["fiscal"], path, format_if_needed)

    def ota_fs(self, path=None, format_if_needed=True, device=None):
        """Mount the OTA area (``flash.ota``) and return its ``Files``: what
        ``firmware.ota.Ota`` takes.  ValueError on a board without one."""
        from boards.common.fs import area_spec, mount_files

        spec = area_spec(self.config, "ota")
        dev = self.ota_flash() if device is None else device
        return mount_files(dev, spec, path, format_if_needed)

    def deinit(self):
        for key in sorted(self._open):
            obj = self._open[key]
            if hasattr(obj, "deinit"):
                obj.deinit()
        self._open = {}
