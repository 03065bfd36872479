"""ISO 8583 exchanges with the acquirer host over a byte stream.

The stream is injected (the board's network link: a TCP connection on the
sim board, a modem or Ethernet socket on hardware) and needs only
machine.UART-style ``write(buf)`` and ``read(n)``, where ``read`` returns
None or fewer bytes when its timeout passes.  Frames are a 2-byte big-endian
length and one message (docs/iso8583.md).
"""

from protocols import iso8583
from protocols.errors import DecodeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class HostLinkError(Exception):
    """The exchange failed: timeout, closed link, or a response that does not
    answer the request."""


def response_mti(mti: str) -> str:
    """0100 -> 0110, 0420 -> 0430; a repeat as its original: 0401 -> 0410."""
    function = int(mti[2])
    if function % 2:
        raise ValueError("%s is a response type" % mti)
    return mti[:2] + str(function + 1) + "0"


class HostLink:
    def __init__(self, stream: "Any", spec: "Any", max_frame: int = 8192) -> None:
        self.stream = stream
        self.spec = iso8583.compile_spec(spec)
        self.max_frame = max_frame

    def send(self, request: "dict[str, str]") -> None:
        self.stream.write(iso8583.frame(iso8583.encode(request, self.spec)))

    def receive(self) -> "dict[str, str]":
        length = int.from_bytes(self._read_exact(iso8583.FRAME_HEADER_LEN), "big")
        if length == 0 or length > self.max_frame:
            raise HostLinkError("host sent a frame of %d bytes" % length)
        body = self._read_exact(length)
        try:
            return iso8583.decode(body, self.spec)
        except DecodeError as exc:
            raise HostLinkError("host response does not decode: %s" % exc)

    def exchange(self, request: "dict[str, str]") -> "dict[str, str]":
        """Send a request and return the host's matching response."""
        self.send(request)
        response = self.receive()
        want = response_mti(request["t"])
        if response.get("t") != want:
            raise HostLinkError("expected %s, host answered %s" % (want, response.get("t")))
        if "11" in request and response.get("11") != request["11"]:
            raise HostLinkError(
                "response STAN %s does not match %s" % (response.get("11"), request["11"])
            )
        return response

    def _read_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.stream.read(n - len(buf))
            if not chunk:
                raise HostLinkError("host timed out after %d of %d bytes" % (len(buf), n))
            buf.extend(chunk)
        return bytes(buf)
