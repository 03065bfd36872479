"""The terminal's secure-element application API (docs/secure-element.md)."""

from firmware.secure.errors import (
    SeAppError,
    SeBadInput,
    SeKeyMissing,
    SeLocked,
    SeNotAllowed,
)
from firmware.secure.se_app import SecureElementApp, SeUnwrapError

__all__ = [
    "SeAppError",
    "SeBadInput",
    "SeKeyMissing",
    "SeLocked",
    "SeNotAllowed",
    "SeUnwrapError",
    "SecureElementApp",
]
