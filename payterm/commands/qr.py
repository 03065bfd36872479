"""`payterm qr`: EMVCo merchant-presented QR payloads (see docs/qr.md).

- ``decode PAYLOAD`` prints every data object as JSON, in payload order;
- ``encode FILE`` reads exactly that JSON back and prints ``{"payload": ...}``
  (``--raw``: the bare payload), byte for byte the decoded payload;
- ``render PAYLOAD --png OUT`` draws the QR symbol (protocols.qr) as PNG;
- ``cliq PAYLOAD`` checks the CliQ profile and prints its fields.

A wrong or missing CRC and any EMVCo conformance problem exit 2, naming the
object; ``--no-verify`` skips the CRC check, ``--lenient`` reports the
conformance problems in the JSON instead of failing.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from payterm.cli import BadInput
from payterm.commands._io import emit_json, read_json_file
from payterm.qr_png import DEFAULT_BORDER, DEFAULT_SCALE, write_png
from protocols import emvqr, emvqr_cliq, qr

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocols.emvqr import Objects

# Keys decode prints at the top level; encode reads only "objects".
TOP_LEVEL_KEYS = ("payload", "crc", "crc_ok", "problems", "objects")
OBJECT_KEYS = ("id", "name", "value", "objects")
CLIQ_FIELDS = (
    "alias_type",
    "alias",
    "bic",
    "dynamic",
    "amount",
    "merchant_name",
    "merchant_city",
    "mcc",
    "postal_code",
    "bill_number",
    "reference",
    "purpose",
    "terminal_label",
    "language",
    "name_ar",
    "city_ar",
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "qr", help="decode, encode and render EMVCo merchant-presented QR payloads"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    dec = actions.add_parser("decode", help="decode a payload; print its objects as JSON")
    dec.add_argument("payload", metavar="PAYLOAD", help="the payload text, or - for stdin")
    _add_checks(dec, crc=True)
    dec.set_defaults(func=run_decode)

    enc = actions.add_parser("encode", help="encode the JSON that decode prints")
    enc.add_argument("file", metavar="FILE", help="JSON file, or - for stdin")
    enc.add_argument("--raw", action="store_true", help="print the bare payload, not JSON")
    _add_checks(enc, crc=False)
    enc.set_defaults(func=run_encode)

    ren = actions.add_parser("render", help="render a payload as a QR symbol in a PNG file")
    ren.add_argument("payload", metavar="PAYLOAD", help="the payload text, or - for stdin")
    ren.add_argument("--png", required=True, metavar="OUT.png", help="PNG file to write")
    ren.add_argument("--ecc", choices=list("LMQH"), default="M", help="error correction level")
    ren.add_argument(
        "--scale", type=int, default=DEFAULT_SCALE, help="pixels per module (default 8)"
    )
    ren.add_argument(
        "--border", type=int, default=DEFAULT_BORDER, help="quiet zone in modules (default 4)"
    )
    _add_checks(ren, crc=True)
    ren.set_defaults(func=run_render)

    cliq = actions.add_parser("cliq", help="check a payload against the CliQ profile")
    cliq.add_argument("payload", metavar="PAYLOAD", help="the payload text, or - for stdin")
    cliq.add_argument("--no-verify", action="store_true", help="do not check the CRC")
    cliq.set_defaults(func=run_cliq)


def _add_checks(parser: argparse.ArgumentParser, crc: bool) -> None:
    if crc:
        parser.add_argument(
            "--no-verify", action="store_true", help="accept a wrong CRC (reported as crc_ok)"
        )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="report EMVCo conformance problems instead of failing",
    )


def _payload_argument(text: str) -> str:
    if text != "-":
        return text
    # A payload never ends in a line break, so strip only the one a shell adds.
    return sys.stdin.read().rstrip("\r\n")


def _problems_json(problems: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"path": path, "reason": reason} for path, reason in problems]


def _checked(text: str, verify_crc: bool, lenient: bool) -> tuple[emvqr.Payload, list[Any]]:
    payload = emvqr.decode(text, verify_crc=verify_crc, strict=not lenient)
    return payload, _problems_json(emvqr.problems(payload)) if lenient else []


# ----------------------------------------------------------------- decode


def objects_to_json(objects: Objects, context: str = emvqr.ROOT) -> list[dict[str, Any]]:
    """Object list -> [{"id", "name", "value" | "objects"}], order kept."""
    result: list[dict[str, Any]] = []
    for tag, value in objects:
        entry: dict[str, Any] = {"id": tag, "name": emvqr.name_of(tag, context)}
        if isinstance(value, list):
            inner = emvqr.child_context(tag, context)
            entry["objects"] = objects_to_json(value, inner or context)
        else:
            entry["value"] = value
        result.append(entry)
    return result


def payload_to_json(payload: emvqr.Payload, problems: list[Any]) -> dict[str, Any]:
    computed = payload.computed_crc()
    return {
        "payload": payload.text,
        "crc": {"found": payload.crc, "computed": computed},
        "crc_ok": payload.crc == computed,
        "problems": problems,
        "objects": objects_to_json(payload.objects),
    }


def run_decode(args: argparse.Namespace) -> int:
    payload, problems = _checked(_payload_argument(args.payload), not args.no_verify, args.lenient)
    emit_json(payload_to_json(payload, problems))
    return 0


# ----------------------------------------------------------------- encode


def objects_from_json(entries: Any, where: str = "objects") -> Objects:
    """The inverse of objects_to_json; BadInput names the offending entry."""
    if not isinstance(entries, list):
        raise BadInput(f"{where}: expected a list of objects")
    objects: Objects = []
    for index, entry in enumerate(entries):
        place = f"{where}[{index}]"
        if not isinstance(entry, dict):
            raise BadInput(f"{place}: expected an object with id and value or objects")
        unknown = sorted(set(entry) - set(OBJECT_KEYS))
        if unknown:
            raise BadInput(f"{place}: unknown keys {unknown}")
        tag = entry.get("id")
        if not isinstance(tag, str):
            raise BadInput(f'{place}: "id" must be a string such as "59"')
        if ("value" in entry) == ("objects" in entry):
            raise BadInput(f'{place}: give exactly one of "value" and "objects"')
        if "objects" in entry:
            objects.append((tag, objects_from_json(entry["objects"], place + ".objects")))
        elif isinstance(entry["value"], str):
            objects.append((tag, entry["value"]))
        else:
            raise BadInput(f'{place}: "value" must be a string')
    return objects


def run_encode(args: argparse.Namespace) -> int:
    document = read_json_file(args.file)
    if isinstance(document, dict):
        unknown = sorted(set(document) - set(TOP_LEVEL_KEYS))
        if unknown:
            raise BadInput(f"{args.file}: unknown keys {unknown}")
        if "objects" not in document:
            raise BadInput(f'{args.file}: no "objects" list')
        document = document["objects"]
    text = emvqr.encode(objects_from_json(document))
    # The encoder computed the CRC; the EMVCo rules still apply.
    _, problems = _checked(text, verify_crc=True, lenient=args.lenient)
    if args.raw:
        sys.stdout.write(text + "\n")
        for problem in problems:
            print(f"payterm qr: {problem['path']}: {problem['reason']}", file=sys.stderr)
    else:
        emit_json({"payload": text, "problems": problems})
    return 0


# ----------------------------------------------------------------- render


def run_render(args: argparse.Namespace) -> int:
    text = _payload_argument(args.payload)
    if args.scale < 1 or args.scale > 100:
        raise BadInput("--scale must be 1 to 100")
    if args.border < 0 or args.border > 100:
        raise BadInput("--border must be 0 to 100")
    _, problems = _checked(text, not args.no_verify, args.lenient)
    symbol = qr.encode(text, ecc=args.ecc)
    width, height = write_png(symbol.matrix, args.png, args.scale, args.border)
    emit_json(
        {
            "png": args.png,
            "version": symbol.version,
            "ecc": symbol.ecc,
            "mask": symbol.mask,
            "mode": symbol.mode,
            "modules": symbol.size,
            "pixels": [width, height],
            "problems": problems,
        }
    )
    return 0


# ------------------------------------------------------------------- cliq


def run_cliq(args: argparse.Namespace) -> int:
    parsed = emvqr_cliq.parse_cliq(_payload_argument(args.payload), not args.no_verify)
    result: dict[str, Any] = {"profile": "cliq", "template_id": parsed.template_id}
    for name in CLIQ_FIELDS:
        result[name] = getattr(parsed, name)
    result["crc_ok"] = parsed.payload.crc_ok()
    emit_json(result)
    return 0
