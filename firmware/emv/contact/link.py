"""The card link of a kernel: one command, its 61XX/6CXX follow-ups
(protocols.apdu.exchange), and the trace.  The card interface is any object
with ``exchange_apdu(apdu: bytes) -> bytes`` (ISO 7816 CardReader, PN532
Iso14443aTarget, a virtual card's adapter)."""

from protocols import apdu
from protocols.errors import DecodeError


class CardError(Exception):
    """The card stopped answering or answered something that is no APDU."""


class Link:
    def __init__(self, card: "object", trace: "object") -> None:
        self.card = card
        self.trace = trace

    def _transmit(self, command: bytes) -> bytes:
        self.trace.command(command)  # type: ignore[attr-defined]
        try:
            reply = self.card.exchange_apdu(command)  # type: ignore[attr-defined]
        except Exception as exc:  # the reader's own errors: card removed, timeout
            self.trace.note("card link: %s" % exc)  # type: ignore[attr-defined]
            raise CardError(str(exc))
        reply = bytes(reply)
        self.trace.response(reply)  # type: ignore[attr-defined]
        return reply

    def send(self, command: bytes) -> "apdu.Response":
        try:
            return apdu.exchange(self._transmit, command)
        except DecodeError as exc:
            raise CardError("malformed response: %s" % exc)
