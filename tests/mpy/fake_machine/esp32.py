# Stand-in for the esp32 port's `esp32` module: Partition as a block device
# over sparse RAM with NOR semantics (program ANDs, erase sets 0xFF), like
# esp_partition_write/erase_range behind the real esp32.Partition.
# TABLE maps a data partition label to its size in 4 KiB blocks.

TABLE = {}
_STORE = {}


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, label):
        self.label = label
        self.blocks = TABLE[label]
        self.mem = _STORE.setdefault(label, {})

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None):
        if type != Partition.TYPE_DATA or label not in TABLE:
            return []
        return [Partition(label)]

    def info(self):
        return (Partition.TYPE_DATA, 0x81, 0, self.blocks * 4096, self.label, False)

    def _byte(self, a):
        blk = self.mem.get(a // 4096)
        return 0xFF if blk is None else blk[a % 4096]

    def readblocks(self, n, buf, off=0):
        base = n * 4096 + off
        if base + len(buf) > self.blocks * 4096:
            raise OSError(22)
        for i in range(len(buf)):
            buf[i] = self._byte(base + i)

    def writeblocks(self, n, buf, off=None):
        if off is None:
            for i in range(len(buf) // 4096):
                self.ioctl(6, n + i)
            off = 0
        base = n * 4096 + off
        if base + len(buf) > self.blocks * 4096:
            raise OSError(22)
        for i in range(len(buf)):
            a = base + i
            blk = self.mem.get(a // 4096)
            if blk is None:
                blk = bytearray(b"\xff" * 4096)
                self.mem[a // 4096] = blk
            blk[a % 4096] &= buf[i]

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return 4096
        if op == 6:
            self.mem.pop(arg, None)
            return 0
        return 0
