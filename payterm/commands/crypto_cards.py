"""`payterm crypto` operations on cardholder data: PIN blocks, PIN
verification values, CVV and EMV cryptograms (docs/crypto.md).

Hex in, JSON out with upper-case hex; bad input exits 2 (BadInput, or a
ValueError/DecodeError/EncodeError from the crypto modules). A PIN reaches
stdout only where it is the requested result (`pinblock decode`); nothing is
logged.
"""

from __future__ import annotations

import argparse
from typing import Any

from hsm_sim.crypto import cvv, emv_ac, pinblock, pinverify
from payterm.cli import BadInput
from payterm.commands._io import emit_json, parse_hex

ARQC_CVNS = tuple(sorted(emv_ac.CVN_PROFILES))


def _hex(b: bytes) -> str:
    return b.hex().upper()


def _bytes(text: str, what: str, length: int | None = None) -> bytes:
    value = parse_hex(text, what)
    if not value:
        raise BadInput(f"{what} is empty")
    if length is not None and len(value) != length:
        raise BadInput(f"{what} must be {length} bytes ({2 * length} hex digits)")
    return value


def register(ops: Any) -> None:
    """Add this module's operations to the `payterm crypto` parser."""
    p = ops.add_parser("pinblock", help="ISO 9564-1 PIN blocks, formats 0-4")
    sub = p.add_subparsers(dest="pinblock_command", metavar="ACTION", required=True)
    e = sub.add_parser("encode", help="build a PIN block (enciphered with --key)")
    e.add_argument("--format", type=int, required=True, choices=pinblock.FORMATS)
    e.add_argument("--pin", required=True, help="PIN, 4-12 digits")
    e.add_argument("--pan", help="PAN (formats 0, 3, 4)")
    e.add_argument("--key", help="TDES key (formats 0-3) or AES key (format 4), hex")
    e.add_argument(
        "--fill",
        help="fill, hex: formats 1 and 3 use the first 14 - PIN length nibbles "
        "(A-F for format 3); format 4 the first 8 bytes",
    )
    e.set_defaults(func=_pinblock_encode)
    d = sub.add_parser("decode", help="recover the PIN from a PIN block")
    d.add_argument("--format", type=int, required=True, choices=pinblock.FORMATS)
    d.add_argument("--block", required=True, help="PIN block, hex (clear unless --key)")
    d.add_argument("--pan", help="PAN (formats 0, 3, 4)")
    d.add_argument("--key", help="key the block is enciphered under, hex")
    d.set_defaults(func=_pinblock_decode)
    t = sub.add_parser("translate", help="re-encipher a PIN block under another key/format")
    t.add_argument("--block", required=True, help="enciphered PIN block, hex")
    t.add_argument("--from-format", type=int, required=True, choices=pinblock.FORMATS)
    t.add_argument("--from-key", required=True, help="key the block is under, hex")
    t.add_argument("--to-format", type=int, required=True, choices=pinblock.FORMATS)
    t.add_argument("--to-key", required=True, help="key to encipher under, hex")
    t.add_argument("--pan", help="PAN (formats 0, 3, 4)")
    t.add_argument("--fill", help="fill for the new block, hex (as for encode)")
    t.set_defaults(func=_pinblock_translate)

    p = ops.add_parser("cvv", help="Visa CVV / Mastercard CVC (CVV2: 000, iCVV: 999)")
    p.add_argument("--cvk", required=True, help="CVK A || CVK B, 16 bytes hex")
    p.add_argument("--pan", required=True)
    p.add_argument("--expiry", required=True, help="YYMM")
    p.add_argument("--service-code", required=True, help="3 digits (000 = CVV2, 999 = iCVV)")
    p.set_defaults(func=_cvv)

    p = ops.add_parser("pvv", help="Visa PIN verification value")
    p.add_argument("--pvk", required=True, help="PVK A || PVK B, hex")
    p.add_argument("--pan", required=True)
    p.add_argument("--pvki", required=True, help="PVK index, 1 digit")
    p.add_argument("--pin", required=True)
    p.set_defaults(func=_pvv)

    p = ops.add_parser("ibm-offset", help="IBM 3624 PIN offset")
    p.add_argument("--pvk", required=True, help="PIN verification key, hex")
    p.add_argument("--pin", required=True)
    p.add_argument("--validation-data", required=True, help="1-16 hex characters")
    p.add_argument("--table", default=pinverify.DEFAULT_DECIMALISATION, help="decimalisation")
    p.add_argument("--pad", default="F", help="validation data pad character (default F)")
    p.add_argument("--check-length", type=int, help="offset length (default: PIN length)")
    p.set_defaults(func=_ibm_offset)

    p = ops.add_parser("arqc", help="EMV application cryptogram (ICC MK, session key, ARQC/TC/AAC)")
    p.add_argument("--imk", required=True, help="issuer master key (AC), 16 bytes hex")
    p.add_argument("--pan", required=True)
    p.add_argument("--psn", required=True, help="PAN sequence number, 2 digits")
    p.add_argument("--atc", required=True, help="application transaction counter, 2 bytes hex")
    p.add_argument("--data", required=True, help="the data the card MACs, hex")
    p.add_argument("--cvn", type=int, default=18, choices=ARQC_CVNS, help="default 18")
    p.add_argument(
        "--option", choices=("a", "b"), help="ICC MK derivation (default: the CVN's own)"
    )
    p.add_argument("--un", help="unpredictable number 9F37, 4 bytes (Mastercard CVNs)")
    p.set_defaults(func=_arqc)

    p = ops.add_parser("arpc", help="EMV ARPC, method 1 (ARC) or 2 (CSU)")
    p.add_argument("--method", type=int, required=True, choices=(1, 2))
    p.add_argument("--key", required=True, help="ARPC key (ICC MK or session key per CVN)")
    p.add_argument("--arqc", required=True, help="ARQC, 8 bytes hex")
    p.add_argument("--arc", help="method 1: authorisation response code, 2 bytes hex")
    p.add_argument("--csu", help="method 2: card status update, 4 bytes hex")
    p.add_argument("--prop-data", default="", help="method 2: proprietary auth data, 0-8 bytes")
    p.set_defaults(func=_arpc)


