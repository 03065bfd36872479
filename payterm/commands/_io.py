"""Helpers shared by subcommands: JSON out, files and hex in."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from payterm.cli import BadInput


def emit_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def read_json_file(path: str) -> Any:
    """Read JSON from a file, or stdin when path is '-'."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: not JSON: {exc}") from exc


def parse_hex(text: str, what: str = "HEX") -> bytes:
    cleaned = "".join(text.split())
    try:
        return bytes.fromhex(cleaned)
    except ValueError as exc:
        raise BadInput(f"{what} is not valid hex: {text!r}") from exc
