"""`payterm crypto` operations (being built)."""

from __future__ import annotations

from typing import Any


def register(ops: Any) -> None:
    """Add this module's operations to the `payterm crypto` parser."""
