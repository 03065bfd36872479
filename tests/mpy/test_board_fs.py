# boards.common.fs.Files under real MicroPython: littlefs on a RAM block
# device (every call, names relative to the root, nothing outside it), and
# the sim board's fiscal_fs()/ota_fs() on their file-backed images.
import os

from mpyunit import eq, raises

from boards.common.fs import Files, mkfs, mount

MP = "/fsunit"


class RamBlockDevice:
    """Extended block-device protocol over a bytearray, NOR semantics
    (a program ANDs, erase sets 0xFF), counting programs and erases."""

    def __init__(self, block_size=512, block_count=64):
        self.bs = block_size
        self.count = block_count
        self.mem = bytearray(b"\xff" * (block_size * block_count))
        self.programs = 0
        self.erases = 0

    def readblocks(self, n, buf, off=0):
        a = n * self.bs + off
        buf[:] = self.mem[a : a + len(buf)]

    def writeblocks(self, n, buf, off=None):
        if off is None:
            for i in range(len(buf) // self.bs):
                self.ioctl(6, n + i)
            off = 0
        a = n * self.bs + off
        self.programs += 1
        for i in range(len(buf)):
            self.mem[a + i] &= buf[i]

    def ioctl(self, op, arg):
        if op == 4:
            return self.count
        if op == 5:
            return self.bs
        if op == 6:
            a = arg * self.bs
            self.mem[a : a + self.bs] = b"\xff" * self.bs
            self.erases += 1
            return 0
        return 0


def _umount(where=MP):
    try:
        os.umount(where)
    except OSError:
        pass


def _fresh():
    dev = RamBlockDevice()
    mkfs(dev)
    mount(dev, MP)
    return dev, Files(MP, True)


def _tmp(tag):
    base = os.getenv("TMPDIR") or "/tmp"
    return "%s/payterm_%s_%s.img" % (base, tag, "".join("%02x" % b for b in os.urandom(4)))


def _rm(path):
    try:
        os.remove(path)
    except OSError:
        pass


def test_files_read_write_append_stat_list():
    _dev, fs = _fresh()
    try:
        eq(fs.root, MP, "root")
        eq(fs.path(), MP, "the root's own path")
        eq(fs.path("j/00000001"), MP + "/j/00000001", "absolute path of a name")
        eq(fs.listdir(), [], "empty filesystem")
        eq(fs.isdir(), True, "the root is a directory")
        with fs.open("state", "wb") as f:
            f.write(b"abc")
        with fs.open("state", "ab") as f:
            f.write(b"def")
        with fs.open("state") as f:  # default mode: binary read
            eq(f.read(), b"abcdef", "write then append")
        eq(fs.size("state"), 6, "size")
        eq(fs.stat("state")[6], 6, "stat tuple")
        eq((fs.exists("state"), fs.isdir("state")), (True, False), "a file")
        eq((fs.exists("nope"), fs.isdir("nope")), (False, False), "nothing")
        raises(OSError, fs.stat, "nope")
        raises(OSError, fs.open, "nope", "rb")
        fs.mkdir("j")
        eq((fs.exists("j"), fs.isdir("j")), (True, True), "a directory")
        with fs.open("j/00000001", "wb") as f:
            f.write(b"\x00\x01x")
        eq(sorted(fs.listdir()), ["j", "state"], "root listing")
        eq(fs.listdir("j"), ["00000001"], "subdirectory listing")
        raises(OSError, fs.mkdir, "j")  # EEXIST
        raises(OSError, fs.rmdir, "j")  # not empty
        fs.remove("j/00000001")
        fs.rmdir("j")
        eq(fs.exists("j"), False, "removed")
        raises(OSError, fs.remove, "j")
    finally:
        _umount()


def test_rename_replaces_atomically_the_way_the_journal_uses_it():
    _dev, fs = _fresh()
    try:
        with fs.open("state", "wb") as f:
            f.write(b"old")
        with fs.open("state.tmp", "wb") as f:
            f.write(b"new state")
        fs.rename("state.tmp", "state")
        eq(fs.listdir(), ["state"], "tmp gone, target replaced")
        with fs.open("state", "rb") as f:
            eq(f.read(), b"new state", "new content")
    finally:
        _umount()


def test_free_bytes_follows_littlefs():
    dev, fs = _fresh()
    try:
        st = fs.statvfs()
        eq((st[0], st[2]), (dev.bs, dev.count), "block size and count")
        before = fs.free_bytes()
        eq(before, st[0] * st[3], "free = bsize * bfree")
        eq(before < dev.bs * dev.count, True, "littlefs uses some blocks itself")
        with fs.open("big", "wb") as f:
            f.write(bytes(4 * dev.bs))
        eq(fs.free_bytes() <= before - 4 * dev.bs, True, "a 4-block file takes 4 blocks")
        fs.remove("big")
        eq(fs.free_bytes(), before, "space back after remove")
    finally:
        _umount()


def test_names_stay_under_the_root():
    _dev, fs = _fresh()
    try:
        fs.mkdir("ota")
        sub = fs.sub("ota")
        eq(sub.root, MP + "/ota", "sub root")
        with sub.open("boot.json", "wb") as f:
            f.write(b"{}")
        eq(fs.listdir("ota"), ["boot.json"], "sub writes inside its directory")
        for bad in ("/etc/passwd", "..", "../x", "a/../../x", "a/.."):
            raises(ValueError, fs.path, bad)
            raises(ValueError, fs.open, bad, "rb")
            raises(ValueError, sub.exists, bad)
        raises(ValueError, Files, "relative/root")
        raises(ValueError, Files, "")
        eq(Files(MP + "/").root, MP, "trailing slash dropped")
        eq(Files("/").path("x"), "/x", "root of the VFS")
        eq(sub.path("..x"), MP + "/ota/..x", "a name that only starts with dots is a name")
    finally:
        _umount()


def test_umount_only_when_mounted_by_it():
    dev = RamBlockDevice()
    mkfs(dev)
    mount(dev, MP)
    try:
        Files(MP).umount()  # not mounted by this object: nothing happens
        Files(MP).listdir()
        fs = Files(MP, True)
        fs.umount()
        fs.umount()  # once only
        raises(OSError, Files(MP).listdir)
        mount(dev, MP)  # and the medium remounts
        eq(Files(MP).listdir(), [], "still a filesystem")
    finally:
        _umount()


def test_sim_board_fiscal_fs_and_ota_fs():
    import boards

    fp = _tmp("fisc")
    op = _tmp("ota")
    try:
        board = boards.open_board("sim", flash_path=fp, ota_path=op)
        flash = board.config["flash"]
        fs = board.fiscal_fs()
        ota = board.ota_fs()
        eq((fs.root, ota.root), (flash["fiscal"]["mount"], flash["ota"]["mount"]), "mounts")
        with fs.open("z", "wb") as f:
            f.write(b"Z1")
        with ota.open("boot.json", "wb") as f:
            f.write(b'{"active": "a"}')
        eq(ota.listdir(), ["boot.json"], "two filesystems, not one")
        eq(fs.listdir(), ["z"], "fiscal holds only its own file")
        st = ota.statvfs()
        eq((st[0], st[2]), (4096, 512), "OTA area: 512 blocks of 4 KiB")
        eq(os.stat(op)[6], 2 * 1024 * 1024, "ota image 2 MiB")
        eq(os.stat(fp)[6], 1024 * 1024, "fiscal image 1 MiB")
        fs.umount()
        ota.umount()
        board.deinit()
        board = boards.open_board("sim", flash_path=fp, ota_path=op)
        fs = board.fiscal_fs(format_if_needed=False)
        ota = board.ota_fs(format_if_needed=False)
        with ota.open("boot.json") as f:
            eq(f.read(), b'{"active": "a"}', "OTA state survives a reboot")
        with fs.open("z") as f:
            eq(f.read(), b"Z1", "fiscal file survives a reboot")
        fs.umount()
        ota.umount()
        # mount_fiscal still works for its callers, on the same flash
        where = board.mount_fiscal()
        eq(os.listdir(where), ["z"], "mount_fiscal sees the same files")
        os.umount(where)
        board.deinit()
    finally:
        _umount("/fiscal")
        _umount("/ota")
        _rm(fp)
        _rm(op)
