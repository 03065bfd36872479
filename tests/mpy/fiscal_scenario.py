# Representative fiscal sequences run under MicroPython by CPython tests
# (tests/test_fiscal_verify.py, tests/test_fiscal_powercut.py) and the
# benchmark.  Each append prints "ACK <seq>" once it has returned.
import os

from pipe_signer import PipeSigner

from boards.common.fs import Files
from boards.sim.flash import FileBlockDevice, PowerCut, PowerCutDevice, mkfs, mount
from firmware.fiscal.journal import Journal
from protocols import fiscal_record as fr

MP = "/fisc"
ROOT = MP + "/fiscal"
FS = Files(ROOT)  # the journal's directory on the mounted flash
T0 = 1767225600
BS = 512
COUNT = 128

BREAD = (1600, 2000, 150, 300, "bread")
MILK = (400, 1000, 90, 90, "milk")
TEA = (1600, 3000, 25, 75, "tea")


def ack(rec):
    print("ACK %d" % rec.seq)


def make_image(path, dev_id, bs=BS, count=COUNT):
    d = FileBlockDevice(path, bs, count)
    mkfs(d)
    mount(d, MP)
    os.mkdir(ROOT)
    Journal.format(FS, dev_id, T0)
    os.umount(MP)
    d.close()


def open_journal(path, signer, now, cut_at=None, torn=0, bs=BS, count=COUNT):
    d = FileBlockDevice(path, bs, count)
    dev = PowerCutDevice(d, cut_at=cut_at, torn=torn)
    mount(dev, MP)
    return d, dev, Journal.open(FS, signer, now)


def representative(j, t):
    """Several sales, a refund, a void, an X report and a Z report."""
    ack(j.event(fr.POWER_ON, t, 1, "boot"))
    ack(j.sale([BREAD, MILK], t + 10))
    ack(j.sale([TEA], t + 20, 1))
    ack(j.sale([BREAD, TEA, MILK], t + 30, 2))
    ack(j.refund([MILK], t + 40, 2))
    ack(j.event(fr.VOID, t + 50, 0, "cancelled", 0))
    ack(j.x_report(t + 60))
    ack(j.sale([TEA, TEA], t + 70))
    ack(j.z_report(t + 80))
    ack(j.sale([BREAD], t + 90))


def export_scenario(image, export, dev_id):
    make_image(image, dev_id)
    s = PipeSigner()
    d, _dev, j = open_journal(image, s, T0)
    representative(j, T0)
    ack(j.training([BREAD], T0 + 100))
    ack(j.event(fr.CONFIG_CHANGE, T0 + 110, 3, "tax rates"))
    try:
        j.sale([TEA], T0 + 120)  # the host answers ERR once here
    except Exception as e:
        print("REFUSED " + type(e).__name__)
    ack(j.sale([TEA], T0 + 130))
    ack(j.z_report(T0 + 200))
    ack(j.sale([MILK], T0 + 300))
    with open(export, "wb") as out:
        print("TRAILER %s" % j.export(out, T0 + 400))
    os.umount(MP)
    d.close()


def powercut_run(image, cut_at, torn, bs=BS, count=COUNT):
    s = PipeSigner()
    d, dev, j = open_journal(image, s, T0, cut_at, torn, bs, count)
    try:
        representative(j, T0)
        print("DONE")
    except PowerCut:
        print("CUT %d" % dev.writes)
    try:
        os.umount(MP)
    except OSError:
        pass
    d.close()
    print("WRITES %d" % dev.writes)


def check_after_cut(image, export, bs=BS, count=COUNT):
    s = PipeSigner()
    d, _dev, j = open_journal(image, s, T0 + 1000, None, 0, bs, count)
    print("SEQ %d" % j.seq)
    print("HEADER_OK %s" % j.header_ok)
    print("TORN %s" % j.dropped_tail)
    with open(export, "wb") as out:
        j.export(out, T0 + 1001)
    # the journal takes new records after the cut
    ack(j.event(fr.POWER_ON, T0 + 1002, 1, "after cut"))
    os.umount(MP)
    d.close()
    print("OK")


class _HashSigner:
    """In-process stand-in signer for the benchmark's flash-only figure."""

    def __init__(self):
        self.counter = 0

    def sign(self, digest):
        import hashlib

        self.counter += 1
        h = hashlib.sha256(digest).digest()
        return h + h, self.counter


def bench_appends(image, n, pipe, bs, count):
    import time

    d = FileBlockDevice(image, bs, count)
    mkfs(d)
    mount(d, MP)
    os.mkdir(ROOT)
    Journal.format(FS, "PT-BENCH-01", T0)
    os.umount(MP)
    d.close()
    board = None
    if pipe == "se":
        import boards
        from firmware.drivers.se import SecureElement
        from firmware.secure import SecureElementApp

        board = boards.open_board("sim")
        signer = SecureElementApp(SecureElement(board.bus_for("secure_element"), 0x60, board.rtc()))
        signer.generate_key()
    else:
        signer = PipeSigner() if pipe else _HashSigner()
    d = FileBlockDevice(image, bs, count)
    dev = PowerCutDevice(d)
    mount(dev, MP)
    j = Journal.open(FS, signer, T0, warn_free=0, reserve_free=0, min_free=0)
    w0 = dev.writes
    t0 = time.ticks_us()
    for i in range(n):
        j.sale([BREAD, MILK], T0 + i)
    t1 = time.ticks_us()
    print("APPENDS %d" % n)
    print("US %d" % time.ticks_diff(t1, t0))
    print("WRITES %d" % (dev.writes - w0))
    os.umount(MP)
    d.close()
    t3 = time.ticks_us()
    d = FileBlockDevice(image, bs, count)
    mount(d, MP)
    j = Journal.open(FS, signer, T0 + n, warn_free=0, reserve_free=0, min_free=0)
    print("OPENUS %d" % time.ticks_diff(time.ticks_us(), t3))
    t2 = time.ticks_us()
    j.z_report(T0 + n)
    print("ZUS %d" % time.ticks_diff(time.ticks_us(), t2))
    os.umount(MP)
    d.close()
    if board is not None:
        board.deinit()


def bench_capacity(image, bs, count):
    """Sales until the journal refuses them (default thresholds)."""
    d = FileBlockDevice(image, bs, count)
    mkfs(d)
    mount(d, MP)
    os.mkdir(ROOT)
    Journal.format(FS, "PT-BENCH-01", T0)
    j = Journal.open(FS, _HashSigner(), T0, z_limit_s=10**9)
    n = 0
    warned = None
    while True:
        try:
            j.sale([BREAD, MILK], T0 + n)
        except Exception as e:
            print("REFUSED %s" % e)
            break
        n += 1
        if warned is None and j.warning() is not None:
            warned = n
        if n % 1000 == 0:
            j.z_report(T0 + n)
    print("CAPACITY %d" % n)
    print("WARNED %d" % warned)
    print("FREE %d" % j.free)
    os.umount(MP)
    d.close()
