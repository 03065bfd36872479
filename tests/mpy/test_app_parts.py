# firmware/app parts under MicroPython: keys (format 4 PIN block under AES
# DUKPT, AES-CMAC under the DUKPT MAC key or a static key), ISO 8583
# requests, the batch store, the online link (MAC placement, field 53's KSN,
# late frames, bad MAC, timeout) on a fake stream.
from mpyunit import eq, raises

from firmware.app import messages as m
from firmware.app.batch import Batch
from firmware.app.keys import SoftKeys, pin_field
from firmware.app.online import HostMacError, HostTimeout, Online
from firmware.hostlink import response_mti
from protocols import iso8583
from protocols.crypto import aes_cmac, aes_dukpt, pin_format4
from protocols.crypto.cryptolib_aes import CryptolibAes
from protocols.iso8583_specs import PAYTERM_1987

BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
IKID = bytes.fromhex("1234567800000001")
MAC_KEY = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")  # RFC 4493
PAN = "4761730000000045"
DT = (2026, 11, 22, 6, 10, 30, 5, 0)
TERM = {"tid": "PT000001", "mid": "000000000123456"}
CARD = {"interface": "contactless", "pan": PAN, "expiry": "2812", "psn": 1}


def keys():
    ik = aes_dukpt.initial_key(CryptolibAes, BDK, IKID)
    return SoftKeys(MAC_KEY, ik, IKID), ik


def test_pin_block_format4_under_dukpt_and_pin_wiped():
    k, ik = keys()
    pin = bytearray(b"1234")
    block, ksn = k.pin_block(pin, PAN)
    eq(pin, bytearray(4), "PIN buffer wiped")
    eq(ksn, IKID + b"\x00\x00\x00\x01")
    key = aes_dukpt.working_key(CryptolibAes, ik, ksn, aes_dukpt.USAGE_PIN_ENCRYPTION)
    eq(pin_format4.decipher(CryptolibAes(key), block, PAN), "1234")
    block2, ksn2 = k.pin_block(bytearray(b"987654"), PAN)
    eq(ksn2[-4:], b"\x00\x00\x00\x02", "counter advanced")
    key2 = aes_dukpt.working_key(CryptolibAes, ik, ksn2, aes_dukpt.USAGE_PIN_ENCRYPTION)
    eq(pin_format4.decipher(CryptolibAes(key2), block2, PAN), "987654")


def test_pin_field_refuses_bad_pins_and_wipes():
    raises(ValueError, pin_field, bytearray(b"123"), bytes(8))
    raises(ValueError, pin_field, bytearray(b"12a4"), bytes(8))
    eq(pin_field(bytearray(b"1234"), bytes(8))[:8], bytes.fromhex("441234AAAAAAAAAA"))
    k, _ik = keys()
    pin = bytearray(b"12x4")
    raises(ValueError, k.pin_block, pin, PAN)
    eq(pin, bytearray(4), "wiped on error too")


def test_mac_is_aes_cmac_leftmost_8():
    _k, ik = keys()
    k = SoftKeys(MAC_KEY, ik, IKID, "static")
    eq(k.mac(b""), bytes.fromhex("bb1d6929e9593728"))  # RFC 4493 example 1
    data = bytes(range(40))
    eq(k.mac(data), aes_cmac.cmac(CryptolibAes(MAC_KEY), data)[:8])


# X9.24-3-2017 supplement: BDK FEDCBA98..F1, initial key ID 1234567890123456,
# counter 1 "MAC generation" working key (tests/vectors/dukpt_aes_x9_24_3.json).
X9_IKID = bytes.fromhex("1234567890123456")
X9_MAC_GEN_1 = bytes.fromhex("A2DC23DE6FDE0824A2BC321E08E4B8B7")
X9_MAC_GEN_2 = bytes.fromhex("484C3B06E8562704528CD5B46FB12FB6")


