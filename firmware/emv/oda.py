"""Offline data authentication, EMV 4.3 Book 2 §5 (SDA) and §6 (DDA, CDA).

RSA recovery is ``pow(x, e, n)`` on Python ints, so it runs on MicroPython's
big integers; the hash is SHA-1 (hash algorithm indicator 01).  Each step
raises ``OdaError``; ``missing`` says the card lacked a data object (TVR
"ICC data missing" as well as the method's "failed" bit)."""

import hashlib

HEADER = 0x6A
TRAILER = 0xBC
SHA1 = 0x01
RSA = 0x01
HASH_LENGTH = 20


class OdaError(Exception):
    def __init__(self, reason: str, missing: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


class PublicKey:
    def __init__(self, modulus: bytes, exponent: bytes) -> None:
        self.modulus = modulus
        self.exponent = exponent
        self.n = int.from_bytes(modulus, "big")
        self.e = int.from_bytes(exponent, "big")
        self.length = len(modulus)


def recover(key: PublicKey, signature: bytes) -> bytes:
    """Book 2 §5.3 step 1–3: length, the public key operation, header and trailer."""
    if len(signature) != key.length:
        raise OdaError("signature length differs from the key's modulus")
    value = int.from_bytes(signature, "big")
    if value >= key.n:
        raise OdaError("signature not below the modulus")
    block = pow(value, key.e, key.n).to_bytes(key.length, "big")
    if block[0] != HEADER or block[-1] != TRAILER:
        raise OdaError("recovered data header/trailer is not 6A/BC")
    return block


def _check_hash(block: bytes, extra: bytes) -> None:
    digest = hashlib.sha1(block[1 : -HASH_LENGTH - 1] + extra).digest()
    if digest != block[-HASH_LENGTH - 1 : -1]:
        raise OdaError("hash result differs")


def _digits(raw: bytes) -> str:
    """A cn field as its digits (the F padding dropped)."""
    text = raw.hex().upper()
    end = text.find("F")
    return text if end < 0 else text[:end]


def _bcd(byte: int) -> int:
    return (byte >> 4) * 10 + (byte & 15)


def _not_expired(mmyy: bytes, today: bytes) -> bool:
    """A certificate expiry MMYY is valid through the last day of that month."""
    cert = _bcd(mmyy[1]) * 100 + _bcd(mmyy[0])
    now = _bcd(today[0]) * 100 + _bcd(today[1])
    return cert >= now


def _need(store: "dict[int, bytes]", tag: int) -> bytes:
    value = store.get(tag)
    if value is None:
        raise OdaError("data object %X missing" % tag, missing=True)
    return value


def issuer_public_key(
    capk: "PublicKey", store: "dict[int, bytes]", today: bytes, revoked: "object" = None
) -> PublicKey:
    """Book 2 §5.3 / §6.3: recover the issuer public key from certificate 90.

    ``revoked(serial) -> bool`` is the CA revocation list check (§5.3 step 10).
    """
    cert = _need(store, 0x90)
    exponent = _need(store, 0x9F32)
    pan = _need(store, 0x5A)
    remainder = store.get(0x92, b"")
    block = recover(capk, cert)
    if block[1] != 0x02:
        raise OdaError("issuer certificate format is not 02")
    _check_hash(block, remainder + exponent)
    issuer_id = _digits(block[2:6])
    if len(issuer_id) < 3 or not _digits(pan).startswith(issuer_id):
        raise OdaError("issuer identifier does not match the PAN")
    if not _not_expired(block[6:8], today):
        raise OdaError("issuer certificate expired")
    if revoked is not None and revoked(block[8:11]):  # type: ignore[operator]
        raise OdaError("issuer certificate revoked")
    if block[11] != SHA1 or block[12] != RSA:
        raise OdaError("issuer certificate algorithm not supported")
    length = block[13]
    if block[14] != len(exponent):
        raise OdaError("issuer exponent length differs")
    room = capk.length - 36
    if length <= room:
        modulus = block[15 : 15 + length]
    else:
        if len(remainder) != length - room:
            raise OdaError("issuer public key remainder missing", missing=not remainder)
        modulus = block[15 : 15 + room] + remainder
    return PublicKey(modulus, exponent)


def icc_public_key(
    issuer: PublicKey, store: "dict[int, bytes]", static_data: bytes, today: bytes
) -> PublicKey:
    """Book 2 §6.4: recover the ICC public key from certificate 9F46."""
    return _icc_certificate(issuer, store, (0x9F46, 0x9F47, 0x9F48), static_data, today)


def icc_pin_public_key(issuer: PublicKey, store: "dict[int, bytes]", today: bytes) -> PublicKey:
    """Book 2 §7.1: the ICC PIN Encipherment Public Key from certificate
    9F2D (exponent 9F2E, remainder 9F2F); no static data in its hash."""
    return _icc_certificate(issuer, store, (0x9F2D, 0x9F2E, 0x9F2F), b"", today)


def _icc_certificate(
    issuer: PublicKey,
    store: "dict[int, bytes]",
    tags: "tuple[int, int, int]",
    static_data: bytes,
    today: bytes,
) -> PublicKey:
    cert = _need(store, tags[0])
    exponent = _need(store, tags[1])
    pan = _need(store, 0x5A)
    remainder = store.get(tags[2], b"")
    block = recover(issuer, cert)
    if block[1] != 0x04:
        raise OdaError("ICC certificate format is not 04")
    _check_hash(block, remainder + exponent + static_data)
    if _digits(block[2:12]) != _digits(pan):
        raise OdaError("ICC certificate PAN differs")
    if not _not_expired(block[12:14], today):
        raise OdaError("ICC certificate expired")
    if block[17] != SHA1 or block[18] != RSA:
        raise OdaError("ICC certificate algorithm not supported")
    length = block[19]
    if block[20] != len(exponent):
        raise OdaError("ICC exponent length differs")
    room = issuer.length - 42
    if length <= room:
        modulus = block[21 : 21 + length]
    else:
        if len(remainder) != length - room:
            raise OdaError("ICC public key remainder missing", missing=not remainder)
        modulus = block[21 : 21 + room] + remainder
    return PublicKey(modulus, exponent)


def verify_sda(issuer: PublicKey, store: "dict[int, bytes]", static_data: bytes) -> bytes:
    """Book 2 §5.4: verify Signed Static Application Data (93); the DAC (9F45)."""
    block = recover(issuer, _need(store, 0x93))
    if block[1] != 0x03:
        raise OdaError("signed static data format is not 03")
    if block[2] != SHA1:
        raise OdaError("hash algorithm not supported")
    _check_hash(block, static_data)
    return block[3:5]


def verify_sdad(icc: PublicKey, sdad: bytes, terminal_data: bytes) -> bytes:
    """Book 2 §6.5.2 / §6.6.2: Signed Dynamic Application Data (format 05).

    ``terminal_data`` is the DDOL data (DDA) or the unpredictable number
    (CDA); returns the ICC Dynamic Data."""
    block = recover(icc, sdad)
    if block[1] != 0x05:
        raise OdaError("signed dynamic data format is not 05")
    if block[2] != SHA1:
        raise OdaError("hash algorithm not supported")
    length = block[3]
    if 4 + length > icc.length - HASH_LENGTH - 1:
        raise OdaError("ICC dynamic data length too long")
    _check_hash(block, terminal_data)
    return block[4 : 4 + length]


def dynamic_number(icc_dynamic: bytes) -> bytes:
    """ICC Dynamic Number (9F4C) from the ICC Dynamic Data (Book 2 Table 19)."""
    if not icc_dynamic or 1 + icc_dynamic[0] > len(icc_dynamic):
        raise OdaError("ICC dynamic number malformed")
    return icc_dynamic[1 : 1 + icc_dynamic[0]]


def verify_cda(
    icc: PublicKey, sdad: bytes, unpredictable: bytes, cid: bytes, hash_input: bytes
) -> "tuple[bytes, bytes]":
    """Book 2 §6.6.2: CDA over a GENERATE AC response.

    ``hash_input`` is PDOL data ‖ CDOL1 data (‖ CDOL2 data) ‖ the response's
    data objects other than 9F4B.  Returns (ICC dynamic number, cryptogram)."""
    dynamic = verify_sdad(icc, sdad, unpredictable)
    number = dynamic_number(dynamic)
    pos = 1 + len(number)
    if len(dynamic) < pos + 1 + 8 + HASH_LENGTH:
        raise OdaError("CDA dynamic data too short")
    if dynamic[pos : pos + 1] != cid:
        raise OdaError("CDA: CID differs from the signed one")
    cryptogram = dynamic[pos + 1 : pos + 9]
    if dynamic[pos + 9 : pos + 9 + HASH_LENGTH] != hashlib.sha1(hash_input).digest():
        raise OdaError("CDA: transaction data hash code differs")
    return number, cryptogram


def static_data(records: "list[tuple[int, bytes]]", tag_list: "bytes | None", aip: bytes) -> bytes:
    """Book 3 §10.3: the static data to be authenticated.

    ``records`` holds (SFI, raw record) for the records the AFL flags; for
    SFI 1–10 the value of the 70 template, for 11–30 the whole record.  The
    Static Data Authentication Tag List (9F4A) may only name the AIP (82)."""
    parts = []
    for sfi, raw in records:
        if sfi <= 10:
            if not raw or raw[0] != 0x70:
                raise OdaError("ODA record is not a 70 template")
            parts.append(_template_value(raw))
        else:
            parts.append(raw)
    if tag_list:
        if tag_list != b"\x82":
            raise OdaError("static data tag list names more than the AIP")
        parts.append(aip)
    return b"".join(parts)


def _template_value(raw: bytes) -> bytes:
    if len(raw) < 2:
        raise OdaError("record truncated")
    first = raw[1]
    if first < 0x80:
        start, length = 2, first
    elif first == 0x81 and len(raw) >= 3:
        start, length = 3, raw[2]
    elif first == 0x82 and len(raw) >= 4:
        start, length = 4, (raw[2] << 8) | raw[3]
    else:
        raise OdaError("record length malformed")
    if start + length != len(raw):
        raise OdaError("record length differs")
    return raw[start:]
