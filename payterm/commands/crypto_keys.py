"""`payterm crypto` operations on keys: kcv, dukpt, mac, tr31 (docs/crypto.md).

Hex in, JSON out with upper-case hex; bad input exits 2 (BadInput or a
ValueError from the crypto modules).  Key material goes to stdout only as
the requested result, never to logs.
"""

from __future__ import annotations

import argparse
from typing import Any

from hsm_sim.crypto import dukpt_aes, dukpt_tdes, keys, mac, tr31
from payterm.cli import BadInput
from payterm.commands._io import emit_json, parse_hex


def _hex(b: bytes) -> str:
    return b.hex().upper()


def _key(text: str, what: str = "--key") -> bytes:
    key = parse_hex(text, what)
    if not key:
        raise BadInput(f"{what} is empty")
    return key


def register(ops: Any) -> None:
    """Add this module's operations to the `payterm crypto` parser."""
    p = ops.add_parser("kcv", help="key check value (TDES: E(zeros); AES: CMAC(zeros))")
    p.add_argument("--key", required=True, help="key, hex")
    p.add_argument("--alg", choices=("tdes", "aes"), default="tdes")
    p.add_argument(
        "--length", type=int, default=3, help="KCV length in bytes (default 3 = 6 hex digits)"
    )
    p.set_defaults(func=_kcv)

    p = ops.add_parser("dukpt", help="DUKPT initial and working keys for a KSN")
    p.add_argument("--bdk", required=True, help="base derivation key, hex")
    p.add_argument(
        "--ksn", required=True, help="KSN, hex: 10 bytes (TDES) or 12 bytes = IKID 8 + counter 4"
    )
    p.add_argument("--alg", required=True, choices=("tdes", "aes128", "aes192", "aes256"))
    p.set_defaults(func=_dukpt)

    p = ops.add_parser("mac", help="MAC: ISO 9797-1 alg 3 (retail), alg 1 (cbc), CMAC")
    p.add_argument("--alg", required=True, choices=mac.ALGORITHMS)
    p.add_argument("--key", required=True, help="MAC key, hex")
    p.add_argument("--data", required=True, help="data, hex")
    p.add_argument(
        "--padding",
        type=int,
        choices=(1, 2, 3),
        help="ISO 9797-1 padding method for retail/cbc (default 1)",
    )
    p.set_defaults(func=_mac)

    p = ops.add_parser("tr31", help="TR-31 / X9.143 key blocks (versions B and D)")
    sub = p.add_subparsers(dest="tr31_command", metavar="ACTION", required=True)
    w = sub.add_parser("wrap", help="wrap a key into a key block")
    w.add_argument("--kbpk", required=True, help="key block protection key, hex")
    w.add_argument("--header", required=True, help="header text, e.g. D0000P0AE00E0000")
    w.add_argument("--key", required=True, help="key to wrap, hex")
    w.add_argument("--random", help="padding bytes, hex (for reproducible blocks)")
    w.add_argument("--masked-length", type=int, help="pad as if the key had this many bytes")
    w.set_defaults(func=_tr31_wrap)
    u = sub.add_parser("unwrap", help="authenticate and unwrap a key block")
    u.add_argument("--kbpk", required=True, help="key block protection key, hex")
    u.add_argument("--block", required=True, help="key block text")
    u.set_defaults(func=_tr31_unwrap)


def _kcv(args: argparse.Namespace) -> int:
    key = _key(args.key)
    emit_json({"kcv": _hex(keys.kcv(key, args.alg, args.length))})
    return 0


def _dukpt(args: argparse.Namespace) -> int:
    bdk = _key(args.bdk, "--bdk")
    ksn = _key(args.ksn, "--ksn")
    if args.alg == "tdes":
        out = dukpt_tdes.working_keys(bdk, ksn)
    else:
        want = {"aes128": 16, "aes192": 24, "aes256": 32}[args.alg]
        if len(bdk) != want:
            raise BadInput(f"--bdk must be {want} bytes for {args.alg}, not {len(bdk)}")
        out = dukpt_aes.working_keys(bdk, ksn)
    emit_json({name: _hex(value) for name, value in out.items()})
    return 0


def _mac(args: argparse.Namespace) -> int:
    key = _key(args.key)
    data = parse_hex(args.data, "--data")
    emit_json({"mac": _hex(mac.generate(args.alg, key, data, args.padding))})
    return 0


def _tr31_wrap(args: argparse.Namespace) -> int:
    kbpk = _key(args.kbpk, "--kbpk")
    key = _key(args.key)
    random = parse_hex(args.random, "--random") if args.random is not None else None
    block = tr31.wrap(kbpk, args.header, key, random=random, masked_length=args.masked_length)
    emit_json({"block": block})
    return 0


def _tr31_unwrap(args: argparse.Namespace) -> int:
    kbpk = _key(args.kbpk, "--kbpk")
    header, key = tr31.unwrap(kbpk, args.block)
    hlen = tr31.parse_header(args.block.strip())[1]
    emit_json(
        {
            "key": _hex(key),
            "header": args.block.strip()[:hlen],
            "version": header.version,
            "key_usage": header.key_usage,
            "algorithm": header.algorithm,
            "mode_of_use": header.mode_of_use,
            "key_version": header.key_version,
            "exportability": header.exportability,
            "optional_blocks": [[bid, data] for bid, data in header.blocks],
        }
    )
    return 0