def _optional_key(text: str | None) -> bytes | None:
    return None if text is None else _bytes(text, "--key")


def _pinblock_encode(args: argparse.Namespace) -> int:
    key = _optional_key(args.key)
    if key is None:
        block = pinblock.encode(args.format, args.pin, args.pan, args.fill)
    else:
        block = pinblock.encipher(args.format, key, args.pin, args.pan, args.fill)
    emit_json({"block": _hex(block)})
    return 0


def _pinblock_decode(args: argparse.Namespace) -> int:
    block = _bytes(args.block, "--block")
    key = _optional_key(args.key)
    if key is None:
        pin = pinblock.decode(args.format, block, args.pan)
    else:
        pin = pinblock.decipher(args.format, key, block, args.pan)
    emit_json({"pin": pin})
    return 0


def _pinblock_translate(args: argparse.Namespace) -> int:
    out = pinblock.translate(
        _bytes(args.block, "--block"),
        args.from_format,
        _bytes(args.from_key, "--from-key"),
        args.to_format,
        _bytes(args.to_key, "--to-key"),
        args.pan,
        args.fill,
    )
    emit_json({"block": _hex(out)})
    return 0


def _cvv(args: argparse.Namespace) -> int:
    value = cvv.cvv(_bytes(args.cvk, "--cvk"), args.pan, args.expiry, args.service_code)
    emit_json({"cvv": value})
    return 0


def _pvv(args: argparse.Namespace) -> int:
    emit_json({"pvv": pinverify.visa_pvv(_bytes(args.pvk, "--pvk"), args.pan, args.pvki, args.pin)})
    return 0


def _ibm_offset(args: argparse.Namespace) -> int:
    offset = pinverify.ibm3624_offset(
        _bytes(args.pvk, "--pvk"),
        args.pin,
        args.validation_data,
        args.table,
        args.pad,
        args.check_length,
    )
    emit_json({"offset": offset})
    return 0


def _arqc(args: argparse.Namespace) -> int:
    un = None if args.un is None else _bytes(args.un, "--un", 4)
    out = emv_ac.generate_arqc(
        _bytes(args.imk, "--imk", 16),
        args.pan,
        args.psn,
        _bytes(args.atc, "--atc", 2),
        _bytes(args.data, "--data"),
        args.cvn,
        args.option,
        un,
    )
    emit_json({name: _hex(out[name]) for name in ("icc_mk", "session_key", "arqc")})
    return 0


def _arpc(args: argparse.Namespace) -> int:
    key = _bytes(args.key, "--key", 16)
    arqc = _bytes(args.arqc, "--arqc", 8)
    if args.method == 1:
        if args.arc is None or args.csu is not None:
            raise BadInput("method 1 takes --arc (and no --csu)")
        arpc = emv_ac.arpc_method_1(key, arqc, _bytes(args.arc, "--arc", 2))
    else:
        if args.csu is None or args.arc is not None:
            raise BadInput("method 2 takes --csu [--prop-data] (and no --arc)")
        prop = parse_hex(args.prop_data, "--prop-data")
        arpc = emv_ac.arpc_method_2(key, arqc, _bytes(args.csu, "--csu", 4), prop)
    emit_json({"arpc": _hex(arpc)})
    return 0
