"""PIN commands: CA (TPK → ZPK), CC (ZPK → ZPK), CI and G0 (DUKPT → ZPK),
DA/EA (verify by IBM 3624 offset), DC/EC (verify by Visa PVV).

PIN block format codes are payShield's: 01 = ISO 9564 format 0, 05 = format
1, 34 = format 2, 47 = format 3, 48 = format 4 (AES, 32 H).  The account
number field is the last field: 12 digits (the 12 rightmost digits of the
PAN excluding the check digit, as payShield) or the full PAN (13–19 digits;
required when format 48 is involved).  No PIN leaves this module in clear;
error reasons never hold one.
"""

from __future__ import annotations

from functools import lru_cache

from hsm_sim import errors as errs
from hsm_sim.commands._base import Context, Handler, Key, Reader, hexu
from hsm_sim.crypto import des, dukpt_aes, dukpt_tdes, pinblock, pinverify, tr31
from hsm_sim.crypto.aes import AesBlock
from hsm_sim.errors import HsmError
from protocols.crypto import aes_dukpt, pin_format4
from protocols.errors import DecodeError, EncodeError

FORMATS = {"01": 0, "05": 1, "34": 2, "47": 3, "48": 4}
PIN_USAGES = ("P0",)


def _format(r: Reader, what: str) -> tuple[str, int]:
    code = r.take(2, what)
    if code not in FORMATS:
        raise HsmError(errs.INVALID_PIN_BLOCK_FORMAT, reason=f"{what} {code!r}")
    return code, FORMATS[code]


def _block(r: Reader, key: Key, what: str) -> bytes:
    return r.hex(32 if key.is_aes else 16, what)


def _account(r: Reader) -> str:
    text = r.rest()
    if not text.isdigit() or not 12 <= len(text) <= 19:
        raise HsmError(errs.INVALID_ACCOUNT, reason="account number must be 12 to 19 digits")
    return text


def _pan(account: str, fmt: int) -> str:
    if len(account) == 12:
        if fmt == 4:
            raise HsmError(errs.INVALID_ACCOUNT, reason="format 48 needs the full PAN")
        return account + "0"  # the HSM drops the check digit; any digit will do
    return account


def _check_key_for(key: Key, fmt: int, what: str) -> None:
    if (fmt == 4) != key.is_aes:
        need = "an AES key" if fmt == 4 else "a TDES key"
        raise HsmError(errs.INVALID_ALGORITHM, reason=f"{what}: this PIN block format needs {need}")


@lru_cache(maxsize=4096)
def _cipher(value: bytes, is_aes: bool) -> des.TdesBlock | AesBlock:
    """Block cipher objects for the long-lived keys (TPK, ZPK), built once."""
    return AesBlock(value) if is_aes else des.TdesBlock(value)


def _key_cipher(key: Key) -> des.TdesBlock | AesBlock:
    if key.transient:  # a DUKPT transaction key: used once, not cached
        return AesBlock(key.value) if key.is_aes else des.TdesBlock(key.value)
    return _cipher(key.value, key.is_aes)


def _decipher(key: Key, fmt: int, block: bytes, account: str) -> str:
    cipher = _key_cipher(key)
    pan = _pan(account, fmt)
    try:
        if fmt == 4:
            assert isinstance(cipher, AesBlock)
            return pin_format4.decipher(cipher, block, pan)
        assert isinstance(cipher, des.TdesBlock)
        return pinblock.decode(fmt, cipher.decrypt_ecb(block), pan)
    except DecodeError as exc:
        code = errs.INVALID_PIN_LENGTH if exc.field == "pin_length" else errs.PIN_BLOCK_ERROR
        raise HsmError(code, reason="source PIN block does not decipher to a valid block") from None


def _encipher(key: Key, fmt: int, pin: str, account: str) -> bytes:
    cipher = _key_cipher(key)
    pan = _pan(account, fmt)
    if fmt == 4:
        assert isinstance(cipher, AesBlock)
        return bytes(pin_format4.encipher(cipher, pin, pan, None))
    assert isinstance(cipher, des.TdesBlock)
    return cipher.encrypt_ecb(pinblock.encode(fmt, pin, pan))


