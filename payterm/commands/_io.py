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


def admin_token(token_file: str | None, env_var: str) -> tuple[str, bool]:
    """The admin bearer token of a service: from ``token_file``, else the
    environment variable ``env_var``, else a fresh random one.  Returns
    (token, generated): a generated token must be shown to the operator."""
    import os
    import secrets

    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise BadInput(f"cannot read {token_file}: {exc.strerror}") from exc
        if not token:
            raise BadInput("empty admin token")
        return token, False
    token = os.environ.get(env_var, "")
    if token:
        return token, False
    return secrets.token_urlsafe(24), True
