# KBPK_NONCE and KEY_AGREE through SecureElementApp and the channel driver on a
# fake I2C bus: the exact frames on the wire.  Expected frames are written out
# in hex; their CRCs were computed with CPython's binascii.crc_hqx(data,
# 0xFFFF) (CRC-16/CCITT-FALSE), not with our code.
from mpyunit import eq, raises

from firmware.drivers.se import SecureElement
from firmware.secure import SecureElementApp, SeNotAllowed


def h(text):
    return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))


EPH = b"\x04" + bytes(range(100, 164))
SIG = bytes(range(64))
KA = b"\x04" + bytes(range(1, 65))

NONCE_REQ = h("260000F8FA")
NONCE_RESP = h("0000104E4E4E4E4E4E4E4E4E4E4E4E4E4E4E4E7D4F")
AGREE_REQ = h(
    "270081"
    "046465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F8081828384"
    "85868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9FA0A1A2A3"
    "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
    "202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F"
    "6160"
)
AGREE_RESP = h(
    "000051"
    "040102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20"
    "2122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F40"
    "54545454545454545454545454545454"
    "D41A"
)
NOT_ALLOWED = h("0600007E3C")


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


def test_nonce_then_key_agree_exact_frames():
    bus = FakeBus([NONCE_RESP[:3], NONCE_RESP[3:], AGREE_RESP[:3], AGREE_RESP[3:]])
    app = SecureElementApp(SecureElement(bus, 0x60))
    eq(app.kbpk_nonce(), b"N" * 16)
    eq(app.key_agree(EPH, SIG), (KA, b"T" * 16))
    eq(
        bus.log,
        [
            ("W", 0x60, NONCE_REQ),
            ("R", 0x60, 3),
            ("R", 0x60, 18),
            ("W", 0x60, AGREE_REQ),
            ("R", 0x60, 3),
            ("R", 0x60, 83),
        ],
    )


def test_refused_signature_is_not_allowed():
    # the element refuses (NOT_ALLOWED); GET_STATUS says unlocked -> SeNotAllowed
    from protocols import se_frame

    status = se_frame.encode_response(0, bytes(8))
    bus = FakeBus([NOT_ALLOWED[:3], NOT_ALLOWED[3:], status[:3], status[3:]])
    app = SecureElementApp(SecureElement(bus, 0x60))
    raises(SeNotAllowed, app.key_agree, EPH, SIG)
    eq(bus.log[0], ("W", 0x60, AGREE_REQ))
