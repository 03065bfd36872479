"""Secure-element channel driver over the board's I2C bus (docs/se.md)."""

from firmware.drivers.se.errors import (
    SeBusError,
    SeError,
    SeFrameError,
    SeStatusError,
    SeTimeout,
)
from firmware.drivers.se.se import SecureElement

__all__ = [
    "SeBusError",
    "SeError",
    "SeFrameError",
    "SeStatusError",
    "SeTimeout",
    "SecureElement",
]
