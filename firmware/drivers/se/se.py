"""Secure-element channel over an I2C bus (docs/se.md).

One exchange (request -> response) on the bus:

1. ``writeto(addr, request frame)``; an address NACK (OSError ENODEV: the
   element is asleep or busy) is retried after ``retry_ms``, ``retries`` times;
2. ``readfrom(addr, 3)`` reads STATUS and LEN; STATUS BUSY (or a NACK) means
   not ready: wait ``poll_ms`` and read the header again, at most
   ``max_polls`` times, then SeTimeout;
3. ``readfrom(addr, LEN + 2)`` reads the payload and CRC; a CRC mismatch
   asks for the same response again with RESEND (back to 2), ``retries``
   times, then SeFrameError;
4. STATUS CRC_ERROR (the element saw a damaged request) sends the request
   again, ``retries`` times; any other non-OK status raises SeStatusError.

Waiting uses the ``clock`` the board gives (``sleep_ms``), so the driver
touches no time source itself; without one it polls back to back.
"""

import errno

from firmware.drivers.se.errors import SeBusError, SeFrameError, SeStatusError, SeTimeout
from protocols import se_frame
from protocols.errors import DecodeError


class SecureElement:
    def __init__(
        self, i2c, addr=0x60, clock=None, retries=3, retry_ms=5, poll_ms=2, max_polls=1000
    ):
        self.i2c = i2c
        self.addr = addr
        self.clock = clock
        self.retries = retries
        self.retry_ms = retry_ms
        self.poll_ms = poll_ms
        self.max_polls = max_polls
        self.stats = {"nacks": 0, "busy": 0, "resends": 0, "retransmits": 0}

    def _sleep(self, ms):
        if self.clock is not None and ms > 0:
            self.clock.sleep_ms(ms)

    def _write(self, frame):
        last = None
        for _attempt in range(self.retries + 1):
            try:
                self.i2c.writeto(self.addr, frame)
                return
            except OSError as e:
                last = e
                self.stats["nacks"] += 1
                self._sleep(self.retry_ms)
        code = last.args[0] if last is not None and last.args else None
        raise SeBusError("secure element did not take the request", code)

    def _read(self, n):
        """readfrom with NACK retries; None when the element is not answering
        its address (busy), after the retries."""
        try:
            return self.i2c.readfrom(self.addr, n)
        except OSError as e:
            if e.args and e.args[0] == errno.ENODEV:
                self.stats["nacks"] += 1
                return None
            raise SeBusError("bus error reading the secure element", e.args[0] if e.args else None)

    def _header(self):
        for _ in range(self.max_polls):
            head = self._read(se_frame.HEADER)
            if head is not None and len(head) == se_frame.HEADER:
                try:
                    status, n = se_frame.decode_header(head)
                except DecodeError:
                    return head, None
                if status != se_frame.ST_BUSY:
                    return head, n
            self.stats["busy"] += 1
            self._sleep(self.poll_ms)
        raise SeTimeout("secure element busy after %d polls" % self.max_polls)

    def request(self, cmd, payload=b""):
        """Send one command, return the payload of its OK response."""
        frame = se_frame.encode_request(cmd, payload)
        for _send in range(self.retries + 1):
            self._write(frame)
            response = self._response()
            status, body = response
            if status == se_frame.ST_CRC_ERROR:
                self.stats["retransmits"] += 1
                continue
            if status != se_frame.ST_OK:
                raise SeStatusError(status, se_frame.status_name(status), body)
            return body
        raise SeFrameError("secure element kept reporting a damaged request")

    def _response(self):
        resend = se_frame.encode_request(se_frame.CMD_RESEND)
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats["resends"] += 1
                self._write(resend)
            head, n = self._header()
            if n is None:
                continue  # LEN out of range: the header itself was damaged
            body = self._read(n + se_frame.TRAILER)
            if body is None or len(body) != n + se_frame.TRAILER:
                continue
            try:
                return head[0], se_frame.check_body(head, body)
            except DecodeError:
                continue
        raise SeFrameError("no readable response after %d resends" % self.retries)

    # -- transport commands ------------------------------------------------------
    def info(self):
        """The element's self-description (a JSON object, docs/se.md)."""
        import json

        body = self.request(se_frame.CMD_INFO)
        try:
            info = json.loads(body.decode())
        except (ValueError, UnicodeError):
            raise SeFrameError("INFO is not JSON")
        if not isinstance(info, dict):
            raise SeFrameError("INFO is not a JSON object")
        return info

    def random(self, n):
        if not 1 <= n <= 255:
            raise ValueError("1..255 random bytes per request")
        body = self.request(se_frame.CMD_RANDOM, bytes((n,)))
        if len(body) != n:
            raise SeFrameError("asked %d random bytes, got %d" % (n, len(body)))
        return body

    def echo(self, data):
        body = self.request(se_frame.CMD_ECHO, data)
        if body != bytes(data):
            raise SeFrameError("echo differs")
        return body
