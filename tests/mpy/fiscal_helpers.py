# Shared by the fiscal tests under MicroPython: a littlefs image on the sim
# board's file block device, and a fake signer (unit tests of the journal
# alone; the real secure element is tested end to end elsewhere).
import hashlib
import os

from boards.common.fs import Files
from boards.sim.flash import FileBlockDevice, mkfs, mount

MP = "/fisc"
ROOT = MP + "/fiscal"
FS = Files(ROOT)  # what the journal gets: its directory on the mount
DEV = "PT-SIM-0001"


def tmp(tag):
    base = os.getenv("TMPDIR") or "/tmp"
    return "%s/payterm_%s_%s.img" % (base, tag, "".join("%02x" % b for b in os.urandom(4)))


def rm(path):
    try:
        os.remove(path)
    except OSError:
        pass


def umount():
    try:
        os.umount(MP)
    except OSError:
        pass


class FakeSigner:
    """Records the digests; 'signs' with SHA-256(key | digest) twice (64
    bytes, like raw r|s); counters rise by one."""

    def __init__(self, counter=0):
        self.counter = counter
        self.digests = []
        self.fail = None

    def sign(self, digest):
        if self.fail is not None:
            raise self.fail
        self.digests.append(digest)
        self.counter += 1
        h = hashlib.sha256(b"fake-key" + digest).digest()
        return h + hashlib.sha256(h).digest(), self.counter


def new_flash(path, bs=512, count=128):
    d = FileBlockDevice(path, bs, count)
    mkfs(d)
    mount(d, MP)
    os.mkdir(ROOT)
    return d


def remount(path, bs=512, count=128):
    umount()
    d = FileBlockDevice(path, bs, count)
    mount(d, MP)
    return d


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)
