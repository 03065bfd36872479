# Representative fiscal sequences run under MicroPython by CPython tests
# (tests/test_fiscal_verify.py, tests/test_fiscal_powercut.py) and the
# benchmark.  Each append prints "ACK <seq>" once it has returned.
import os

from pipe_signer import PipeSigner

from boards.sim.flash import FileBlockDevice, PowerCut, PowerCutDevice, mkfs, mount
from firmware.fiscal.journal import Journal
from protocols import fiscal_record as fr

MP = "/fisc"
ROOT = MP + "/fiscal"
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
    Journal.format(ROOT, dev_id, T0)
    os.umount(MP)
    d.close()


def open_journal(path, signer, now, cut_at=None, torn=0, bs=BS, count=COUNT):
    d = FileBlockDevice(path, bs, count)
    dev = PowerCutDevice(d, cut_at=cut_at, torn=torn)
    mount(dev, MP)
    return d, dev, Journal.open(ROOT, signer, now)


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


def powercut_run(image, cut_at, torn):
    s = PipeSigner()
    d, dev, j = open_journal(image, s, T0, cut_at, torn)
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


def check_after_cut(image, export):
    s = PipeSigner()
    d, _dev, j = open_journal(image, s, T0 + 1000)
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
