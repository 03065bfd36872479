"""`payterm card`: contact-card wire formats (see docs/drivers.md).

- ``atr HEX`` decodes an Answer-to-Reset (ISO 7816-3): interface bytes,
  protocols, Fi/Di, T=1 parameters, historical bytes, TCK;
- ``t1 HEX [--crc]`` decodes one T=1 block.

Malformed input exits 2 naming the field (DecodeError).
"""

from __future__ import annotations

import argparse

from payterm.commands._io import emit_json, parse_hex
from protocols import atr, t1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("card", help="contact-card ATRs and T=1 blocks")
    sub = parser.add_subparsers(dest="card_command", required=True)
    p_atr = sub.add_parser("atr", help="decode an ATR")
    p_atr.add_argument("hex")
    p_atr.set_defaults(func=_atr)
    p_t1 = sub.add_parser("t1", help="decode a T=1 block")
    p_t1.add_argument("hex")
    p_t1.add_argument("--crc", action="store_true", help="the block ends in a CRC, not an LRC")
    p_t1.set_defaults(func=_t1)


def _atr(args: argparse.Namespace) -> int:
    decoded = atr.decode(parse_hex(args.hex, "ATR"))
    out = decoded.to_dict()
    out["interface"] = [
        {
            "i": g[0],
            "protocol": g[1],
            **{
                name: f"{b:02X}"
                for name, b in zip(("TA", "TB", "TC", "TD"), g[2:], strict=True)
                if b is not None
            },
        }
        for g in decoded.groups
    ]
    emit_json(out)
    return 0


def _t1(args: argparse.Namespace) -> int:
    block = t1.decode(parse_hex(args.hex, "block"), t1.CRC if args.crc else t1.LRC)
    out: dict[str, object] = {
        "kind": block.kind,
        "nad": f"{block.nad:02X}",
        "pcb": f"{block.pcb:02X}",
    }
    if block.kind == t1.I_BLOCK:
        out.update(ns=block.ns, more=block.more)
    elif block.kind == t1.R_BLOCK:
        out.update(nr=block.nr, error=("none", "EDC", "other")[block.error])
    else:
        out.update(type=t1.S_NAMES[block.stype], response=block.response)
    out["inf"] = block.inf.hex().upper()
    emit_json(out)
    return 0
