"""The QR content of a fiscal receipt (format: protocols/fiscal_qr.py)."""

from protocols import fiscal_qr


def content(record):
    """Text for the receipt's QR symbol: device, sequence, time, amount,
    counters, signature and signature counter, verifiable offline."""
    return fiscal_qr.encode(record)
