"""Acquirer host simulator: ISO 8583 (PAYTERM_1987) over TCP with a 2-byte
length header (docs/acquirer.md)."""
