"""Offline data authentication for the contactless kernels (EMV Book 2 §5.3,
§6.4, §6.6): CA public key lookup, issuer and ICC public key recovery, and
recovery of signed dynamic application data (fDDA and CDA).

RSA recovery is ``pow(signature, e, n)`` on MicroPython's long ints; SHA-1 is
``hashlib.sha1``.  Every check failure raises ``OdaFailed`` naming the step.
CA public keys are injected: ``capks`` maps (RID bytes, index int) to
(modulus bytes, exponent bytes).
"""

import hashlib

HEADER = 0x6A
TRAILER = 0xBC


class OdaFailed(Exception):
    pass


def sha1(data):
    return hashlib.sha1(data).digest()


def recover(signature, modulus, exponent):
    """RSA public-key operation; the block has the modulus length."""
    if len(signature) != len(modulus):
        raise OdaFailed("signature length differs from the modulus")
    n = int.from_bytes(modulus, "big")
    s = int.from_bytes(signature, "big")
    if s >= n:
        raise OdaFailed("signature not below the modulus")
    return pow(s, int.from_bytes(exponent, "big"), n).to_bytes(len(modulus), "big")


def _frame(block, fmt, what):
    if block[0] != HEADER or block[-1] != TRAILER or block[1] != fmt:
        raise OdaFailed(what + ": header, format or trailer wrong")


def _bcd_digits(raw):
    text = raw.hex().upper()
    at = text.find("F")
    return text if at < 0 else text[:at]


def _expired(mmyy, today):
    """MMYY certificate expiry before today (YYMMDD bytes)?"""
    cert = (_century(mmyy[1]), mmyy[1], mmyy[0])
    now = (_century(today[0]), today[0], today[1])
    return cert < now


def _century(yy_bcd):
    yy = (yy_bcd >> 4) * 10 + (yy_bcd & 0x0F)
    return 19 if yy >= 50 else 20


def issuer_key(capks, rid, data, today):
    """Recover the issuer public key (Book 2 §5.3 / §6.3): (modulus, exponent)."""
    index = data.get(0x8F)
    cert = data.get(0x90)
    exponent = data.get(0x9F32)
    if index is None or cert is None or exponent is None:
        raise OdaFailed("issuer public key data missing")
    capk = capks.get((rid, index[0]))
    if capk is None:
        raise OdaFailed("CA public key %02X not found" % index[0])
    ca_modulus, ca_exponent = capk
    block = recover(cert, ca_modulus, ca_exponent)
    _frame(block, 0x02, "issuer certificate")
    nca = len(ca_modulus)
    remainder = data.get(0x92, b"")
    if sha1(block[1 : nca - 21] + remainder + exponent) != block[nca - 21 : nca - 1]:
        raise OdaFailed("issuer certificate hash")
    issuer_id = _bcd_digits(block[2:6])
    pan = _bcd_digits(data.get(0x5A, b""))
    if len(issuer_id) < 3 or not pan.startswith(issuer_id):
        raise OdaFailed("issuer identifier does not match the PAN")
    if _expired(block[6:8], today):
        raise OdaFailed("issuer certificate expired")
    if block[11] != 0x01 or block[12] != 0x01:
        raise OdaFailed("issuer certificate algorithm")
    length = block[13]
    leftmost = block[15 : nca - 21]
    modulus = leftmost[:length] if length <= len(leftmost) else leftmost + remainder
    if len(modulus) != length:
        raise OdaFailed("issuer public key length")
    return modulus, exponent


def icc_key(issuer, data, static_data, today):
    """Recover the ICC public key (Book 2 §6.4): (modulus, exponent)."""
    cert = data.get(0x9F46)
    exponent = data.get(0x9F47)
    if cert is None or exponent is None:
        raise OdaFailed("ICC public key data missing")
    modulus_i, exponent_i = issuer
    block = recover(cert, modulus_i, exponent_i)
    _frame(block, 0x04, "ICC certificate")
    ni = len(modulus_i)
    remainder = data.get(0x9F48, b"")
    body = block[1 : ni - 21]
    if sha1(body + remainder + exponent + static_data) != block[ni - 21 : ni - 1]:
        raise OdaFailed("ICC certificate hash (static data)")
    pan = _bcd_digits(data.get(0x5A, b""))
    if not pan or _bcd_digits(block[2:12]) != pan:
        raise OdaFailed("ICC certificate PAN")
    if _expired(block[12:14], today):
        raise OdaFailed("ICC certificate expired")
    if block[17] != 0x01 or block[18] != 0x01:
        raise OdaFailed("ICC certificate algorithm")
    length = block[19]
    leftmost = block[21 : ni - 21]
    modulus = leftmost[:length] if length <= len(leftmost) else leftmost + remainder
    if len(modulus) != length:
        raise OdaFailed("ICC public key length")
    return modulus, exponent


def dynamic_data(key, sdad, terminal_dynamic_data):
    """Recover signed dynamic application data (Book 2 Table 17, format 05)
    and check its hash; returns the ICC dynamic data."""
    modulus, exponent = key
    block = recover(sdad, modulus, exponent)
    _frame(block, 0x05, "signed dynamic data")
    if block[2] != 0x01:
        raise OdaFailed("signed dynamic data hash algorithm")
    n = len(modulus)
    if sha1(block[1 : n - 21] + terminal_dynamic_data) != block[n - 21 : n - 1]:
        raise OdaFailed("signed dynamic data hash")
    length = block[3]
    if 4 + length > n - 21:
        raise OdaFailed("ICC dynamic data length")
    return block[4 : 4 + length]


def static_data(afl_entries, records, aip, tag_list):
    """Static data to be authenticated (Book 3 §10.3): the ODA records' 70
    values (SFI 1-10) or whole records (SFI 11-30), then the AIP when the SDA
    tag list 9F4A names it.  ``records`` maps (sfi, number) to the raw record."""
    out = b""
    for sfi, first, _last, count in afl_entries:
        for number in range(first, first + count):
            raw = records.get((sfi, number))
            if raw is None:
                raise OdaFailed("ODA record missing")
            if sfi <= 10:
                if not raw or raw[0] != 0x70:
                    raise OdaFailed("ODA record not a 70 template")
                out += _template_value(raw)
            else:
                out += raw
    if tag_list is not None:
        if tag_list != b"\x82":
            raise OdaFailed("SDA tag list names more than the AIP")
        out += aip
    return out


def _template_value(raw):
    if len(raw) < 2:
        raise OdaFailed("record too short")
    first = raw[1]
    start = 2
    length = first
    if first >= 0x80:
        count = first & 0x7F
        start = 2 + count
        length = int.from_bytes(raw[2:start], "big")
    if start + length != len(raw):
        raise OdaFailed("record length")
    return raw[start:]