def test_dukpt_mac_under_the_published_mac_generation_keys():
    ik = aes_dukpt.initial_key(CryptolibAes, BDK, X9_IKID)
    k = SoftKeys(b"", ik, X9_IKID)
    data = bytes(range(40))
    ksn1 = X9_IKID + b"\x00\x00\x00\x01"
    eq(k.ksn(), ksn1)
    eq(k.mac(data), aes_cmac.cmac(CryptolibAes(X9_MAC_GEN_1), data)[:8], "counter 1")
    eq(k.mac(b"answer", ksn1), aes_cmac.cmac(CryptolibAes(X9_MAC_GEN_1), b"answer")[:8])
    raises(ValueError, k.mac, data, X9_IKID + b"\x00\x00\x00\x02")
    k.next_transaction()
    eq(k.ksn(), X9_IKID + b"\x00\x00\x00\x02")
    k.next_transaction()  # nothing used the KSN: it stays
    eq(k.ksn(), X9_IKID + b"\x00\x00\x00\x02")
    eq(k.mac(data), aes_cmac.cmac(CryptolibAes(X9_MAC_GEN_2), data)[:8], "counter 2")


def test_pin_block_and_mac_share_one_ksn():
    k, ik = keys()
    _block, ksn = k.pin_block(bytearray(b"1234"), PAN)
    key = aes_dukpt.working_key(CryptolibAes, ik, ksn, aes_dukpt.USAGE_MAC_GENERATION)
    eq(k.mac(b"0200", ksn), aes_cmac.cmac(CryptolibAes(key), b"0200")[:8], "PIN's KSN")
    k.next_transaction()
    _b, ksn2 = k.pin_block(bytearray(b"1234"), PAN)
    eq(ksn2[-4:], b"\x00\x00\x00\x02")
    _b, ksn3 = k.pin_block(bytearray(b"1234"), PAN)  # a second PIN block moves on
    eq(ksn3[-4:], b"\x00\x00\x00\x03")


def test_financial_request_fields():
    msg = m.financial("0200", m.PURCHASE, 30000, "000007", DT, TERM, CARD, b"\x9f\x02\x01\x00",
                      (bytes(16), bytes(12)), "000001")  # fmt: skip
    doc = iso8583.decode(iso8583.encode(msg, PAYTERM_1987), PAYTERM_1987)
    eq(doc["4"], "000000030000")
    eq(doc["7"], "1122103005")
    eq(doc["22"], "071")
    eq(doc["23"], "001")
    eq(doc["53"][:4], "0402")
    eq(doc["60"], "000001")
    raises(ValueError, m.financial, "0200", "00", 1.5, "1", DT, TERM, CARD)


def test_reversal_advice_settlement():
    orig = m.financial("0200", "00", 500, "000009", DT, TERM, CARD)
    rev = m.reversal(orig, "000010", DT, m.REVERSAL_TIMEOUT)
    eq(rev["t"], "0400")
    eq(rev["90"], "0200" + "000009" + "1122103005" + "0" * 22)
    eq(rev["39"], "68")
    adv = m.advice(orig, "000011", DT, "Y1")
    eq((adv["t"], adv["38"], adv["11"]), ("0220", "Y1    ", "000011"))
    s = m.settlement("000012", DT, TERM, "000003", (2, 45000, 1, 5000))
    eq(s["63"], "002000000045000001000000005000")
    eq(s["3"], "920000")
    iso8583.encode(s, PAYTERM_1987)


def test_batch_totals_and_close():
    b = Batch(7)
    b.add({"kind": "sale", "amount": 100, "stan": "000001", "status": "approved"})
    b.add({"kind": "sale", "amount": 200, "stan": "000002", "status": "declined"})
    b.add({"kind": "refund", "amount": 50, "stan": "000003", "status": "approved"})
    b.add({"kind": "preauth", "amount": 900, "stan": "000004", "status": "approved"})
    b.add({"kind": "sale", "amount": 400, "stan": "000005", "status": "approved"})
    b.mark_reversed("000005")
    eq(b.totals(), (1, 100, 1, 50))
    eq(b.batch_field(), "000007")
    b.close()
    eq((b.number, b.totals()), (8, (0, 0, 0, 0)))


