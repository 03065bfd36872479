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


# -- transport key: KA_PUBLIC_KEY, KBPK_NONCE, KEY_AGREE ---------------------------------
KA = b"\x04" + bytes(range(1, 65))
EPH = b"\x04" + bytes(range(100, 164))
SIG = bytes(range(64))


def test_key_agreement_requests_and_responses():
    d = FakeDriver([KA, b"N" * 16, KA + b"T" * 16])
    app = SecureElementApp(d)
    eq(app.ka_public_key(), KA)
    eq(app.kbpk_nonce(), b"N" * 16)
    eq(app.key_agree(EPH, SIG), (KA, b"T" * 16))
    eq(
        d.sent,
        [(0x25, b""), (0x26, b""), (0x27, EPH + SIG)],
    )
    eq((sa.CMD_KA_PUBLIC_KEY, sa.CMD_KBPK_NONCE, sa.CMD_KEY_AGREE), (0x25, 0x26, 0x27))


def test_key_agreement_refusals_and_shapes():
    # a forged TSM signature: NOT_ALLOWED, not locked -> SeNotAllowed
    d = FakeDriver([6, status_body(False)])
    e = raises(SeNotAllowed, SecureElementApp(d).key_agree, EPH, SIG)
    eq(isinstance(e, SeLocked), False)
    raises(SeKeyMissing, SecureElementApp(FakeDriver([7])).key_agree, EPH, SIG)
    raises(SeBadInput, SecureElementApp(FakeDriver([5])).key_agree, EPH, SIG)
    # nothing is sent for arguments of the wrong length
    d = FakeDriver([])
    raises(ValueError, SecureElementApp(d).key_agree, EPH[:64], SIG)
    raises(ValueError, SecureElementApp(d).key_agree, EPH, SIG + b"x")
    eq(d.sent, [])
    # malformed answers
    raises(SeAppError, SecureElementApp(FakeDriver([KA[:64]])).ka_public_key)
    raises(SeAppError, SecureElementApp(FakeDriver([b"\x02" + KA[1:]])).ka_public_key)
    raises(SeAppError, SecureElementApp(FakeDriver([b"N" * 15])).kbpk_nonce)
    raises(SeAppError, SecureElementApp(FakeDriver([KA + b"T" * 15])).key_agree, EPH, SIG)


class FakeSe:
    """SecureElementApp stand-in for the kbpk helpers: records the calls."""

    def __init__(self):
        self.calls = []

    def ka_public_key(self):
        self.calls.append("ka")
        return KA

    def kbpk_nonce(self):
        self.calls.append("nonce")
        return b"N" * 16

    def sign(self, digest, slot=0):
        self.calls.append(("sign", digest, slot))
        return SIG, 9

    def key_agree(self, ephemeral, signature):
        self.calls.append(("agree", ephemeral, signature))
        return KA, b"T" * 16

    def load_dukpt(self, block):
        self.calls.append(("load", block))
        return b"K" * 12


def test_kbpk_bodies():
    import hashlib
    from binascii import hexlify

    from firmware.secure import kbpk

    challenge = "ab" * 32
    se = FakeSe()
    body = kbpk.register_request(se, "PT-1", challenge)
    want = hashlib.sha256(b"PTTSM-POP1transport-key\0PT-1\0" + b"\xab" * 32 + KA).digest()
    eq(se.calls[1], ("sign", want, 0))
    eq(body["ka_public"], hexlify(KA).decode())
    eq((body["counter"], body["slot"], body["challenge"]), (9, 0, challenge))
    se = FakeSe()
    body = kbpk.dukpt_request(se, "PT-1", challenge)
    eq(se.calls[0], ("sign", hashlib.sha256(b"PTTSM-POP1dukpt\0PT-1\0" + b"\xab" * 32).digest(), 0))
    eq(body["se_nonce"], "4e" * 16)
    answer = {
        "key_block": "D0144B1AX00N0200IK14...",
        "ikid": "0102030400000001",
        "ephemeral_public": hexlify(EPH).decode(),
        "signature": hexlify(SIG).decode(),
    }
    se = FakeSe()
    confirm, ksn = kbpk.install(se, answer)
    eq(se.calls, [("agree", EPH, SIG), ("load", answer["key_block"])])
    eq(confirm, {"ikid": "0102030400000001", "confirmation": "54" * 16})
    eq(ksn, b"K" * 12)
    for bad in ({}, dict(answer, signature="00"), dict(answer, ephemeral_public="zz")):
        raises(kbpk.KbpkError, kbpk.install, FakeSe(), bad)
