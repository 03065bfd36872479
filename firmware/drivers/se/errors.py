"""Typed errors of the secure-element channel."""


class SeError(Exception):
    """Base of every secure-element channel error."""


class SeBusError(SeError):
    """The bus kept failing (no device, NACK, bus error) after the retries."""

    def __init__(self, message, errno=None):
        super().__init__(message)
        self.errno = errno


class SeTimeout(SeError):
    """The secure element stayed busy past the timeout."""


class SeFrameError(SeError):
    """A response frame stayed unreadable (CRC, length) after the retries."""


class SeStatusError(SeError):
    """The secure element answered with an error status."""

    def __init__(self, status, name, payload=b""):
        super().__init__("secure element status %02X %s" % (status, name))
        self.status = status
        self.name = name
        self.payload = payload
