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

SIG_RAW = 0
SIG_DER = 1

# What SIGN signs: ECDSA P-256 with SHA-256 over this message, so the
# signature binds the counter (and the slot) to the caller's digest.
SIGN_DOMAIN = b"PTSE-SIG1"

# What UNLOCK's CMAC covers (under the TSM unlock key).
UNLOCK_DOMAIN = b"PTSE-UNLOCK1"

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
