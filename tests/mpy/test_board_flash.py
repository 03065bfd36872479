# The sim board's flash under real MicroPython: littlefs (os.VfsLfs2) on the
# file-backed block device, and power cuts at every write of a sequence.
import os

from mpyunit import eq, raises

from boards.sim.flash import (
    FileBlockDevice,
    PowerCut,
    PowerCutDevice,
    mkfs,
    mount,
)

BS = 512
COUNT = 64
MP = "/fl"


def _tmp(tag):
    base = os.getenv("TMPDIR") or "/tmp"
    return "%s/payterm_%s_%s.img" % (base, tag, "".join("%02x" % b for b in os.urandom(4)))


def _rm(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _umount():
    try:
        os.umount(MP)
    except OSError:
        pass


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _write(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)


def _copy(src, dst):
    _write(dst, _read(src))


def _payload(tag, n):
    out = bytearray(n)
    for i in range(n):
        out[i] = (i * 7 + tag) & 0xFF
    return bytes(out)


def test_new_device_is_erased_and_reports_geometry():
    p = _tmp("geo")
    try:
        d = FileBlockDevice(p, BS, COUNT)
        eq(d.ioctl(4, 0), COUNT, "block count")
        eq(d.ioctl(5, 0), BS, "block size")
        eq(os.stat(p)[6], BS * COUNT, "file size")
        buf = bytearray(BS)
        d.readblocks(COUNT - 1, buf)
        eq(bytes(buf), b"\xff" * BS, "erased")
        raises(OSError, d.readblocks, COUNT, buf)
        raises(OSError, d.readblocks, COUNT - 1, buf, 1)
        d.close()
        raises(ValueError, FileBlockDevice, p, BS, COUNT * 2)
    finally:
        _rm(p)


def test_program_clears_bits_like_nor_and_erase_restores():
    p = _tmp("nor")
    try:
        d = FileBlockDevice(p, BS, COUNT)
        d.writeblocks(3, b"\xf0\x0f\xaa", 10)
        d.writeblocks(3, b"\x3c\xff\x55", 10)
        got = bytearray(3)
        d.readblocks(3, got, 10)
        eq(bytes(got), b"\x30\x0f\x00", "AND of programs")
        eq(d.ioctl(6, 3), 0, "erase ok")
        d.readblocks(3, got, 10)
        eq(bytes(got), b"\xff\xff\xff", "erased again")
        # simple interface: whole blocks, erased first
        d.writeblocks(5, b"\x12" * BS)
        d.writeblocks(5, b"\x34" * BS)
        whole = bytearray(BS)
        d.readblocks(5, whole)
        eq(bytes(whole), b"\x34" * BS, "whole-block write")
        d.close()
    finally:
        _rm(p)


def test_littlefs_format_mount_write_remount_read():
    p = _tmp("lfs")
    big = _payload(1, 3 * BS + 17)
    try:
        d = FileBlockDevice(p, BS, COUNT)
        mkfs(d)
        mount(d, MP)
        os.mkdir(MP + "/journal")
        _write(MP + "/journal/0001.rec", big)
        _write(MP + "/counters", b"z=1\n")
        _write(MP + "/counters", b"z=2\n", "ab")
        eq(sorted(os.listdir(MP)), ["counters", "journal"], "listing")
        os.umount(MP)
        d.close()
        eq(d.programs > 0 and d.erases > 0, True, "littlefs used program and erase")

        d2 = FileBlockDevice(p, BS, COUNT)
        mount(d2, MP)
        eq(_read(MP + "/journal/0001.rec"), big, "big file after remount")
        eq(_read(MP + "/counters"), b"z=1\nz=2\n", "appended file after remount")
        st = os.statvfs(MP)
        eq(st[0], BS, "fs block size")
        eq(st[2], COUNT, "fs block count")
        os.umount(MP)
        d2.close()
    finally:
        _umount()
        _rm(p)


def test_mount_unformatted_fails_unless_asked_to_format():
    p = _tmp("unf")
    try:
        d = FileBlockDevice(p, BS, COUNT)
        raises(OSError, mount, d, MP)
        mount(d, MP, format_if_needed=True)
        _write(MP + "/x", b"1")
        os.umount(MP)
        d.close()
    finally:
        _umount()
        _rm(p)


# A journal-like sequence: each step commits (closes) one file operation.
def _steps():
    return [
        ("new", "/a", _payload(2, 100)),
        ("new", "/b", _payload(3, 2 * BS + 5)),
        ("append", "/a", _payload(4, 60)),
        ("new", "/c", _payload(5, 300)),
        ("replace", "/b", _payload(6, 40)),
    ]


def _run(steps, done):
    # Apply steps on the mounted fs; record each once its close() returned.
    state = {}
    for kind, name, data in steps:
        before = state.get(name)
        if kind == "append":
            _write(MP + name, data, "ab")
            after = before + data
        else:
            _write(MP + name, data)
            after = data
        state[name] = after
        done.append((name, before, after))
    return state


def _check_survivors(done, in_flight, what):
    # Committed steps are intact; the step in flight left old or new content.
    final = {}
    for name, _before, after in done:
        final[name] = after
    names = sorted(os.listdir(MP))
    for name in sorted(final):
        eq(name[1:] in names, True, what + ": committed file " + name + " present")
        got = _read(MP + name)
        eq(
            got == final[name],
            True,
            what
            + ": committed content of %s (%d bytes, want %d)" % (name, len(got), len(final[name])),
        )
    if in_flight is not None:
        name, before, after = in_flight
        if name[1:] in names:
            got = _read(MP + name)
            ok = got == after or got == (before if before is not None else b"")
            eq(ok, True, what + ": %s holds old or new content, got %d bytes" % (name, len(got)))
    for n in names:
        eq(
            "/" + n in final or (in_flight is not None and "/" + n == in_flight[0]),
            True,
            what + ": stray " + n,
        )


def _make_base(path):
    d = FileBlockDevice(path, BS, COUNT)
    mkfs(d)
    d.close()


def _count_writes(base, work):
    _copy(base, work)
    d = FileBlockDevice(work, BS, COUNT)
    counter = PowerCutDevice(d)
    mount(counter, MP)
    _run(_steps(), [])
    os.umount(MP)
    d.close()
    return counter.writes


def _cut_sweep(torn):
    base = _tmp("base")
    work = _tmp("work")
    try:
        _make_base(base)
        total = _count_writes(base, work)
        eq(total > len(_steps()), True, "sequence needs several writes")
        cuts = 0
        for n in range(1, total + 1):
            _copy(base, work)
            d = FileBlockDevice(work, BS, COUNT)
            dev = PowerCutDevice(d, cut_at=n, torn=torn)
            done = []
            steps = _steps()
            mount(dev, MP)
            try:
                _run(steps, done)
            except PowerCut:
                cuts += 1
            _umount()
            d.close()
            eq(dev.dead, True, "cut %d happened" % n)
            in_flight = None
            if len(done) < len(steps):
                kind, name, data = steps[len(done)]
                before = None
                for dn, _b, after in done:
                    if dn == name:
                        before = after
                in_flight = (name, before, before + data if kind == "append" else data)
            # power back on: a fresh device on the same file
            d2 = FileBlockDevice(work, BS, COUNT)
            mount(d2, MP)
            _check_survivors(done, in_flight, "cut at write %d/%d torn=%d" % (n, total, torn))
            _write(MP + "/after", b"still writable")
            eq(_read(MP + "/after"), b"still writable", "writable after cut %d" % n)
            os.umount(MP)
            d2.close()
        eq(cuts, total, "every cut interrupted the sequence")
    finally:
        _umount()
        _rm(base)
        _rm(work)


def test_power_cut_at_every_write_keeps_committed_files():
    _cut_sweep(0)


def test_torn_program_at_every_write_keeps_committed_files():
    _cut_sweep(7)


def test_power_cut_device_counts_and_stays_dead():
    p = _tmp("dead")
    try:
        d = FileBlockDevice(p, BS, COUNT)
        dev = PowerCutDevice(d, cut_at=3, torn=2)
        dev.writeblocks(0, b"\x00\x00\x00\x00", 0)
        dev.ioctl(6, 1)
        raises(PowerCut, dev.writeblocks, 2, b"\x00\x00\x00\x00", 0)
        buf = bytearray(4)
        d.readblocks(2, buf, 0)
        eq(bytes(buf), b"\x00\x00\xff\xff", "only the torn prefix landed")
        raises(PowerCut, dev.readblocks, 0, buf)
        raises(PowerCut, dev.ioctl, 6, 4)
        eq(dev.writes, 3, "writes counted up to the cut")
        d.close()
    finally:
        _rm(p)


def test_sim_board_fiscal_mount_with_power_cut():
    import boards

    p = _tmp("board")
    try:
        board = boards.open_board("sim", flash_path=p)
        spec = board.config["flash"]["fiscal"]
        where = board.mount_fiscal(MP)
        _write(where + "/z0001", b"Z report 1")
        os.umount(MP)
        cut = PowerCutDevice(board.flash(), cut_at=1)
        board.mount_fiscal(MP, format_if_needed=False, device=cut)
        raises(PowerCut, _write, MP + "/z0002", b"Z report 2")
        _umount()
        board.deinit()
        board = boards.open_board("sim", flash_path=p)
        board.mount_fiscal(MP, format_if_needed=False)
        eq(_read(MP + "/z0001"), b"Z report 1", "committed report survives")
        names = os.listdir(MP)
        eq("z0002" not in names or _read(MP + "/z0002") == b"", True, "cut report absent or empty")
        eq(os.stat(p)[6], spec["block_size"] * spec["block_count"], "image size from board data")
        os.umount(MP)
        board.deinit()
    finally:
        _umount()
        _rm(p)
