# A recording stand-in for MicroPython's `machine`, for importing and
# exercising the physical boards' HALs on the unix port (whose own `machine`
# has no UART/I2C/SPI).  Put this folder first on sys.path.
#
# CREATED: (class name, args, kwargs) of every constructor call, in order.
# EVENTS:  ("Pin", id, value) on each pin level change, ("SPI", id, bytes)
#          on each SPI write, ("UART", id, bytes) on each UART write.
# Devices: I2C.devices[addr] (mem_write/mem_read/write/read) and
#          SPI.devices[id] (xfer(mosi) -> miso) simulate the parts on a bus;
#          Pin.watchers[id] is called with the new level (e.g. a chip select).

CREATED = []
EVENTS = []
FAKE = True
_RECORD = [True]


def record(on):
    # Long flash runs switch the event log off to stay inside the heap cap.
    _RECORD[0] = bool(on)


def _event(ev):
    if _RECORD[0]:
        EVENTS.append(ev)


def reset():
    _RECORD[0] = True
    CREATED.clear()
    EVENTS.clear()
    I2C.devices.clear()
    SPI.devices.clear()
    Pin.watchers.clear()


def created(kind):
    return [(a, k) for (n, a, k) in CREATED if n == kind]


class Pin:
    IN = 1
    OUT = 2
    OPEN_DRAIN = 3
    PULL_UP = 1
    PULL_DOWN = 2
    watchers = {}  # noqa: RUF012

    def __init__(self, pin_id, mode=-1, pull=-1, value=None):
        self.id = pin_id
        self.mode = mode
        self.pull = pull
        self._v = 0
        kw = {} if value is None else {"value": value}
        CREATED.append(("Pin", (pin_id, mode, pull), kw))
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return self._v
        self._v = 1 if v else 0
        _event(("Pin", self.id, self._v))
        w = Pin.watchers.get(self.id)
        if w is not None:
            w(self._v)
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def __eq__(self, other):
        return isinstance(other, Pin) and other.id == self.id

    def __repr__(self):
        return "Pin(%r)" % (self.id,)


class UART:
    def __init__(self, uart_id, **kw):
        self.id = uart_id
        self.kw = kw
        CREATED.append(("UART", (uart_id,), kw))

    def write(self, buf):
        _event(("UART", self.id, bytes(buf)))
        return len(buf)

    def read(self, n=None):
        return None

    def any(self):
        return 0

    def deinit(self):
        _event(("UART", self.id, "deinit"))


class I2C:
    devices = {}  # noqa: RUF012

    def __init__(self, bus_id, **kw):
        self.id = bus_id
        self.kw = kw
        CREATED.append(("I2C", (bus_id,), kw))

    def _dev(self, addr):
        dev = I2C.devices.get(addr)
        if dev is None:
            raise OSError(19)  # ENODEV: address NACK, as the esp32 port reports
        return dev

    def writeto_mem(self, addr, reg, buf, addrsize=8):
        self._dev(addr).mem_write(reg, bytes(buf))

    def readfrom_mem(self, addr, reg, n, addrsize=8):
        return self._dev(addr).mem_read(reg, n)

    def writeto(self, addr, buf, stop=True):
        self._dev(addr).write(bytes(buf))
        return len(buf)

    def readfrom(self, addr, n, stop=True):
        return self._dev(addr).read(n)

    def scan(self):
        return sorted(I2C.devices)


class SPI:
    devices = {}  # noqa: RUF012

    def __init__(self, bus_id, **kw):
        self.id = bus_id
        self.kw = kw
        CREATED.append(("SPI", (bus_id,), kw))

    def _xfer(self, out):
        dev = SPI.devices.get(self.id)
        if dev is None:
            return b"\xff" * len(out)
        return dev.xfer(bytes(out))

    def write(self, buf):
        _event(("SPI", self.id, bytes(buf)))
        self._xfer(buf)

    def read(self, n, write=0x00):
        return self._xfer(bytes([write]) * n)

    def readinto(self, buf, write=0x00):
        data = self._xfer(bytes([write]) * len(buf))
        for i in range(len(buf)):
            buf[i] = data[i]

    def write_readinto(self, out, into):
        data = self._xfer(out)
        for i in range(len(into)):
            into[i] = data[i]

    def deinit(self):
        _event(("SPI", self.id, "deinit"))


class PWM:
    def __init__(self, pin, freq=0, duty_u16=0):
        self.pin = pin
        self._freq = freq
        self._duty = duty_u16
        CREATED.append(("PWM", (pin.id,), {"freq": freq, "duty_u16": duty_u16}))

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f
        _event(("PWM", self.pin.id, "freq", f))
        return None

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        self._duty = d
        _event(("PWM", self.pin.id, "duty", d))
        return None

    def deinit(self):
        _event(("PWM", self.pin.id, "deinit"))


class RTC:
    def __init__(self):
        CREATED.append(("RTC", (), {}))
        self._dt = (2000, 1, 1, 5, 0, 0, 0, 0)

    def datetime(self, dt=None):
        if dt is None:
            return self._dt
        self._dt = tuple(dt)
        return None
