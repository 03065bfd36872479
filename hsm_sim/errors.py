"""The HSM's error: a payShield-style two-character error code.

The server turns an ``HsmError`` raised by a command into a well-formed
response carrying ``code``; the client raises it when a response's error code
is not ``00``.  ``reason`` is for logs and developers: it names fields and
lengths, never a key or a PIN.
"""

from __future__ import annotations

# The codes this HSM answers with (payShield 10K meanings; docs/hsm.md).
OK = "00"
VERIFICATION_FAILURE = "01"
SOURCE_KEY_PARITY = "10"
DESTINATION_KEY_PARITY = "11"
NO_KEY_IN_STORAGE = "12"
INVALID_INPUT = "15"
PIN_BLOCK_ERROR = "20"
INVALID_INDEX = "21"
INVALID_ACCOUNT = "22"
INVALID_PIN_BLOCK_FORMAT = "23"
INVALID_PIN_LENGTH = "24"
INVALID_KEY_SCHEME = "26"
INCOMPATIBLE_KEY_LENGTH = "27"
KEY_FUNCTION_NOT_PERMITTED = "29"
INTERNAL_ERROR = "41"
NOT_LICENSED = "67"
DISABLED = "68"
KEY_BLOCK_AUTHENTICATION = "A4"
INVALID_KEY_USAGE = "A6"
INVALID_ALGORITHM = "A7"
INVALID_MODE_OF_USE = "A8"
INVALID_KEY_VERSION = "A9"
INVALID_EXPORTABILITY = "AA"
INVALID_OPTIONAL_BLOCKS = "AB"
KEY_BLOCK_ERROR = "B2"


class HsmError(Exception):
    """A command failed with a payShield-style error ``code``."""

    def __init__(self, code: str, command: str = "", reason: str = "") -> None:
        self.code = code
        self.command = command
        self.reason = reason
        text = f"HSM error {code}"
        if command:
            text += f" on {command}"
        if reason:
            text += f": {reason}"
        super().__init__(text)
