"""HAL of the sim board (MicroPython unix port).

Every bus of boards/sim/board.json becomes a loopback TCP client to a
peripheral emulator; the fiscal flash is littlefs on a file; the clock is the
host clock.  Buses are opened lazily, on first request, and cached.

Where each bus connects, first match wins:
  1. ``Board(cfg, endpoints={"uart1": "127.0.0.1:40001", ...})``
  2. environment ``PAYTERM_SIM_<BUS>`` (``PAYTERM_SIM_UART1=127.0.0.1:40001``)
  3. ``endpoint`` in board.json
A UART endpoint written ``listen:host:port`` makes the board listen there
instead (the service port: pyserial ``socket://host:port`` connects to it).
The status channel (buzzer/LEDs) may be set to ``"none"``: then it is only
logged on the board object.  Fiscal flash image: ``flash_path=`` or
``PAYTERM_SIM_FLASH`` or ``fiscal.img`` in the working directory; OTA area
image: ``ota_path=`` or ``PAYTERM_SIM_OTA`` or ``ota.img``.  Clock:
``clock_start=`` or ``PAYTERM_SIM_CLOCK`` (epoch seconds) or the host clock.
"""

import os

from boards.sim.channel import DisplayChannel, KeypadChannel, StatusChannel
from boards.sim.i2c import TcpI2C
from boards.sim.net import is_listen, parse_endpoint
from boards.sim.rtc import Rtc
from boards.sim.uart import ListeningUart, TcpUart


