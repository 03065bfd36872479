"""`payterm iso8583`: decode ISO 8583 messages to JSON and encode them back.

``decode HEX`` prints the message as JSON; ``encode FILE`` reads that same JSON
(FILE or ``-`` for stdin) and prints ``{"hex": ...}``.  See docs/iso8583.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from payterm.cli import BadInput
from payterm.commands._io import emit_json, parse_hex, read_json_file
from protocols import iso8583, tlv
from protocols.errors import DecodeError
from protocols.iso8583_specs import DEFAULT_SPEC_NAME, SPECS

# Fields whose value is BER-TLV; decode also shows them as a TLV tree.
TLV_FIELDS = ("55",)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "iso8583", help="decode and encode ISO 8583 messages"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    dec = actions.add_parser("decode", help="decode a message given as hex; print JSON")
    dec.add_argument("hex", metavar="HEX", help="the message in hex, or - to read it from stdin")
    _add_common(dec)
    dec.set_defaults(func=run_decode)

    enc = actions.add_parser("encode", help="encode the JSON that decode prints; print its hex")
    enc.add_argument("file", metavar="FILE", help="JSON file, or - for stdin")
    _add_common(enc)
    enc.set_defaults(func=run_encode)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--spec",
        choices=sorted(SPECS),
        default=None,
        help=f'field spec (default: the JSON\'s "spec" for encode, else {DEFAULT_SPEC_NAME})',
    )
    parser.add_argument(
        "--framed",
        action="store_true",
        help="the message carries (decode) or gets (encode) the 2-byte TCP length header",
    )


def run_decode(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.hex == "-" else args.hex
    data = parse_hex(text)
    if args.framed:
        data = iso8583.unframe(data)
    spec_name = args.spec or DEFAULT_SPEC_NAME
    emit_json(message_to_json(iso8583.decode(data, SPECS[spec_name]), spec_name))
    return 0


def run_encode(args: argparse.Namespace) -> int:
    obj = read_json_file(args.file)
    spec_name, doc = message_from_json(obj, args.spec)
    data = iso8583.encode(doc, SPECS[spec_name])
    if args.framed:
        data = iso8583.frame(data)
    emit_json({"hex": data.hex().upper()})
    return 0


def message_to_json(doc: dict[str, str], spec_name: str) -> dict[str, Any]:
    """The JSON form of a decoded message (what `decode` prints)."""
    spec = SPECS[spec_name]
    bitmap = {"primary": doc["p"]}
    if "1" in doc:
        bitmap["secondary"] = doc["1"]
    fields: list[dict[str, Any]] = []
    for key in sorted((k for k in doc if k.isdigit() and k != "1"), key=int):
        entry: dict[str, Any] = {
            "field": int(key),
            "name": iso8583.field_name(spec, key),
            "value": doc[key],
        }
        if key in TLV_FIELDS:
            try:
                entry["tlv"] = tlv.to_json(tlv.decode(bytes.fromhex(doc[key])))
            except DecodeError as exc:
                # The message is still valid ISO 8583; say why there is no tree.
                entry["tlv_error"] = str(exc)
        fields.append(entry)
    return {"spec": spec_name, "mti": doc["t"], "bitmap": bitmap, "fields": fields}


def message_from_json(obj: Any, spec_option: str | None) -> tuple[str, dict[str, str]]:
    """Spec name and message dict from the JSON `decode` prints.

    "bitmap", "name", "tlv" and "tlv_error" are ignored: bitmaps follow from
    the fields present, and field values are authoritative.
    """
    if not isinstance(obj, dict):
        raise BadInput("message JSON must be an object")
    spec_name = obj.get("spec", spec_option or DEFAULT_SPEC_NAME)
    if spec_option is not None and spec_name != spec_option:
        raise BadInput(f"JSON says spec {spec_name!r} but --spec is {spec_option!r}")
    if spec_name not in SPECS:
        raise BadInput(f"unknown spec {spec_name!r}; known: {', '.join(sorted(SPECS))}")
    mti = obj.get("mti")
    if not isinstance(mti, str):
        raise BadInput('"mti" must be a string such as "0200"')
    fields = obj.get("fields", [])
    if not isinstance(fields, list):
        raise BadInput('"fields" must be a list')
    doc = {"t": mti}
    for item in fields:
        if not isinstance(item, dict):
            raise BadInput('each entry of "fields" must be an object')
        number = item.get("field")
        value = item.get("value")
        if isinstance(number, bool) or not isinstance(number, int) or not 2 <= number <= 128:
            raise BadInput(f"field number must be an integer 2..128, not {number!r}")
        if not isinstance(value, str):
            raise BadInput(f"field {number}: value must be a string")
        key = str(number)
        if key in doc:
            raise BadInput(f"field {number} appears twice")
        doc[key] = value
    return spec_name, doc
