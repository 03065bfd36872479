"""The terminal's secure-element application API (docs/secure-element.md)."""

from firmware.secure.errors import (
    SeAppError,
    SeBadInput,
    SeKeyMissing,
    SeLocked,
    SeNotAllowed,
)
from firmware.secure.se_app import SecureElementApp, SeUnwrapError


def for_board(board, clock=None):
    """The secure element of ``board`` (its ``secure_element`` device on
    its bus) as a SecureElementApp."""
    from firmware.drivers.se import SecureElement

    dev = board.device("secure_element")
    bus = board.bus_for("secure_element")
    return SecureElementApp(SecureElement(bus, dev["addr"], clock or board.rtc()))


__all__ = [
    "SeAppError",
    "SeBadInput",
    "SeKeyMissing",
    "SeLocked",
    "SeNotAllowed",
    "SeUnwrapError",
    "SecureElementApp",
    "for_board",
]
