"""CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR.

The checksum of EMVCo QR payloads (EMV QRCPS, ID "63") and of many serial
protocols.  Check value over b"123456789" is 0x29B1 (Greg Cook's CRC
catalogue, "CRC-16/IBM-3740", alias CRC-16/CCITT-FALSE).
"""

POLY = 0x1021
INIT = 0xFFFF


def _make_table() -> "list[int]":
    # One entry per possible top byte: the register after shifting it out.
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ POLY) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_TABLE = _make_table()


def crc16_ccitt_false(data: bytes, crc: int = INIT) -> int:
    """CRC of data; pass a previous result as crc to continue over chunks."""
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[(crc >> 8) ^ byte]
    return crc


def crc16_hex(data: bytes) -> str:
    """The CRC as four upper-case hex digits, as EMVCo QR payloads carry it."""
    return "%04X" % crc16_ccitt_false(data)
