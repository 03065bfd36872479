"""SPI NOR flash (Winbond W25Q-class, JEDEC commands) as a littlefs block device.

Commands used (W25Q32JV datasheet, section 8): 0x9F JEDEC ID, 0x05 read
status register 1 (bit 0 BUSY, bit 1 WEL), 0x06 write enable, 0x03 read data
(24-bit address), 0x02 page program (256-byte pages; a program must not cross
a page boundary, the chip would wrap), 0x20 sector erase (4 KiB).

Block device protocol (extended interface): 4 KiB blocks = erase sectors;
``writeblocks(n, buf, off)`` programs without erasing, ``ioctl(6, n)`` erases.
"""

import time

CMD_READ = 0x03
CMD_PAGE_PROGRAM = 0x02
CMD_SECTOR_ERASE = 0x20
CMD_WRITE_ENABLE = 0x06
CMD_READ_STATUS1 = 0x05
CMD_JEDEC_ID = 0x9F
STATUS_BUSY = 0x01
STATUS_WEL = 0x02
PAGE = 256
SECTOR = 4096
ERASE_TIMEOUT_MS = 1000  # tSE max 400 ms (W25Q32JV), with margin
PROGRAM_TIMEOUT_MS = 20  # tPP max 3 ms, with margin for tick granularity


class SpiNorFlash:
    def __init__(self, spi, cs, block_count=None, first_block=0):
        self.spi = spi
        self.cs = cs
        self.cs.value(1)
        self._cmd = bytearray(4)
        self._status = bytearray(1)
        ident = self.jedec_id()
        if ident[0] in (0x00, 0xFF):
            raise OSError(19)  # ENODEV: nothing answers on the bus
        self.manufacturer = ident[0]
        self.capacity = 1 << ident[2] if 16 <= ident[2] <= 28 else 0
        chip_blocks = self.capacity // SECTOR
        self.first_block = first_block
        self.block_count = block_count if block_count is not None else chip_blocks - first_block
        if first_block + self.block_count > chip_blocks:
            raise ValueError(
                "flash has %d sectors, board wants %d"
                % (chip_blocks, first_block + self.block_count)
            )

    def jedec_id(self):
        self.cs.value(0)
        try:
            self.spi.write(bytes([CMD_JEDEC_ID]))
            ident = self.spi.read(3, 0x00)
        finally:
            self.cs.value(1)
        return ident

    def _command(self, op, addr=None):
        c = self._cmd
        c[0] = op
        if addr is None:
            self.spi.write(memoryview(c)[:1])
        else:
            c[1] = (addr >> 16) & 0xFF
            c[2] = (addr >> 8) & 0xFF
            c[3] = addr & 0xFF
            self.spi.write(c)

    def _simple(self, op, addr=None):
        self.cs.value(0)
        try:
            self._command(op, addr)
        finally:
            self.cs.value(1)

    def status(self):
        self.cs.value(0)
        try:
            self._command(CMD_READ_STATUS1)
            self.spi.readinto(self._status, 0x00)
        finally:
            self.cs.value(1)
        return self._status[0]

    def _wait(self, timeout_ms, nap=False):
        # A page program takes well under a millisecond: poll flat out.  An
        # erase takes tens of milliseconds: poll every millisecond.
        start = time.ticks_ms()
        while self.status() & STATUS_BUSY:
            if time.ticks_diff(time.ticks_ms(), start) > timeout_ms:
                raise OSError(110)  # ETIMEDOUT
            if nap:
                time.sleep_ms(1)

    def _write_enable(self):
        self._simple(CMD_WRITE_ENABLE)
        if not self.status() & STATUS_WEL:
            raise OSError(5)  # EIO: write protected or not answering

    def _addr(self, block_num, offset, length):
        if (
            block_num < 0
            or offset < 0
            or (block_num * SECTOR + offset + length) > self.block_count * SECTOR
        ):
            raise OSError(22)
        return (self.first_block + block_num) * SECTOR + offset

    # -- block device protocol ---------------------------------------------
    def readblocks(self, block_num, buf, offset=0):
        addr = self._addr(block_num, offset, len(buf))
        self.cs.value(0)
        try:
            self._command(CMD_READ, addr)
            self.spi.readinto(buf, 0xFF)
        finally:
            self.cs.value(1)

    def writeblocks(self, block_num, buf, offset=None):
        if offset is None:
            if len(buf) % SECTOR:
                raise OSError(22)
            for i in range(len(buf) // SECTOR):
                self.erase(block_num + i)
            offset = 0
        addr = self._addr(block_num, offset, len(buf))
        mv = memoryview(buf)
        done = 0
        while done < len(buf):
            chunk = min(PAGE - ((addr + done) % PAGE), len(buf) - done)
            self._write_enable()
            self.cs.value(0)
            try:
                self._command(CMD_PAGE_PROGRAM, addr + done)
                self.spi.write(mv[done : done + chunk])
            finally:
                self.cs.value(1)
            self._wait(PROGRAM_TIMEOUT_MS)
            done += chunk

    def erase(self, block_num):
        addr = self._addr(block_num, 0, SECTOR)
        self._write_enable()
        self._simple(CMD_SECTOR_ERASE, addr)
        self._wait(ERASE_TIMEOUT_MS, True)

    def ioctl(self, op, arg):
        if op == 4:
            return self.block_count
        if op == 5:
            return SECTOR
        if op == 6:
            self.erase(arg)
            return 0
        if op in (1, 2, 3):
            return 0
        return None
