"""The SE emulator's command failure: a status code for the response."""

from __future__ import annotations


class CommandFailed(Exception):
    """A command refused with a ``protocols.se_frame`` status (never OK/BUSY)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