def translate(
    src: Key, src_fmt: int, block: bytes, dst: Key, dst_fmt: int, account: str, max_len: int
) -> tuple[int, bytes]:
    _check_key_for(src, src_fmt, "source key")
    _check_key_for(dst, dst_fmt, "destination key")
    if src_fmt in pinblock.PAN_FORMATS and dst_fmt not in pinblock.PAN_FORMATS:
        raise HsmError(
            errs.INVALID_PIN_BLOCK_FORMAT, reason="PAN-bound PIN block to a format without PAN"
        )
    pin = _decipher(src, src_fmt, block, account)
    if len(pin) > max_len:
        raise HsmError(errs.INVALID_PIN_LENGTH, reason="PIN longer than the maximum PIN length")
    try:
        out = _encipher(dst, dst_fmt, pin, account)
    except EncodeError:
        raise HsmError(errs.PIN_BLOCK_ERROR, reason="destination PIN block") from None
    return len(pin), out


def _max_len(r: Reader) -> int:
    value = r.number(2, "maximum PIN length")
    if not 4 <= value <= 12:
        raise HsmError(errs.INVALID_INPUT, reason="maximum PIN length must be 04 to 12")
    return value


def _translate_command(r: Reader, src_what: str) -> str:
    src = r.key(src_what, PIN_USAGES, "DBN", "TA", role=0)
    dst = r.key("ZPK", PIN_USAGES, "EBN", "TA", role=1)
    max_len = _max_len(r)
    block = _block(r, src, "source PIN block")
    _code, src_fmt = _format(r, "source PIN block format")
    dst_code, dst_fmt = _format(r, "destination PIN block format")
    account = _account(r)
    length, out = translate(src, src_fmt, block, dst, dst_fmt, account, max_len)
    return f"{length:02d}{hexu(out)}{dst_code}"


def ca(ctx: Context, r: Reader) -> str:
    return _translate_command(r, "TPK")


def cc(ctx: Context, r: Reader) -> str:
    return _translate_command(r, "source ZPK")


def dukpt_pin_key(bdk: Key, ksn: bytes) -> Key:
    """The PIN encryption key for a KSN, as a working key (never stored)."""
    if bdk.is_aes:
        if not aes_dukpt.ksn_is_valid(ksn):
            raise HsmError(
                errs.INVALID_INPUT, reason="KSN counter is not a valid AES DUKPT counter"
            )
        # the initial and intermediate keys from the HSM's in-memory caches
        # (the request's GY derived this KSN's a moment ago)
        value = dukpt_aes.cached_working_key(bdk.value, ksn, aes_dukpt.USAGE_PIN_ENCRYPTION)
    else:
        if len(bdk.value) != 16:
            raise HsmError(errs.INCOMPATIBLE_KEY_LENGTH, reason="TDES BDK must be double length")
        try:
            current = dukpt_tdes.current_key(dukpt_tdes.initial_key(bdk.value, ksn), ksn)
        except ValueError:
            raise HsmError(errs.INVALID_INPUT, reason="KSN counter is 0") from None
        value = dukpt_tdes.variant_key(current, "pin")
    header = tr31.Header("D", "P0", bdk.header.algorithm, "B", "00", "N")
    return Key(header, value, transient=True)


def _dukpt_command(r: Reader, with_source_format: bool) -> str:
    bdk = r.key("BDK", ("B0",), "XN", "TA", role=0)
    dst = r.key("ZPK", PIN_USAGES, "EBN", "TA", role=1)
    descriptor = r.take(3, "KSN descriptor")
    if not all(c in "0123456789ABCDEFabcdef" for c in descriptor):
        raise HsmError(errs.INVALID_INPUT, reason="KSN descriptor is 3 hex characters")
    ksn = r.hex(24 if bdk.is_aes else 20, "KSN")
    if with_source_format:
        _code, src_fmt = _format(r, "source PIN block format")
    else:
        src_fmt = 4 if bdk.is_aes else 0
    block = r.hex(32 if bdk.is_aes else 16, "source PIN block")
    dst_code, dst_fmt = _format(r, "destination PIN block format")
    account = _account(r)
    src = dukpt_pin_key(bdk, ksn)
    length, out = translate(src, src_fmt, block, dst, dst_fmt, account, 12)
    return f"{length:02d}{hexu(out)}{dst_code}"


