"""Application commands of the secure element (docs/secure-element.md), pure.

The transport (frames, INFO/RANDOM/ECHO/RESEND, status codes) is
``protocols.se_frame``; this module holds the application command codes
0x10..0x7F as data, and the layouts both ends build and parse: the
terminal's ``firmware/secure/se_app.py`` and the emulator ``hsm_sim/se``.

All integers big-endian.  MicroPython subset.
"""

from protocols.errors import DecodeError, EncodeError

CMD_GENERATE_KEY = 0x10
CMD_GET_PUBLIC_KEY = 0x11
CMD_SIGN = 0x12
CMD_GET_COUNTER = 0x13
CMD_WRITE_CERT = 0x14
CMD_READ_CERT = 0x15
CMD_GET_STATUS = 0x18
CMD_TAMPER_EVENT = 0x19
CMD_UNLOCK_CHALLENGE = 0x1A
CMD_UNLOCK = 0x1B
CMD_LOAD_DUKPT = 0x20
CMD_PIN_BLOCK = 0x21
CMD_MAC = 0x22
CMD_NEXT_TRANSACTION = 0x23
CMD_GET_KSN = 0x24
CMD_KA_PUBLIC_KEY = 0x25
CMD_KBPK_NONCE = 0x26
CMD_KEY_AGREE = 0x27
CMD_DATA_WRAP = 0x28
CMD_DATA_UNWRAP = 0x29

COMMANDS = (
    (CMD_GENERATE_KEY, "GENERATE_KEY"),
    (CMD_GET_PUBLIC_KEY, "GET_PUBLIC_KEY"),
    (CMD_SIGN, "SIGN"),
    (CMD_GET_COUNTER, "GET_COUNTER"),
    (CMD_WRITE_CERT, "WRITE_CERT"),
    (CMD_READ_CERT, "READ_CERT"),
    (CMD_GET_STATUS, "GET_STATUS"),
    (CMD_TAMPER_EVENT, "TAMPER_EVENT"),
    (CMD_UNLOCK_CHALLENGE, "UNLOCK_CHALLENGE"),
    (CMD_UNLOCK, "UNLOCK"),
    (CMD_LOAD_DUKPT, "LOAD_DUKPT"),
    (CMD_PIN_BLOCK, "PIN_BLOCK"),
    (CMD_MAC, "MAC"),
    (CMD_NEXT_TRANSACTION, "NEXT_TRANSACTION"),
    (CMD_GET_KSN, "GET_KSN"),
    (CMD_KA_PUBLIC_KEY, "KA_PUBLIC_KEY"),
    (CMD_KBPK_NONCE, "KBPK_NONCE"),
    (CMD_KEY_AGREE, "KEY_AGREE"),
    (CMD_DATA_WRAP, "DATA_WRAP"),
    (CMD_DATA_UNWRAP, "DATA_UNWRAP"),
)

KEY_SLOTS = 4  # ECDSA P-256 key slots 0..3
CERT_SLOTS = 4  # certificate slots 0..3
CERT_MAX = 4096  # bytes per certificate slot
CERT_CHUNK = 1000  # most certificate bytes in one WRITE_CERT / READ_CERT
DIGEST_LEN = 32
PUBLIC_KEY_LEN = 65  # SEC1 uncompressed: 04 | X | Y
RAW_SIGNATURE_LEN = 64  # r | s
KSN_LEN = 12
PIN_BLOCK_LEN = 16
MAC_LEN = 16
CHALLENGE_LEN = 16
KA_NONCE_LEN = 16  # KBPK_NONCE
KEY_AGREE_LEN = PUBLIC_KEY_LEN + RAW_SIGNATURE_LEN  # TSM ephemeral key | signature
KEY_AGREE_RESPONSE_LEN = PUBLIC_KEY_LEN + MAC_LEN  # SE key-agreement key | MacTag