class Board:
    def __init__(
        self,
        config,
        endpoints=None,
        flash_path=None,
        clock_start=None,
        connect_timeout_ms=5000,
        ota_path=None,
    ):
        self.config = config
        self.name = config["name"]
        self._endpoints = endpoints or {}
        self._flash_path = flash_path
        self._ota_path = ota_path
        self._connect_timeout_ms = connect_timeout_ms
        self._open = {}
        if clock_start is None:
            env = os.getenv("PAYTERM_SIM_CLOCK")
            clock_start = int(env) if env else None
        self._rtc = Rtc(clock_start)
        self._flash = None
        self._ota_flash = None

    # -- where things are --------------------------------------------------
    def endpoint_text(self, bus_name):
        """The endpoint string of a bus as configured (override, env, data)."""
        if bus_name not in self.config["buses"]:
            raise ValueError("no bus %r on board %s" % (bus_name, self.name))
        if bus_name in self._endpoints:
            text = self._endpoints[bus_name]
        else:
            text = os.getenv("PAYTERM_SIM_" + bus_name.upper())
            if not text:
                text = self.config["buses"][bus_name].get("endpoint")
        return text

    def endpoint(self, bus_name):
        """(host, port) of a bus, or None for a log-only status channel."""
        text = self.endpoint_text(bus_name)
        if text is None or text == "none":
            return None
        return parse_endpoint(text)

    def device(self, role):
        devices = self.config["devices"]
        if role not in devices:
            raise ValueError("no device %r on board %s" % (role, self.name))
        return devices[role]

    # -- buses ---------------------------------------------------------------
    def bus(self, bus_name):
        """The bus object for ``bus_name`` (opened on first use)."""
        if bus_name in self._open:
            return self._open[bus_name]
        spec = self.config["buses"].get(bus_name)
        if spec is None:
            raise ValueError("no bus %r on board %s" % (bus_name, self.name))
        kind = spec["kind"]
        if kind == "uart":
            obj = self._uart(bus_name, spec)
        elif kind == "net":
            # A network peer is a byte stream like a UART: same object, longer
            # first-byte timeout (a host may take seconds to answer).
            ep = self._required(bus_name)
            obj = TcpUart(
                ep[0],
                ep[1],
                timeout=spec.get("timeout_ms", 30000),
                timeout_char=spec.get("timeout_char_ms", 1000),
                rxbuf=spec.get("rxbuf", 4096),
                connect_timeout_ms=self._connect_timeout_ms,
                name=bus_name,
            )
        elif kind == "i2c":
            ep = self._required(bus_name)
            obj = TcpI2C(
                ep[0],
                ep[1],
                spec.get("id", 0),
                spec["freq"],
                connect_timeout_ms=self._connect_timeout_ms,
            )
        else:
            raise ValueError(
                "bus %s is a %s channel: use display()/keypad()/status()" % (bus_name, kind)
            )
        self._open[bus_name] = obj
        return obj

    def _required(self, bus_name):
        ep = self.endpoint(bus_name)
        if ep is None:
            raise ValueError("bus %s has no endpoint" % bus_name)
        return ep

    def _uart(self, bus_name, spec):
        ep = self._required(bus_name)
        kw = {
            "uart_id": spec.get("id", 0),
            "baudrate": spec["baudrate"],
            "bits": spec.get("bits", 8),
            "parity": spec.get("parity"),
            "stop": spec.get("stop", 1),
            "timeout": spec.get("timeout_ms", 0),
            "timeout_char": spec.get("timeout_char_ms", 2),
            "rxbuf": spec.get("rxbuf", 1024),
            "name": bus_name,
        }
        if is_listen(self.endpoint_text(bus_name)):
            return ListeningUart(ep[0], ep[1], **kw)
        return TcpUart(ep[0], ep[1], connect_timeout_ms=self._connect_timeout_ms, **kw)

    def bus_for(self, role):
        """The bus the driver of device ``role`` receives ("nfc" -> uart1)."""
        dev = self.device(role)
        if dev.get("bus") is None:
            raise ValueError("device %s has no bus" % role)
        kind = self.config["buses"][dev["bus"]]["kind"]
        if kind == "channel":
            return {"display": self.display, "keypad": self.keypad}.get(role, self.status)()
        return self.bus(dev["bus"])

    def uart(self, bus_name):
        return self.bus(bus_name)

    def i2c(self, bus_name):
        return self.bus(bus_name)

    # -- human interface -----------------------------------------------------
    def display(self):
        """The panel: ``push(x, y, w, h, buf)``, ``backlight(level)``,
        ``width``, ``height``, ``format`` (a framebuf format name)."""
        if "display" not in self._open:
            dev = self.device("display")
            ep = self._required(dev["bus"])
            self._open["display"] = DisplayChannel(
                ep[0], ep[1], dev["width"], dev["height"], dev["format"], self.name
            )
        return self._open["display"]

    def keypad(self):
        """``read_key(timeout_ms) -> key name or None``."""
        if "keypad" not in self._open:
            dev = self.device("keypad")
            ep = self._required(dev["bus"])
            self._open["keypad"] = KeypadChannel(ep[0], ep[1], dev["keys"], self.name)
        return self._open["keypad"]

    def status(self):
        """Buzzer and LEDs: ``beep(freq_hz, duration_ms)``, ``led(name, on)``."""
        if "status" not in self._open:
            dev = self.device("leds")
            ep = self.endpoint(dev["bus"])
            host, port = (ep[0], ep[1]) if ep is not None else (None, 0)
            self._open["status"] = StatusChannel(host, port, dev["names"], self.name)
        return self._open["status"]

    def dialer(self, role):
        """A connection opener for the device ``role`` on a ``net`` bus
        (``tax``, ``tsm``): each call a new stream (boards/sim/net.py
        ``Dialer``), for request/response protocols such as HTTP."""
        from boards.sim.net import Dialer

        return Dialer(self, self.device(role)["bus"])

    def rtc(self):
        return self._rtc

    # -- flash: the fiscal memory and the OTA area ------------------------------
    # (fs and flash modules are imported on first use: the payment app opens
    # the board and never mounts, so their bytecode stays out of its heap)
    def _image(self, area, given):
        if given is not None:
            return given
        from boards.common.fs import area_spec

        spec = area_spec(self.config, area)
        env = spec.get("env")
        return (os.getenv(env) if env else None) or spec["image"]

    def flash_path(self):
        return self._image("fiscal", self._flash_path)

    def ota_path(self):
        return self._image("ota", self._ota_path)

    def _file_device(self, area, path):
        from boards.common.fs import area_spec
        from boards.sim.flash import FileBlockDevice

        spec = area_spec(self.config, area)
        return FileBlockDevice(path, spec["block_size"], spec["block_count"])

    def flash(self):
        """The fiscal flash block device (file-backed, created erased)."""
        if self._flash is None:
            self._flash = self._file_device("fiscal", self.flash_path())
        return self._flash

    def ota_flash(self):
        """The OTA area's block device (its own file, created erased)."""
        if self._ota_flash is None:
            self._ota_flash = self._file_device("ota", self.ota_path())
        return self._ota_flash

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
        ``firmware.ota.Ota`` takes."""
        from boards.common.fs import area_spec, mount_files

        spec = area_spec(self.config, "ota")
        dev = self.ota_flash() if device is None else device
        return mount_files(dev, spec, path, format_if_needed)

    def deinit(self):
        for key in sorted(self._open):
            self._open[key].deinit()
        self._open = {}
        if self._flash is not None:
            self._flash.close()
            self._flash = None
        if self._ota_flash is not None:
            self._ota_flash.close()
            self._ota_flash = None
