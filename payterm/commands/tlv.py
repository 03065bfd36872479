"""`payterm tlv`: decode BER-TLV (EMV) and Data Object Lists to JSON.

    payterm tlv decode HEX...            JSON tree with EMV tag names
    payterm tlv decode --response HEX... the same for a response APDU (data + SW1SW2)
    payterm tlv dol HEX...               the entries of a PDOL/CDOL/DDOL/TDOL

HEX may be split into several arguments or contain spaces.  The JSON shape
is documented in docs/tlv.md.
"""

from __future__ import annotations

import argparse
from typing import Any

from payterm.commands._io import emit_json, parse_hex
from protocols import apdu, emv_tags, tlv


def decode_json(data: bytes) -> list[dict[str, Any]]:
    """BER-TLV bytes to the documented JSON tree (raises DecodeError)."""
    return tlv.to_json(tlv.decode(data))


def response_json(raw: bytes) -> dict[str, Any]:
    """A response APDU: its status word and meaning, and its data as a tree."""
    response = apdu.parse_response(raw)
    return {
        "sw": f"{response.sw:04X}",
        "meaning": apdu.sw_meaning(response.sw),
        "tlv": decode_json(response.data),
    }


def dol_json(dol: bytes) -> list[dict[str, Any]]:
    return [
        {"tag": tlv.tag_hex(tag), "name": emv_tags.tag_name(tag), "length": length}
        for tag, length in tlv.parse_dol(dol)
    ]


def _run_decode(args: argparse.Namespace) -> int:
    data = parse_hex(" ".join(args.hex))
    emit_json(response_json(data) if args.response else decode_json(data))
    return 0


def _run_dol(args: argparse.Namespace) -> int:
    emit_json(dol_json(parse_hex(" ".join(args.hex))))
    return 0


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "tlv", help="decode EMV BER-TLV data and data object lists"
    )
    actions = parser.add_subparsers(dest="tlv_action", metavar="ACTION", required=True)
    decode = actions.add_parser("decode", help="BER-TLV hex to a JSON tree with EMV tag names")
    decode.add_argument("hex", nargs="+", metavar="HEX")
    decode.add_argument(
        "--response",
        action="store_true",
        help="the hex is a response APDU: report SW1SW2 and decode the data before it",
    )
    decode.set_defaults(func=_run_decode)
    dol = actions.add_parser("dol", help="list the (tag, length) entries of a DOL")
    dol.add_argument("hex", nargs="+", metavar="HEX")
    dol.set_defaults(func=_run_dol)
