"""PN532 NFC reader driver (HSU).  See docs/nfc.md."""

from firmware.drivers.pn532.errors import (
    AckTimeout,
    CardCollision,
    NoTargetError,
    PN532Error,
    PN532ProtocolError,
    PN532StatusError,
    PN532SyntaxError,
    PN532Timeout,
    ResponseTimeout,
    TargetTimeout,
)
from firmware.drivers.pn532.pn532 import PN532, for_board
from firmware.drivers.pn532.target import Iso14443aTarget

__all__ = [
    "PN532",
    "AckTimeout",
    "CardCollision",
    "Iso14443aTarget",
    "NoTargetError",
    "PN532Error",
    "PN532ProtocolError",
    "PN532StatusError",
    "PN532SyntaxError",
    "PN532Timeout",
    "ResponseTimeout",
    "TargetTimeout",
    "for_board",
]
