"""`payterm printer`: the virtual ESC/POS printer (docs/printer.md).

- ``render IN.bin --png OUT.png [--text OUT.txt] [--dots N]``: run a byte
  stream (``-`` for stdin) through the printer; one PNG per receipt
  (``OUT.png`` for one, ``OUT-1.png``, ``OUT-2.png``, ... for several) and the
  text of all receipts; prints ``{"receipts", "png", "text", "warnings",
  "events"}``;
- ``serve [--port P] [--host H] [--out DIR] [--paper-out] [--cover-open]``:
  listen on TCP (default 127.0.0.1:7102, the sim board's uart2), print
  ``{"listening": "host:port"}`` and then one JSON line per cut receipt; PNG
  and text go to DIR.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from host_sim.printer import PrinterServer, Receipt, VirtualPrinter
from payterm.cli import BadInput
from payterm.commands._io import emit_json

DEFAULT_PORT = 7102


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "printer", help="virtual ESC/POS printer: render byte streams, serve a TCP port"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    ren = actions.add_parser("render", help="render an ESC/POS byte stream to PNG and text")
    ren.add_argument("input", metavar="IN.bin", help="the byte stream, or - for stdin")
    ren.add_argument("--png", required=True, metavar="OUT.png", help="PNG file (one per receipt)")
    ren.add_argument("--text", metavar="OUT.txt", help="text of the receipts")
    ren.add_argument("--dots", type=int, default=576, help="dots per line (576: 80 mm, 384: 58 mm)")
    ren.set_defaults(func=run_render)

    srv = actions.add_parser("serve", help="listen on TCP as the printer on a UART")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    srv.add_argument("--out", metavar="DIR", default=".", help="where receipts are written")
    srv.add_argument("--dots", type=int, default=576)
    srv.add_argument("--paper-out", action="store_true", help="start with the paper out")
    srv.add_argument("--cover-open", action="store_true", help="start with the cover open")
    srv.set_defaults(func=run_serve)


def png_paths(base: Path, count: int) -> list[Path]:
    if count == 1:
        return [base]
    return [base.with_name(f"{base.stem}-{i}{base.suffix}") for i in range(1, count + 1)]


def _check_dots(dots: int) -> None:
    if not 8 <= dots <= 4096 or dots % 8:
        raise BadInput("--dots must be a multiple of 8 between 8 and 4096")


def render_file(data: bytes, png: Path, text: Path | None, dots: int = 576) -> dict[str, Any]:
    printer = VirtualPrinter(dots=dots)
    printer.feed(data)
    receipts = printer.finish()
    paths = png_paths(png, len(receipts))
    for receipt, path in zip(receipts, paths, strict=True):
        receipt.save_png(path)
    if text is not None:
        text.write_text("".join(r.text + ("\f\n" if r.cut else "") for r in receipts), "utf-8")
    return {
        "receipts": len(receipts),
        "png": [str(p) for p in paths],
        "text": str(text) if text is not None else None,
        "cut": [r.cut for r in receipts],
        "warnings": printer.warnings,
        "events": printer.events,
    }


def run_render(args: argparse.Namespace) -> int:
    _check_dots(args.dots)
    try:
        data = sys.stdin.buffer.read() if args.input == "-" else Path(args.input).read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {args.input}: {exc.strerror}") from exc
    result = render_file(data, Path(args.png), Path(args.text) if args.text else None, args.dots)
    emit_json(result)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    _check_dots(args.dots)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    printer = VirtualPrinter(dots=args.dots, paper_out=args.paper_out, cover_open=args.cover_open)
    count = 0

    def saved(receipt: Receipt) -> None:
        nonlocal count
        count += 1
        png = out / f"receipt-{count}.png"
        txt = out / f"receipt-{count}.txt"
        receipt.save_png(png)
        txt.write_text(receipt.text, "utf-8")
        line = {"receipt": count, "png": str(png), "text": str(txt), "warnings": printer.warnings}
        print(json.dumps(line, ensure_ascii=False), flush=True)

    server = PrinterServer(printer, args.host, args.port, on_receipt=saved)

    async def main() -> None:
        await server.start()
        print(json.dumps({"listening": server.endpoint}), flush=True)
        await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0
