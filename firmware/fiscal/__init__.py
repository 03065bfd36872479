"""Fiscal memory: the signed, append-only, power-loss-safe journal on the
board's littlefs flash (docs/fiscal.md)."""