def ci(ctx: Context, r: Reader) -> str:
    return _dukpt_command(r, with_source_format=False)


def g0(ctx: Context, r: Reader) -> str:
    return _dukpt_command(r, with_source_format=True)


def _validation_data(text: str, account: str) -> str:
    run = text.count("N")
    if run:
        start = text.index("N")
        if text[start : start + run] != "N" * run or run > 12:
            raise HsmError(errs.INVALID_INPUT, reason="PIN validation data: one run of N")
        text = text[:start] + account[-run:] + text[start + run :]
    if not all(c in "0123456789ABCDEF" for c in text):
        raise HsmError(errs.INVALID_INPUT, reason="PIN validation data is not hex")
    return text


def _verify_ibm(r: Reader, what: str) -> str:
    key = r.key(what, PIN_USAGES, "DBN", "T", role=0)
    pvk = r.key("PVK", ("V1",), "VCN", "T", role=1)
    max_len = _max_len(r)
    block = r.hex(16, "PIN block")
    _code, fmt = _format(r, "PIN block format")
    check_len = r.number(2, "check length")
    account = r.digits(12, "account number")
    table = r.digits(16, "decimalisation table")
    data = _validation_data(r.take(12, "PIN validation data").upper(), account)
    offset_field = r.take(12, "offset").upper()
    r.end()
    if not 4 <= check_len <= 12:
        raise HsmError(errs.INVALID_INPUT, reason="check length must be 04 to 12")
    offset = offset_field[:check_len]
    if not offset.isdigit() or offset_field[check_len:] != "F" * (12 - check_len):
        raise HsmError(errs.INVALID_INPUT, reason="offset: check length digits, then F")
    _check_key_for(key, fmt, what)
    pin = _decipher(key, fmt, block, account)
    if len(pin) > max_len:
        raise HsmError(errs.INVALID_PIN_LENGTH, reason="PIN longer than the maximum PIN length")
    if len(pin) < check_len or not pinverify.ibm3624_verify(pvk.value, pin, offset, data, table):
        raise HsmError(errs.VERIFICATION_FAILURE, reason="PIN does not verify")
    return ""


def _verify_pvv(r: Reader, what: str) -> str:
    key = r.key(what, PIN_USAGES, "DBN", "T", role=0)
    pvk = r.key("PVK", ("V2",), "VCN", "T", role=1)
    block = r.hex(16, "PIN block")
    _code, fmt = _format(r, "PIN block format")
    account = r.digits(12, "account number")
    pvki = r.digits(1, "PVKI")
    pvv = r.digits(4, "PVV")
    r.end()
    _check_key_for(key, fmt, what)
    pin = _decipher(key, fmt, block, account)
    if not pinverify.visa_pvv_verify(pvk.value, account + "0", pvki, pin, pvv):
        raise HsmError(errs.VERIFICATION_FAILURE, reason="PIN does not verify")
    return ""


def da(ctx: Context, r: Reader) -> str:
    return _verify_ibm(r, "TPK")


def ea(ctx: Context, r: Reader) -> str:
    return _verify_ibm(r, "ZPK")


def dc(ctx: Context, r: Reader) -> str:
    return _verify_pvv(r, "TPK")


def ec(ctx: Context, r: Reader) -> str:
    return _verify_pvv(r, "ZPK")


COMMANDS: dict[str, Handler] = {
    "CA": ca,
    "CC": cc,
    "CI": ci,
    "G0": g0,
    "DA": da,
    "EA": ea,
    "DC": dc,
    "EC": ec,
}