class Clock:
    def __init__(self):
        self.t = 0

    def ticks_ms(self):
        return self.t

    def ticks_diff(self, a, b):
        return a - b


class Stream:
    """Answers from a list of frames; each read with nothing left costs the
    clock the stream's timeout (as a UART read does)."""

    def __init__(self, clock, answers):
        self.clock = clock
        self.answers = answers
        self.written = []
        self.rx = bytearray()
        self.timeout = 0

    def init(self, timeout=None):
        self.timeout = timeout

    def write(self, data):
        self.written.append(bytes(data))
        if self.answers:
            self.rx.extend(self.answers.pop(0))

    def read(self, n):
        if not self.rx:
            self.clock.t += self.timeout
            return None
        data = bytes(self.rx[:n])
        self.rx = self.rx[n:]
        return data


def response(k, doc, mac=True):
    doc = dict(doc)
    if mac:
        doc["64"] = bytes(8)
        wire = iso8583.encode(doc, PAYTERM_1987)
        wire = wire[:-8] + k.mac(wire[:-8])
    else:
        wire = iso8583.encode(doc, PAYTERM_1987)
    return iso8583.frame(wire)


def test_online_macs_requests_and_skips_late_frames():
    k, ik = keys()
    clock = Clock()
    req = m.financial("0200", "00", 500, "000002", DT, TERM, CARD)
    ksn1 = k.ksn()
    # the answers are MACed under the request's KSN (the current one)
    late = response(k, {"t": "0210", "11": "000001", "39": "00", "41": "PT000001"})
    good = response(k, {"t": "0210", "11": "000002", "39": "00", "41": "PT000001"})
    stream = Stream(clock, [late + good])
    online = Online(stream, PAYTERM_1987, k, clock, 2000)
    eq(online.exchange(req)["39"], "00")
    wire = iso8583.unframe(stream.written[0])
    sent = iso8583.decode(wire, PAYTERM_1987)
    eq(bytes.fromhex(sent["53"]), b"\xff\x02" + ksn1, "field 53: no PIN block, AES DUKPT, KSN")
    key = aes_dukpt.working_key(CryptolibAes, ik, ksn1, aes_dukpt.USAGE_MAC_GENERATION)
    eq(wire[-8:], aes_cmac.cmac(CryptolibAes(key), wire[:-8])[:8], "field 64 MAC")
    eq(k.ksn()[-4:], b"\x00\x00\x00\x02", "the next message, the next KSN")
    rev = m.reversal(req, "000003", DT, "68")
    wire = online.encode(rev)
    doc = iso8583.decode(wire, PAYTERM_1987)
    eq(("128" in doc, "64" in doc), (True, False), "MAC in 128 with field 90")
    eq(wire[-8:], k.mac(wire[:-8]))
    echo = online.encode(m.network("301", "000004", DT, TERM))
    eq("64" in iso8583.decode(echo, PAYTERM_1987), False, "0800 not MACed")


