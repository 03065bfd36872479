"""The technician service port (docs/service.md).

``Service(stream, journal, clock, tech_key, random)`` answers the service
protocol (``protocols/service_frame.py``) on a UART-like ``stream``
(``any()``, ``read(n)``, ``write(b)``).  ``poll()`` serves at most one
pending request and returns at once when there is none, so an application's
idle loop can call it; ``firmware/service/__main__.py`` is a standalone loop
for the sim board.

HELLO and STATUS are open to anyone on the cable.  EXPORT needs a technician
session: CHALLENGE gives 16 random bytes (from ``random(n)``, the secure
element's RNG on a board), AUTH carries the technician's ECDSA P-256
signature over ``service_frame.auth_message(challenge, device_id)``, checked
with ``protocols.p256`` against ``tech_key`` (a 65-byte public key: nothing
secret lives in the firmware).  A challenge is good for one AUTH.  The
session ends with LOGOUT, after ``idle_ms`` without a request, or when a new
peer connects (a stream with a ``peers`` counter, as the sim board's
listening UART has).
"""

import hashlib

from protocols import p256
from protocols import service_frame as sf
from protocols.errors import DecodeError

CHUNK = 512


class _ExportOut:
    """The file ``Journal.export`` writes to: cut into DATA frames of
    ``chunk`` bytes, hashed as they go."""

    def __init__(self, service, chunk):
        self.service = service
        self.chunk = chunk
        self.buf = b""
        self.total = 0
        self.hash = hashlib.sha256()

    def write(self, data):
        data = bytes(data)
        self.total += len(data)
        self.hash.update(data)
        self.buf += data
        while len(self.buf) >= self.chunk:
            self.service._send(sf.ST_DATA, self.buf[: self.chunk])
            self.buf = self.buf[self.chunk :]
        return len(data)

    def flush(self):
        if self.buf:
            self.service._send(sf.ST_DATA, self.buf)
            self.buf = b""


