"""Contact-card interface (ISO/IEC 7816-3): ATR, T=0 and T=1 over the card
reader's UART.  See docs/drivers.md."""

from firmware.drivers.iso7816.contacts import LineContacts, PinContacts
from firmware.drivers.iso7816.errors import (
    CardAbsent,
    CardError,
    CardProtocolError,
    CardTimeout,
)
from firmware.drivers.iso7816.port import CardPort
from firmware.drivers.iso7816.reader import CardReader
from firmware.drivers.iso7816.t0 import T0
from firmware.drivers.iso7816.t1 import T1

__all__ = [
    "T0",
    "T1",
    "CardAbsent",
    "CardError",
    "CardPort",
    "CardProtocolError",
    "CardReader",
    "CardTimeout",
    "LineContacts",
    "PinContacts",
]
