# SecureElementApp over a scripted driver: exact request bytes for each
# command, statuses mapped to typed errors (a NOT_ALLOWED is SeLocked only
# when GET_STATUS says locked), the PIN buffer wiped on success and on error,
# responses of the wrong shape refused.
from mpyunit import eq, raises

from firmware.drivers.se.errors import SeStatusError
from firmware.secure import (
    SeAppError,
    SeBadInput,
    SecureElementApp,
    SeKeyMissing,
    SeLocked,
    SeNotAllowed,
)
from protocols import se_app as sa

STATUS_NAMES = {5: "BAD_PARAMETER", 6: "NOT_ALLOWED", 7: "KEY_NOT_FOUND", 8: "INTERNAL_ERROR"}


class FakeDriver:
    def __init__(self, answers):
        self.answers = list(answers)
        self.sent = []

    def request(self, cmd, payload=b""):
        self.sent.append((cmd, bytes(payload)))
        answer = self.answers.pop(0)
        if isinstance(answer, int):
            raise SeStatusError(answer, STATUS_NAMES[answer], b"")
        return answer


def status_body(locked):
    return bytes((1 if locked else 0, 0, 0, 0, 1, 1, 0, 1))


def test_sign_request_and_response():
    d = FakeDriver([b"\x00\x00\x00\x07" + bytes(range(64))])
    sig, counter = SecureElementApp(d, slot=2).sign(b"\x11" * 32)
    eq(d.sent, [(sa.CMD_SIGN, b"\x02\x00" + b"\x11" * 32)])
    eq(counter, 7)
    eq(sig, bytes(range(64)))
    raises(ValueError, SecureElementApp(d).sign, b"short")


def test_raw_signature_of_wrong_length_refused():
    d = FakeDriver([b"\x00\x00\x00\x01" + bytes(10)])
    raises(SeAppError, SecureElementApp(d).sign, bytes(32))


def test_locked_versus_not_allowed():
    d = FakeDriver([6, status_body(True)])
    e = raises(SeLocked, SecureElementApp(d).sign, bytes(32))
    eq(e.name, "NOT_ALLOWED")
    eq(d.sent[1], (sa.CMD_GET_STATUS, b""))
    d = FakeDriver([6, status_body(False)])
    e = raises(SeNotAllowed, SecureElementApp(d).generate_key)
    eq(isinstance(e, SeLocked), False)
    # GET_STATUS itself refused or malformed: the plain refusal, not a crash
    for status_answer in (8, b"short"):
        e = raises(SeNotAllowed, SecureElementApp(FakeDriver([6, status_answer])).sign, bytes(32))
        eq(isinstance(e, SeLocked), False)


def test_key_missing_and_bad_input():
    raises(SeKeyMissing, SecureElementApp(FakeDriver([7])).public_key)
    raises(SeBadInput, SecureElementApp(FakeDriver([5])).counter)
    e = raises(SeAppError, SecureElementApp(FakeDriver([8])).counter)
    eq(e.status, 8)


def test_pin_block_wipes_the_pin():
    d = FakeDriver([bytes(16) + b"K" * 12])
    pin = bytearray(b"4321")
    block, ksn = SecureElementApp(d).pin_block(pin, "4111111111111111")
    eq(pin, bytearray(4))
    eq(d.sent, [(sa.CMD_PIN_BLOCK, b"\x104111111111111111" + b"4321")])
    eq((block, ksn), (bytes(16), b"K" * 12))
    d = FakeDriver([5])
    pin = bytearray(b"12")
    raises(SeBadInput, SecureElementApp(d).pin_block, pin, "4111111111111111")
    eq(pin, bytearray(2))
    raises(TypeError, SecureElementApp(d).pin_block, b"1234", "4111111111111111")


def test_mac_and_ksn_shapes():
    d = FakeDriver([b"M" * 16 + b"K" * 12, b"short", b"K" * 12])
    app = SecureElementApp(d)
    eq(app.mac(b"data"), (b"M" * 16, b"K" * 12))
    raises(SeAppError, app.mac, b"data")
    eq(app.next_transaction(), b"K" * 12)


def test_certificate_written_and_read_in_chunks():
    cert = bytes(i % 251 for i in range(2100))
    d = FakeDriver([b"\x03\xe8", b"\x07\xd0", b"\x08\x34"])
    eq(SecureElementApp(d).write_cert(cert, 1), 2100)
    eq([p[:3] for _c, p in d.sent], [b"\x01\x00\x00", b"\x01\x03\xe8", b"\x01\x07\xd0"])
    eq(b"".join(p[3:] for _c, p in d.sent), cert)
    answers = [b"\x08\x34" + cert[:1000], b"\x08\x34" + cert[1000:2000], b"\x08\x34" + cert[2000:]]
    eq(SecureElementApp(FakeDriver(answers)).read_cert(1), cert)
    raises(SeAppError, SecureElementApp(FakeDriver([b"\x08\x34"])).read_cert, 1)


def test_tamper_and_status():
    d = FakeDriver([b"\x01\x00\x00\x00\x03", status_body(True)])
    app = SecureElementApp(d)
    eq(app.tamper(1), 3)
    eq(d.sent[0], (sa.CMD_TAMPER_EVENT, b"\x01"))
    st = app.status()
    eq((st["locked"], st["key_slots"], st["cert_slots"], st["dukpt"]), (True, 1, 0, True))
    raises(SeAppError, SecureElementApp(FakeDriver([b"\x00\x00\x00\x00\x01"])).tamper)