class Service:
    def __init__(
        self,
        stream,
        journal,
        clock,
        tech_key,
        random,
        version="",
        idle_ms=300000,
        frame_ms=1000,
        chunk=CHUNK,
    ):
        p256.decode_point(tech_key)  # refuse a bad key now, not at the first AUTH
        if not 1 <= chunk <= sf.MAX_PAYLOAD:
            raise ValueError("chunk %d" % chunk)
        self.stream = stream
        self.journal = journal
        self.clock = clock
        self.tech_key = bytes(tech_key)
        self.random = random
        self.version = version
        self.idle_ms = idle_ms
        self.frame_ms = frame_ms
        self.chunk = chunk
        self.deframer = sf.Deframer()
        self.authenticated = False
        self.challenge = None
        self.served = 0
        self.errors = 0
        self._peers = getattr(stream, "peers", None)
        self._last_rx = clock.ticks_ms()
        self._last_req = self._last_rx

    # -- the loop ----------------------------------------------------------------

    def _end_session(self):
        self.authenticated = False
        self.challenge = None

    def _check_peer(self):
        peers = getattr(self.stream, "peers", None)
        if peers != self._peers:
            # A new cable: nothing of the old session carries over.
            self._peers = peers
            self._end_session()
            self.deframer.clear()

    def _receive(self):
        n = self.stream.any()
        self._check_peer()  # after any(): it is what takes a new peer on
        if not n:
            return False
        data = self.stream.read(n)
        if not data:
            return False
        self.deframer.feed(data)
        self._last_rx = self.clock.ticks_ms()
        return True

    def poll(self):
        """Serve at most one request (or answer one malformed frame).
        True when something was answered."""
        self._receive()
        now_ms = self.clock.ticks_ms()
        if self.authenticated and self.clock.ticks_diff(now_ms, self._last_req) > self.idle_ms:
            self._end_session()
        try:
            got = self.deframer.next()
        except DecodeError as e:
            self.errors += 1
            self._send(sf.ST_BAD_FRAME, ("bad frame: %s" % e).encode())
            return True
        if got is None:
            if (
                self.deframer.pending()
                and self.clock.ticks_diff(now_ms, self._last_rx) > self.frame_ms
            ):
                n = self.deframer.clear()
                self.errors += 1
                self._send(sf.ST_BAD_FRAME, ("frame cut short: %d bytes dropped" % n).encode())
                return True
            return False
        self._last_req = now_ms
        code, payload = got
        self.served += 1
        self._serve(code, payload)
        return True

    def _send(self, status, payload=b""):
        self.stream.write(sf.encode(status, payload))

    def _error(self, status, text):
        self._send(status, text.encode())

    # -- commands ----------------------------------------------------------------

    def _serve(self, code, payload):
        if code == sf.CMD_HELLO:
            if payload:
                return self._error(sf.ST_BAD_LENGTH, "HELLO takes no payload")
            return self._send(sf.ST_OK, sf.encode_json(self._hello()))
        if code == sf.CMD_STATUS:
            if payload:
                return self._error(sf.ST_BAD_LENGTH, "STATUS takes no payload")
            return self._status()
        if code == sf.CMD_CHALLENGE:
            if payload:
                return self._error(sf.ST_BAD_LENGTH, "CHALLENGE takes no payload")
            return self._challenge()
        if code == sf.CMD_AUTH:
            return self._auth(payload)
        if code == sf.CMD_LOGOUT:
            self._end_session()
            return self._send(sf.ST_OK)
        if code == sf.CMD_EXPORT:
            if payload:
                return self._error(sf.ST_BAD_LENGTH, "EXPORT takes no payload")
            return self._export()
        return self._error(sf.ST_UNKNOWN_COMMAND, "unknown command 0x%02x" % code)

    def _hello(self):
        return {
            "protocol": sf.PROTOCOL_VERSION,
            "device_id": self.journal.device_id,
            "version": self.version,
            "authenticated": self.authenticated,
        }

    def _status(self):
        try:
            doc = self.journal.status()
            doc["warning"] = self.journal.warning()
        except Exception as e:
            return self._error(sf.ST_FAILED, "journal status failed: %s" % e)
        doc["version"] = self.version
        doc["authenticated"] = self.authenticated
        return self._send(sf.ST_OK, sf.encode_json(doc))

    def _challenge(self):
        try:
            c = bytes(self.random(sf.CHALLENGE_LEN))
        except Exception as e:
            self.challenge = None
            return self._error(sf.ST_FAILED, "no random source: %s" % e)
        if len(c) != sf.CHALLENGE_LEN:
            self.challenge = None
            return self._error(sf.ST_FAILED, "random source gave %d bytes" % len(c))
        self._end_session()
        self.challenge = c
        return self._send(sf.ST_OK, c)

    def _auth(self, payload):
        if len(payload) != sf.SIGNATURE_LEN:
            return self._error(
                sf.ST_BAD_LENGTH, "AUTH takes a %d-byte signature (r|s)" % sf.SIGNATURE_LEN
            )
        c = self.challenge
        self.challenge = None  # one AUTH per challenge, good or bad
        if c is None:
            return self._error(sf.ST_AUTH_FAILED, "no challenge outstanding")
        digest = sf.auth_digest(c, self.journal.device_id)
        if not p256.verify_raw(self.tech_key, digest, payload):
            self.authenticated = False
            return self._error(sf.ST_AUTH_FAILED, "signature does not verify")
        self.authenticated = True
        return self._send(sf.ST_OK)

    def _export(self):
        if not self.authenticated:
            return self._error(sf.ST_NOT_AUTHENTICATED, "EXPORT needs AUTH")
        out = _ExportOut(self, self.chunk)
        try:
            signed = self.journal.export(out, self.clock.now())
            out.flush()
        except Exception as e:
            return self._error(sf.ST_FAILED, "export failed: %s" % e)
        return self._send(sf.ST_OK, sf.encode_export_end(out.total, out.hash.digest(), signed))