# DATA_WRAP / DATA_UNWRAP (data at rest under the SE's storage key):
# blob = version u8 | nonce (12) | ciphertext (as long as the data) | tag (16),
# AES-256-GCM, AAD = "PTSE-WRAP1" | purpose u8 | serial (ASCII).
WRAP_VERSION = 1
WRAP_NONCE_LEN = 12
WRAP_TAG_LEN = 16
WRAP_OVERHEAD = 1 + WRAP_NONCE_LEN + WRAP_TAG_LEN  # 29
# The longest request is DATA_UNWRAP: purpose (1) + blob (29 + data), and it
# must fit one frame (protocols.se_frame.MAX_PAYLOAD, 1024): 1024 - 30 = 994.
MAX_WRAP = 994
WRAP_DOMAIN = b"PTSE-WRAP1"

SIG_RAW = 0
SIG_DER = 1

# What SIGN signs: ECDSA P-256 with SHA-256 over this message, so the
# signature binds the counter (and the slot) to the caller's digest.
SIGN_DOMAIN = b"PTSE-SIG1"

# What UNLOCK's CMAC covers (under the TSM unlock key).
UNLOCK_DOMAIN = b"PTSE-UNLOCK1"

# Transport key establishment (KEY_AGREE, docs/secure-element.md): what the
# TSM's key-loading key signs, the one-step KDF's fixed info, and the key
# confirmation the SE answers with.
KA_SIGN_DOMAIN = b"PTSE-KA1"
KA_TSM_ID = b"payterm-tsm"
KA_ALGORITHM_ID = b"PTSE-KBPK1:AES-256/TR-31-D+KC:AES-CMAC-128"
KA_KDF_BITS = 384  # 256-bit KBPK, then the 128-bit confirmation key
KC_LABEL = b"KC_1_V"

# Tamper sources (TAMPER_EVENT payload byte).
TAMPER_SOURCES = (
    (0, "case_switch"),
    (1, "mesh"),
    (2, "voltage"),
    (3, "temperature"),
    (4, "clock"),
)


def command_name(cmd: int) -> str:
    for value, name in COMMANDS:
        if value == cmd:
            return name
    return "CMD_%02X" % cmd


def u16(n: int) -> bytes:
    return bytes(((n >> 8) & 0xFF, n & 0xFF))


def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def signed_message(digest: bytes, counter: int, slot: int) -> bytes:
    """The message SIGN signs with ECDSA P-256 / SHA-256:
    ``"PTSE-SIG1" | slot u8 | counter u32 | digest (32)``."""
    if len(digest) != DIGEST_LEN:
        raise EncodeError("digest must be 32 bytes", field="digest")
    if not 0 <= counter <= 0xFFFFFFFF:
        raise EncodeError("counter out of range", field="counter")
    return SIGN_DOMAIN + bytes((slot,)) + u32(counter) + bytes(digest)


def unlock_message(serial: str, challenge: bytes, tamper_count: int) -> bytes:
    """What the TSM MACs to unlock: ``"PTSE-UNLOCK1" | serial length u8 |
    serial (ASCII) | challenge (16) | tamper count u32``."""
    s = serial.encode()
    return UNLOCK_DOMAIN + bytes((len(s),)) + s + bytes(challenge) + u32(tamper_count)


def pin_request(pin: "bytes | bytearray", pan: str) -> bytearray:
    """PIN_BLOCK payload ``PAN length u8 | PAN (ASCII digits) | PIN (ASCII
    digits)`` in a bytearray the caller wipes after sending."""
    p = pan.encode()
    out = bytearray(1 + len(p) + len(pin))
    out[0] = len(p)
    out[1 : 1 + len(p)] = p
    out[1 + len(p) :] = pin
    return out


def parse_sign_response(body: bytes) -> "tuple[int, bytes]":
    """(counter, signature) of a SIGN response ``counter u32 | signature``."""
    if len(body) < 4 + 8:
        raise DecodeError("SIGN response of %d bytes" % len(body), field="signature")
    return int.from_bytes(body[:4], "big"), bytes(body[4:])


