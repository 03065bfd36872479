"""`payterm iso8583` (being built)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("iso8583", help="(being built)")
    parser.set_defaults(func=None)
