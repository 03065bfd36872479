# SecureElementApp.wrap / unwrap (DATA_WRAP 0x28, DATA_UNWRAP 0x29): the exact
# request bytes on a scripted driver and the exact frames on a fake I2C bus,
# answers of the wrong shape refused, malformed blobs refused before they are
# sent, statuses mapped to typed errors, the request buffer wiped.  Expected
# frames are written out in hex; their CRCs were computed with CPython's
# binascii.crc_hqx(data, 0xFFFF), not with our code.
from mpyunit import eq, raises

from firmware.drivers.se import SecureElement
from firmware.drivers.se.errors import SeStatusError
from firmware.secure import SeAppError, SeBadInput, SecureElementApp, SeKeyMissing, SeLocked
from firmware.secure.se_app import SeUnwrapError
from protocols import se_app as sa

STATUS_NAMES = {4: "BAD_LENGTH", 5: "BAD_PARAMETER", 6: "NOT_ALLOWED", 7: "KEY_NOT_FOUND"}


def h(text):
    return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))


class FakeDriver:
    def __init__(self, answers):
        self.answers = list(answers)
        self.sent = []
        self.buffers = []

    def request(self, cmd, payload=b""):
        self.sent.append((cmd, bytes(payload)))
        self.buffers.append(payload)
        answer = self.answers.pop(0)
        if isinstance(answer, int):
            raise SeStatusError(answer, STATUS_NAMES[answer], b"")
        return answer


def blob_of(data, nonce=bytes(range(12)), tag=b"T" * 16):
    return b"\x01" + nonce + data + tag


def status_body(locked):
    return bytes((1 if locked else 0, 0, 0, 0, 0, 0, 0, 0))


def test_constants_fit_one_frame():
    eq((sa.CMD_DATA_WRAP, sa.CMD_DATA_UNWRAP), (0x28, 0x29))
    eq(sa.WRAP_OVERHEAD, 29)
    # the longest request, DATA_UNWRAP of a MAX_WRAP blob, fills a frame exactly
    eq(1 + sa.WRAP_OVERHEAD + sa.MAX_WRAP, 1024)


def test_wrap_request_and_answer():
    blob = blob_of(b"\xaa" * 5)
    d = FakeDriver([blob])
    data = bytearray(b"\x01\x02\x03\x04\x05")
    eq(SecureElementApp(d).wrap(7, data), blob)
    eq(d.sent, [(0x28, b"\x07\x01\x02\x03\x04\x05")])
    eq(d.buffers[0], bytearray(6))  # the request buffer was wiped
    eq(data, bytearray(b"\x01\x02\x03\x04\x05"))  # the caller's data is the caller's


def test_wrap_refuses_bad_arguments_without_sending():
    d = FakeDriver([])
    app = SecureElementApp(d)
    raises(ValueError, app.wrap, 0, b"")
    raises(ValueError, app.wrap, 0, bytes(sa.MAX_WRAP + 1))
    raises(ValueError, app.wrap, 256, b"x")
    raises(ValueError, app.wrap, -1, b"x")
    eq(d.sent, [])


def test_wrap_answer_of_the_wrong_shape():
    for answer in (blob_of(b"xy"), blob_of(b"xyz")[:-1], b"\x02" + blob_of(b"xyz")[1:], b""):
        e = raises(SeAppError, SecureElementApp(FakeDriver([answer])).wrap, 1, b"xyz")
        eq(type(e).__name__, "SeAppError")


def test_wrap_of_the_longest_data():
    data = bytes(i % 256 for i in range(sa.MAX_WRAP))
    d = FakeDriver([blob_of(data)])
    eq(SecureElementApp(d).wrap(0, data), blob_of(data))
    eq(len(d.sent[0][1]), 1 + sa.MAX_WRAP)


def test_unwrap_request_and_answer():
    blob = blob_of(b"\x10" * 3)
    d = FakeDriver([b"PAN"])
    eq(SecureElementApp(d).unwrap(2, blob), b"PAN")
    eq(d.sent, [(0x29, b"\x02" + blob)])
    e = raises(SeAppError, SecureElementApp(FakeDriver([b"PA"])).unwrap, 2, blob)
    eq(type(e).__name__, "SeAppError")


def test_malformed_blobs_refused_before_sending():
    d = FakeDriver([])
    app = SecureElementApp(d)
    good = blob_of(b"abc")
    for bad in (b"", good[:29], b"\x02" + good[1:], b"\x00" + good[1:], blob_of(bytes(995))):
        e = raises(SeUnwrapError, app.unwrap, 1, bad)
        eq(e.status, None)
    raises(ValueError, app.unwrap, 300, good)
    eq(d.sent, [])


def test_unwrap_statuses_are_typed():
    blob = blob_of(b"abc")
    # the tag does not verify (another SE, another purpose, an altered byte)
    e = raises(SeUnwrapError, SecureElementApp(FakeDriver([5])).unwrap, 1, blob)
    eq((e.status, e.name), (5, "BAD_PARAMETER"))
    eq(isinstance(e, SeBadInput), True)
    e = raises(SeUnwrapError, SecureElementApp(FakeDriver([4])).unwrap, 1, blob)
    eq(e.name, "BAD_LENGTH")
    # no storage key in this element
    raises(SeKeyMissing, SecureElementApp(FakeDriver([7])).unwrap, 1, blob)
    # locked: NOT_ALLOWED and GET_STATUS says locked
    d = FakeDriver([6, status_body(True)])
    raises(SeLocked, SecureElementApp(d).unwrap, 1, blob)
    eq(d.sent[1], (sa.CMD_GET_STATUS, b""))
    d = FakeDriver([6, status_body(True)])
    raises(SeLocked, SecureElementApp(d).wrap, 1, b"abc")
    eq(d.buffers[0], bytearray(4))  # wiped on error too


class FakeBus:
    def __init__(self, reads):
        self.reads = list(reads)
        self.log = []

    def writeto(self, addr, buf, stop=True):
        self.log.append(("W", addr, bytes(buf)))
        return len(buf)

    def readfrom(self, addr, n, stop=True):
        self.log.append(("R", addr, n))
        return self.reads.pop(0)[:n]


WRAP_REQ = h("28000507636172645C15")
BLOB_RESP = h("00002101000102030405060708090A0B6361726454545454545454545454545454545454CD06")
UNWRAP_REQ = h("2900220701000102030405060708090A0B636172645454545454545454545454545454545493F8")
DATA_RESP = h("000004636172645484")
BAD_PARAMETER = h("050000276C")


def test_exact_frames_on_the_bus():
    bus = FakeBus(
        [
            BLOB_RESP[:3],
            BLOB_RESP[3:],
            DATA_RESP[:3],
            DATA_RESP[3:],
            BAD_PARAMETER[:3],
            BAD_PARAMETER[3:],
        ]
    )
    app = SecureElementApp(SecureElement(bus, 0x60))
    blob = app.wrap(7, b"card")
    eq(blob, BLOB_RESP[3:-2])
    eq(app.unwrap(7, blob), b"card")
    raises(SeUnwrapError, app.unwrap, 7, blob)
    writes = [entry[2] for entry in bus.log if entry[0] == "W"]
    eq(writes, [WRAP_REQ, UNWRAP_REQ, UNWRAP_REQ])