def parse_block_ksn(body: bytes, n: int, field: str) -> "tuple[bytes, bytes]":
    """(value, KSN) of a PIN_BLOCK or MAC response ``value (n) | KSN (12)``."""
    if len(body) != n + KSN_LEN:
        raise DecodeError("%s response of %d bytes" % (field, len(body)), field=field)
    return bytes(body[:n]), bytes(body[n:])


def _lv(data: bytes) -> bytes:
    """u8 length | data (a fixed-info field; every field is under 256 bytes)."""
    if len(data) > 255:
        raise EncodeError("fixed-info field over 255 bytes", field="fixed_info")
    return bytes((len(data),)) + bytes(data)


def key_agree_message(ephemeral: bytes, nonce: bytes, serial: str) -> bytes:
    """What the TSM's key-loading key signs (ECDSA P-256 / SHA-256, raw r|s)
    for KEY_AGREE: ``"PTSE-KA1" | ephemeral public key (65) | SE nonce (16) |
    serial length u8 | serial (ASCII)``."""
    if len(ephemeral) != PUBLIC_KEY_LEN or len(nonce) != KA_NONCE_LEN:
        raise EncodeError("ephemeral key or nonce of the wrong length", field="key_agree")
    return KA_SIGN_DOMAIN + bytes(ephemeral) + bytes(nonce) + _lv(serial.encode())


def ka_fixed_info(serial: str, ephemeral: bytes, ka_public: bytes, nonce: bytes) -> bytes:
    """FixedInfo of the one-step KDF (NIST SP 800-56C Rev. 2 section 4,
    concatenation format of SP 800-56A Rev. 3 section 5.8.2.1.1):
    ``AlgorithmID | PartyUInfo | PartyVInfo | SuppPubInfo`` with
    AlgorithmID = lv(KA_ALGORITHM_ID), PartyUInfo = lv("payterm-tsm") |
    lv(TSM ephemeral key), PartyVInfo = lv(serial) | lv(SE key-agreement key)
    | lv(SE nonce), SuppPubInfo = L as u32 (384); lv = u8 length | bytes."""
    return (
        _lv(KA_ALGORITHM_ID)
        + _lv(KA_TSM_ID)
        + _lv(ephemeral)
        + _lv(serial.encode())
        + _lv(ka_public)
        + _lv(nonce)
        + u32(KA_KDF_BITS)
    )


def kc_mac_data(serial: str, ephemeral: bytes, nonce: bytes) -> bytes:
    """MacData of the SE's key confirmation (SP 800-56A Rev. 3 section
    5.9.1, unilateral, provider V = the SE): ``"KC_1_V" | lv(serial) |
    lv("payterm-tsm") | lv(SE nonce) | lv(TSM ephemeral key)``; the MacTag
    is AES-CMAC (16 bytes) under the confirmation key."""
    return KC_LABEL + _lv(serial.encode()) + _lv(KA_TSM_ID) + _lv(nonce) + _lv(ephemeral)


def wrap_aad(purpose: int, serial: str) -> bytes:
    """The associated data of a DATA_WRAP blob: ``"PTSE-WRAP1" | purpose u8 |
    serial (ASCII)`` (the serial last, so no length is needed)."""
    if not 0 <= purpose <= 0xFF:
        raise EncodeError("purpose must be a byte", field="purpose")
    return WRAP_DOMAIN + bytes((purpose,)) + serial.encode()


def split_blob(blob: bytes) -> "tuple[bytes, bytes, bytes]":
    """(nonce, ciphertext, tag) of a DATA_WRAP blob; DecodeError on an
    unknown version or a length outside 1..MAX_WRAP bytes of data."""
    n = len(blob) - WRAP_OVERHEAD
    if n < 1 or n > MAX_WRAP:
        raise DecodeError("blob of %d bytes" % len(blob), offset=len(blob), field="blob")
    if blob[0] != WRAP_VERSION:
        raise DecodeError("blob version %d" % blob[0], offset=0, field="version")
    end = 1 + WRAP_NONCE_LEN
    return bytes(blob[1:end]), bytes(blob[end : end + n]), bytes(blob[end + n :])
