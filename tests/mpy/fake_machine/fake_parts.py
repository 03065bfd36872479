# Simulated parts for the fake buses: a W25Q-class SPI NOR flash and a
# TCA8418 keypad scanner, strict enough that a driver that skips a step
# (write enable, busy wait, FIFO handling) is caught.
import machine


class FakeW25Q:
    def __init__(self, spi_id, cs_id, capacity_code=0x16, busy_polls=2, maker=0xEF):
        self.size = 1 << capacity_code
        self.capacity_code = capacity_code
        self.maker = maker
        self.busy_polls = busy_polls
        self.sectors = {}
        self.wel = False
        self.busy = 0
        self.selected = False
        self.tx = bytearray()
        self.ops = []  # executed (op, addr) for program/erase
        self.ignored = 0  # program/erase refused: WEL not set
        self.while_busy = 0  # commands other than RDSR sent while busy
        machine.SPI.devices[spi_id] = self
        machine.Pin.watchers[cs_id] = self.cs

    def byte(self, a):
        s = self.sectors.get(a // 4096)
        return 0xFF if s is None else s[a % 4096]

    def cs(self, level):
        if level == 0:
            self.selected = True
            self.tx = bytearray()
        elif self.selected:
            self.selected = False
            if self.tx:
                self._execute()

    def xfer(self, out):
        if not self.selected:
            return b"\xff" * len(out)
        start = len(self.tx)
        self.tx.extend(out)
        if start == 0 and self.busy and self.tx[0] != 0x05:
            self.while_busy += 1
        resp = bytearray(len(out))
        for i in range(len(out)):
            resp[i] = self._miso(start + i)
        return bytes(resp)

    def _addr(self):
        return (self.tx[1] << 16) | (self.tx[2] << 8) | self.tx[3]

    def _miso(self, pos):
        op = self.tx[0]
        if op == 0x9F and 1 <= pos <= 3:
            return (self.maker, 0x40, self.capacity_code)[pos - 1]
        if op == 0x05 and pos >= 1:
            st = (1 if self.busy else 0) | (2 if self.wel else 0)
            if self.busy:
                self.busy -= 1
            return st
        if op == 0x03 and pos >= 4 and len(self.tx) >= 4:
            return self.byte((self._addr() + pos - 4) % self.size)
        return 0xFF

    def _execute(self):
        op = self.tx[0]
        if op == 0x06:
            self.wel = True
        elif op == 0x04:
            self.wel = False
        elif op in (0x02, 0x20):
            if not self.wel or len(self.tx) < 4:
                self.ignored += 1
                return
            addr = self._addr()
            if op == 0x02:
                page = addr & ~0xFF
                for i in range(len(self.tx) - 4):
                    a = page | ((addr + i) & 0xFF)  # wraps inside the page
                    s = self.sectors.get(a // 4096)
                    if s is None:
                        s = bytearray(b"\xff" * 4096)
                        self.sectors[a // 4096] = s
                    s[a % 4096] &= self.tx[4 + i]
            else:
                self.sectors.pop(addr // 4096, None)
            self.ops.append((op, addr))
            self.wel = False
            self.busy = self.busy_polls


class FakeTca8418:
    def __init__(self, addr=0x34):
        self.regs = {}
        self.fifo = []
        self.writes = []
        machine.I2C.devices[addr] = self

    def press(self, row, col, down=True):
        self.fifo.append((0x80 if down else 0) | (row * 10 + col + 1))

    def mem_write(self, reg, data):
        self.writes.append((reg, data))
        if reg == 0x02:
            self.regs[reg] = self.regs.get(reg, 0) & ~data[0]
        else:
            self.regs[reg] = data[0]

    def mem_read(self, reg, n):
        if reg == 0x03:
            return bytes([len(self.fifo) & 0x0F])
        if reg == 0x04:
            return bytes([self.fifo.pop(0) if self.fifo else 0])
        return bytes([self.regs.get(reg, 0)])
