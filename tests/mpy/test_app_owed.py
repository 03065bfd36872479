# firmware/app/owed.py and the Batch's owed queues under MicroPython, with a
# fake secure element (a reversible seal that checks its purpose and a tag)
# and a dict-backed Files: every owed message in a sealed file of its own
# until the host answers it; what a restart finds; a file that does not
# unseal is kept and reported, never sent.
from mpyunit import eq

from firmware.app.batch import Batch
from firmware.app.owed import PURPOSE, OwedStore


class FakeFile:
    def __init__(self, files, name, mode):
        self.files = files
        self.name = name
        self.mode = mode
        self.buf = bytearray() if "w" in mode else bytearray(files[name])

    def write(self, data):
        self.buf.extend(data)

    def read(self):
        return bytes(self.buf)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if "w" in self.mode:
            self.files[self.name] = bytes(self.buf)


class DictFiles:
    def __init__(self):
        self.files = {}
        self.writes = 0

    def open(self, name, mode="rb"):
        if "w" in mode:
            self.writes += 1
        elif name not in self.files:
            raise OSError(2)
        return FakeFile(self.files, name, mode)

    def rename(self, old, new):
        self.files[new] = self.files.pop(old)

    def remove(self, name):
        if name not in self.files:
            raise OSError(2)
        del self.files[name]

    def listdir(self):
        return list(self.files)


class FakeSe:
    """wrap: purpose | data xor 0x5A | 2-byte sum; unwrap checks both."""

    def __init__(self, key=0x5A):
        self.key = key

    def wrap(self, purpose, data):
        body = bytes([purpose]) + bytes(b ^ self.key for b in data)
        return body + bytes(((sum(body) >> 8) & 0xFF, sum(body) & 0xFF))

    def unwrap(self, purpose, blob):
        body = blob[:-2]
        if blob[-2:] != bytes(((sum(body) >> 8) & 0xFF, sum(body) & 0xFF)) or body[0] != purpose:
            raise ValueError("does not unseal")
        return bytes(b ^ self.key for b in body[1:])


PAN = "4761739001010010"


def reversal(stan):
    icc = b"\x9f\x26\x08" + b"\x11" * 8
    return {"t": "0400", "2": PAN, "4": "000000030000", "11": stan, "55": icc}


def test_owed_messages_live_sealed_until_answered():
    fs = DictFiles()
    b = Batch(1, OwedStore(fs, FakeSe()))
    eq(b.next_stan(), "000001")
    eq(fs.files["stan"], b"1")
    b.owe("reversals", reversal("000002"))
    b.owe("advices", {"t": "0220", "2": PAN, "11": "000003", "38": "Y1    "})
    eq(sorted(fs.files), ["a000003", "r000002", "stan"])
    for name in ("a000003", "r000002"):
        assert PAN.encode() not in fs.files[name], "the PAN is never on the flash in clear"
        eq(fs.files[name][2], PURPOSE)  # after the piece's length
    b.retry("reversals", b.reversals[0])  # no answer: the next try is a repeat
    eq(b.reversals[0]["t"], "0401")
    b.answered("reversals")
    eq(sorted(fs.files), ["a000003", "stan"])
    b.withdraw("advices", b.advices[0])
    eq(sorted(fs.files), ["stan"])


def test_a_restart_finds_what_was_owed_in_order_with_the_repeat_and_the_counter():
    fs = DictFiles()
    se = FakeSe()
    b = Batch(1, OwedStore(fs, se))
    for _ in range(7):
        b.next_stan()
    b.owe("reversals", reversal("000007"))
    b.owe("reversals", reversal("000005"))
    b.retry("reversals", b.reversals[0])
    b.owe("advices", {"t": "0220", "2": PAN, "11": "000006", "38": "Y1    "})
    fs.files["r000009.tmp"] = b"half a write"  # the cut came during a write
    again = Batch(1, OwedStore(fs, se))
    eq(again.next_stan(), "000008", "the counter goes on")
    eq([m["11"] for m in again.reversals], ["000005", "000007"])
    eq([m["t"] for m in again.reversals], ["0400", "0401"])
    eq(again.reversals[1]["55"], b"\x9f\x26\x08" + b"\x11" * 8)
    eq(again.reversals[1]["2"], PAN)
    eq([m["11"] for m in again.advices], ["000006"])
    assert "r000009.tmp" not in fs.files


def test_a_file_that_does_not_unseal_is_kept_and_reported_never_sent():
    fs = DictFiles()
    b = Batch(1, OwedStore(fs, FakeSe()))
    b.owe("reversals", reversal("000001"))
    b.owe("reversals", reversal("000002"))
    blob = bytearray(fs.files["r000001"])
    blob[7] ^= 1
    fs.files["r000001"] = bytes(blob)
    store = OwedStore(fs, FakeSe())
    again = Batch(1, store)
    eq([m["11"] for m in again.reversals], ["000002"])
    eq(store.unreadable, ["r000001"])
    assert "r000001" in fs.files
    other = OwedStore(fs, FakeSe(key=0x33))  # another secure element
    eq(Batch(1, other).reversals, [])
    eq(sorted(other.unreadable), ["r000001", "r000002"])


def test_a_message_larger_than_one_seal_goes_in_pieces():
    fs = DictFiles()
    se = FakeSe()
    b = Batch(1, OwedStore(fs, se))
    big = reversal("000004")
    big["55"] = bytes(range(256)) * 3  # 768 bytes: 1.5 KB of hex in the JSON
    b.owe("reversals", big)
    sealed = fs.files["r000004"]
    n = (sealed[0] << 8) | sealed[1]
    assert 2 + n < len(sealed), "more than one piece"
    again = Batch(1, OwedStore(fs, se))
    eq(again.reversals[0]["55"], big["55"])
    fs.files["r000004"] = sealed[:-3]  # cut short
    store = OwedStore(fs, se)
    eq(Batch(1, store).reversals, [])
    eq(store.unreadable, ["r000004"])
