"""Keypad driver: key events over the board's keypad object, amount entry,
and PIN entry into a bytearray cleared after use.  See docs/drivers.md."""

from firmware.drivers.keypad.keypad import (
    CANCEL,
    CLEAR,
    DIGITS,
    ENTER,
    PIN_CANCELLED,
    PIN_OK,
    PIN_TIMEOUT,
    Keypad,
)

__all__ = [
    "CANCEL",
    "CLEAR",
    "DIGITS",
    "ENTER",
    "PIN_CANCELLED",
    "PIN_OK",
    "PIN_TIMEOUT",
    "Keypad",
]