def test_online_pin_request_macs_under_the_pins_ksn_and_static_keys_add_no_53():
    k, ik = keys()
    clock = Clock()
    pin = k.pin_block(bytearray(b"1234"), PAN)
    req = m.financial("0200", "00", 500, "000002", DT, TERM, CARD, pin=pin)
    good = response(k, {"t": "0210", "11": "000002", "39": "00", "41": "PT000001"})
    stream = Stream(clock, [good])
    online = Online(stream, PAYTERM_1987, k, clock, 2000)
    eq(online.exchange(req)["39"], "00")
    wire = iso8583.unframe(stream.written[0])
    eq(bytes.fromhex(iso8583.decode(wire, PAYTERM_1987)["53"]), b"\x04\x02" + pin[1])
    key = aes_dukpt.working_key(CryptolibAes, ik, pin[1], aes_dukpt.USAGE_MAC_GENERATION)
    eq(wire[-8:], aes_cmac.cmac(CryptolibAes(key), wire[:-8])[:8], "MAC under the PIN's KSN")
    eq(k.ksn()[-4:], b"\x00\x00\x00\x02")
    static = SoftKeys(MAC_KEY, ik, IKID, "static")
    plain = m.financial("0200", "00", 500, "000003", DT, TERM, CARD)
    wire = Online(Stream(clock, []), PAYTERM_1987, static, clock, 2000).encode(plain)
    eq("53" in iso8583.decode(wire, PAYTERM_1987), False, "static: no field 53")
    eq(wire[-8:], aes_cmac.cmac(CryptolibAes(MAC_KEY), wire[:-8])[:8])


def test_a_repeat_is_answered_with_the_originals_response_type():
    k, _ik = keys()
    clock = Clock()
    req = m.financial("0200", "00", 500, "000002", DT, TERM, CARD)
    rev = m.reversal(req, "000003", DT, "68")
    rev["t"] = "0401"
    # the host answers a repeat as its original (0410), MACed under the repeat's KSN
    answer = response(k, {"t": "0410", "11": "000003", "39": "00", "41": "PT000001"})
    online = Online(Stream(clock, [answer]), PAYTERM_1987, k, clock, 2000)
    eq(online.exchange(rev)["t"], "0410")
    eq(response_mti("0221"), "0230")


class FakeSe:
    """The SecureElementApp calls SeKeys makes, recorded (a unit test of one
    layer: the SE emulator itself runs in tests/test_app_mac_dukpt.py)."""

    def __init__(self, ksn):
        self.cur = ksn
        self.calls = []

    def ksn(self):
        self.calls.append("GET_KSN")
        return self.cur

    def mac(self, data):
        self.calls.append("MAC")
        return bytes(range(16)), self.cur

    def pin_block(self, pin, pan):
        self.calls.append("PIN_BLOCK")
        return bytes(16), self.cur

    def next_transaction(self):
        self.calls.append("NEXT_TRANSACTION")
        self.cur = self.cur[:8] + bytes([0, 0, 0, self.cur[11] + 1])


def test_se_keys_mac_in_the_se_then_next_transaction():
    from firmware.app.keys import SeKeys

    se = FakeSe(IKID + b"\x00\x00\x00\x01")
    k = SeKeys(se)
    k.next_transaction()  # nothing used: no SE command
    eq(se.calls, [])
    pin = bytearray(b"1234")
    _block, ksn = k.pin_block(pin, PAN)
    eq(pin, bytearray(4), "PIN buffer wiped")
    eq(k.mac(b"req", ksn), bytes(range(8)), "leftmost 8 bytes of the SE's MAC")
    raises(ValueError, k.mac, b"req", IKID + b"\x00\x00\x00\x09")  # not the SE's KSN
    k.next_transaction()
    eq(se.calls, ["PIN_BLOCK", "MAC", "MAC", "NEXT_TRANSACTION"])
    eq(k.ksn()[-1], 2)


def test_online_bad_mac_and_timeout():
    k, _ik = keys()
    other = SoftKeys(b"", bytes(16), IKID)  # another initial key: other MAC keys
    clock = Clock()
    req = m.financial("0200", "00", 500, "000002", DT, TERM, CARD)
    bad = response(other, {"t": "0210", "11": "000002", "39": "00", "41": "PT000001"})
    online = Online(Stream(clock, [bad]), PAYTERM_1987, k, clock, 2000)
    raises(HostMacError, online.exchange, req)
    online = Online(Stream(clock, []), PAYTERM_1987, k, clock, 2000)
    t0 = clock.t
    raises(HostTimeout, online.exchange, req)
    eq(clock.t - t0, 2000, "waited the timeout, no longer")
