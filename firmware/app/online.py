"""MACed ISO 8583 exchanges with the acquirer host over the board's network
link (docs/app.md, "Online").

Every request except 0800 carries an AES-CMAC in field 64 (128 when a field
above 64 is present, e.g. 90 in a reversal), computed by the keys object
over the message from the MTI to the byte before the MAC; a response that
carries a MAC must verify.  Under the keys' ``dukpt`` scheme both MACs are
under the MAC key of the message's KSN, named in field 53: the PIN block's
(``04 02`` + KSN) or, without a PIN, the current KSN as ``FF 02`` + KSN;
when the exchange is over the keys move to the next KSN.  A response is
awaited ``timeout_ms``; frames that do not answer the request (a late
answer to an earlier one) are dropped.  ``HostTimeout``: nothing usable in
time -- the caller reverses."""

from firmware.hostlink import HostLinkError, response_mti
from protocols import iso8583

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAC_LEN = 8


class HostTimeout(HostLinkError):
    """No answer from the host in time (or the link is down)."""


class HostMacError(HostLinkError):
    """The host's answer carries a MAC that does not verify."""


class Online:
    def __init__(
        self, stream: "Any", spec: "Any", keys: "Any", clock: "Any", timeout_ms: int = 15000
    ) -> None:
        self.stream = stream
        self.spec = iso8583.compile_spec(spec)
        self.keys = keys
        self.clock = clock
        self.timeout_ms = timeout_ms
        self._buf = bytearray()
        self._ksn = None  # the KSN of the request in flight (dukpt scheme)

    def encode(self, msg: "dict[str, Any]") -> bytes:
        if msg["t"].startswith("08"):
            return iso8583.encode(msg, self.spec)
        mac_field = "64"
        for k in msg:
            if k.isdigit() and int(k) > 64:
                mac_field = "128"
        doc = dict(msg)
        ksn = None
        if self.keys.mac_scheme == "dukpt":
            if "53" in doc:
                ksn = bytes(doc["53"][2:])
            else:
                ksn = self.keys.ksn()
                doc["53"] = b"\xff\x02" + ksn
        self._ksn = ksn
        doc[mac_field] = bytes(MAC_LEN)
        wire = iso8583.encode(doc, self.spec)
        return wire[:-MAC_LEN] + self.keys.mac(wire[:-MAC_LEN], ksn)

    def exchange(self, msg: "dict[str, Any]") -> "dict[str, str]":
        wire = self.encode(msg)
        try:
            return self._exchange(msg, wire)
        finally:
            if not msg["t"].startswith("08"):
                self.keys.next_transaction()

    def _exchange(self, msg: "dict[str, Any]", wire: bytes) -> "dict[str, str]":
        try:
            self.stream.write(iso8583.frame(wire))
        except OSError as exc:
            raise HostTimeout("link down: %s" % exc)
        want = response_mti(msg["t"])
        deadline = self.clock.ticks_ms() + self.timeout_ms
        while True:
            body = self._frame(deadline)
            try:
                response = iso8583.decode(body, self.spec)
            except ValueError:
                continue
            if response.get("t") != want or response.get("11") != msg.get("11"):
                continue  # a late answer to something else
            self._check_mac(body, response)
            return response

    def _check_mac(self, body: bytes, response: "dict[str, str]") -> None:
        if "64" in response or "128" in response:
            mac = self.keys.mac(body[:-MAC_LEN], self._ksn)
            if mac != body[-MAC_LEN:]:
                raise HostMacError("response MAC does not verify")

    def _frame(self, deadline: int) -> bytes:
        header = self._read(2, deadline)
        return self._read((header[0] << 8) | header[1], deadline)

    def _read(self, n: int, deadline: int) -> bytes:
        while len(self._buf) < n:
            left = self.clock.ticks_diff(deadline, self.clock.ticks_ms())
            if left <= 0:
                raise HostTimeout("no answer from the host in %d ms" % self.timeout_ms)
            if hasattr(self.stream, "init"):
                self.stream.init(timeout=left)
            try:
                chunk = self.stream.read(n - len(self._buf))
            except OSError as exc:
                raise HostTimeout("link down: %s" % exc)
            if chunk:
                self._buf.extend(chunk)
        data = bytes(self._buf[:n])
        self._buf = self._buf[n:]
        return data
