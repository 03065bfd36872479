"""Flash for the sim board: a file-backed block device and a power-cut wrapper.

Both implement MicroPython's block device protocol (the extended interface
that littlefs uses):

- ``readblocks(block_num, buf, offset=0)``
- ``writeblocks(block_num, buf, offset=None)`` -- with ``offset`` given this
  is a *program* of part of an already-erased block (NOR flash semantics);
  without it, whole blocks are written (the simple interface)
- ``ioctl(op, arg)``: 1 init, 2 deinit, 3 sync, 4 block count, 5 block size,
  6 erase block ``arg``

The file keeps the whole medium, ``block_size * block_count`` bytes; erased
bytes are 0xFF.  A program only clears bits (``new = old & data``) like NOR
flash, so a driver that forgets to erase is caught here as it would be on a
chip.

``PowerCutDevice`` wraps any block device and "cuts power" at write number N
(programs and erases both count): that operation and every later operation
raise ``PowerCut`` and nothing more reaches the medium (optionally the first
``torn`` bytes of the cut program do, as in a torn page write).  A test then
throws the mounted filesystem away, opens the file again with a fresh
``FileBlockDevice`` and mounts it: whatever survived is on the medium.
"""

import os

from boards.common.fs import mkfs, mount  # noqa: F401 (re-exported)

IOCTL_INIT = 1
IOCTL_DEINIT = 2
IOCTL_SYNC = 3
IOCTL_BLOCK_COUNT = 4
IOCTL_BLOCK_SIZE = 5
IOCTL_ERASE = 6

ERASED = 0xFF


class PowerCut(OSError):
    """The simulated supply failed: the block device accepts nothing more."""


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class FileBlockDevice:
    """A flash medium kept in a host file (created erased if missing)."""

    def __init__(self, path, block_size=4096, block_count=64, nor=True):
        if block_size <= 0 or block_size % 16:
            raise ValueError("block_size must be a positive multiple of 16")
        if block_count < 2:
            raise ValueError("block_count must be at least 2")
        self.path = path
        self.block_size = block_size
        self.block_count = block_count
        self.nor = nor
        self.reads = 0
        self.programs = 0
        self.erases = 0
        size = block_size * block_count
        if not _exists(path):
            with open(path, "wb") as f:
                chunk = bytes([ERASED]) * block_size
                for _ in range(block_count):
                    f.write(chunk)
        elif os.stat(path)[6] != size:
            raise ValueError("%s: size %d, expected %d" % (path, os.stat(path)[6], size))
        self._f = open(path, "r+b")  # noqa: SIM115 (held open for the device's life)
        self._scratch = bytearray(min(block_size, 512))

    def _check(self, block_num, offset, length):
        if block_num < 0 or offset < 0:
            raise OSError(22)  # EINVAL
        end = block_num * self.block_size + offset + length
        if end > self.block_size * self.block_count:
            raise OSError(22)
        return block_num * self.block_size + offset

    def readblocks(self, block_num, buf, offset=0):
        pos = self._check(block_num, offset, len(buf))
        self.reads += 1
        self._f.seek(pos)
        got = self._f.readinto(buf)
        if got != len(buf):
            raise OSError(5)  # EIO: the file is shorter than the medium

    def writeblocks(self, block_num, buf, offset=None):
        if offset is None:
            # Simple interface: whole blocks, erased first.
            if len(buf) % self.block_size:
                raise OSError(22)
            for i in range(len(buf) // self.block_size):
                self._erase(block_num + i)
            offset = 0
        pos = self._check(block_num, offset, len(buf))
        self.programs += 1
        if self.nor:
            self._program_nor(pos, buf)
        else:
            self._f.seek(pos)
            self._f.write(buf)

    def _program_nor(self, pos, buf):
        mv = memoryview(buf)
        step = len(self._scratch)
        done = 0
        while done < len(buf):
            n = min(step, len(buf) - done)
            old = memoryview(self._scratch)[:n]
            self._f.seek(pos + done)
            self._f.readinto(old)
            for i in range(n):
                old[i] &= mv[done + i]
            self._f.seek(pos + done)
            self._f.write(old)
            done += n

    def _erase(self, block_num):
        pos = self._check(block_num, 0, self.block_size)
        self.erases += 1
        self._f.seek(pos)
        chunk = bytes([ERASED]) * len(self._scratch)
        left = self.block_size
        while left:
            n = min(left, len(chunk))
            self._f.write(chunk if n == len(chunk) else chunk[:n])
            left -= n

    def ioctl(self, op, arg):
        if op == IOCTL_BLOCK_COUNT:
            return self.block_count
        if op == IOCTL_BLOCK_SIZE:
            return self.block_size
        if op == IOCTL_ERASE:
            self._erase(arg)
            return 0
        if op == IOCTL_SYNC:
            self._f.flush()
            return 0
        if op in (IOCTL_INIT, IOCTL_DEINIT):
            if op == IOCTL_DEINIT:
                self._f.flush()
            return 0
        return None

    def close(self):
        if self._f is not None:
            self._f.flush()
            self._f.close()
            self._f = None


class PowerCutDevice:
    """Wraps a block device; the supply fails at write operation ``cut_at``.

    Write operations (programs and erases) are numbered from 1.  Operations
    1 .. cut_at-1 reach the wrapped device; operation ``cut_at`` raises
    ``PowerCut`` after letting its first ``torn`` bytes through (a program
    only; an erase is all or nothing), and so does every operation after it,
    reads included.  ``cut_at=None`` never cuts (useful to count the writes
    a sequence needs).
    """

    def __init__(self, dev, cut_at=None, torn=0):
        self.dev = dev
        self.cut_at = cut_at
        self.torn = torn
        self.writes = 0
        self.dead = False
        # Raised as one pre-built instance: littlefs may also write from a
        # file finaliser, while the GC heap is locked and nothing can be
        # allocated (a fresh exception would turn into MemoryError).
        self._cut = PowerCut(5)

    def _next_write(self):
        if self.dead:
            raise self._cut
        self.writes += 1
        if self.cut_at is not None and self.writes >= self.cut_at:
            self.dead = True
            return False
        return True

    def readblocks(self, block_num, buf, offset=0):
        if self.dead:
            raise self._cut
        self.dev.readblocks(block_num, buf, offset)

    def writeblocks(self, block_num, buf, offset=None):
        if self._next_write():
            self.dev.writeblocks(block_num, buf, offset)
            return
        if self.torn and offset is not None:
            self.dev.writeblocks(block_num, memoryview(buf)[: min(self.torn, len(buf))], offset)
        self.dev.ioctl(IOCTL_SYNC, 0)
        raise self._cut

    def ioctl(self, op, arg):
        if op == IOCTL_ERASE:
            if self._next_write():
                return self.dev.ioctl(op, arg)
            self.dev.ioctl(IOCTL_SYNC, 0)
            raise self._cut
        # (no tuple here: this may run with the GC heap locked)
        if self.dead and (op == IOCTL_SYNC or op == IOCTL_INIT or op == IOCTL_DEINIT):  # noqa: SIM109
            raise self._cut
        return self.dev.ioctl(op, arg)
