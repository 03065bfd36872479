"""Typed errors of the secure element's application commands.

All derive from the driver's ``SeError``; each carries the status code
(``status``) and its name, so callers can tell a locked element from a
missing key or a bad argument.  Transport failures stay the driver's
(``SeBusError``, ``SeTimeout``, ``SeFrameError``).
"""

from firmware.drivers.se.errors import SeError


class SeAppError(SeError):
    def __init__(self, message, status=None, name=None):
        super().__init__(message)
        self.status = status
        self.name = name


class SeNotAllowed(SeAppError):
    """Refused in the element's current state (NOT_ALLOWED)."""


class SeLocked(SeNotAllowed):
    """Refused because a tamper event locked the element until the TSM
    unlocks it."""


class SeKeyMissing(SeAppError):
    """No key (or certificate, or DUKPT key) in that slot (KEY_NOT_FOUND)."""


class SeBadInput(SeAppError):
    """The element refused the arguments (BAD_LENGTH, BAD_PARAMETER)."""
