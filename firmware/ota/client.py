"""The terminal's TSM client: a small HTTP/1.1 client over a byte stream the
board opens, and the TSM calls a terminal makes (docs/tsm.md, "Device
client").

The board hands over ``connect``: a function that opens a new connection
to the TSM and returns a stream — ``write(buf)``; ``read(n)`` returning
what is ready, at most ``n`` bytes (never more than 512 are asked at once,
which bounds the RAM a read takes), ``None`` when its timeout passes with
nothing received, ``b""`` at end of stream, or raising ``OSError`` when the
link fails (ETIMEDOUT/EAGAIN count as a timeout); ``deinit()`` or
``close()``. On the sim board that is ``boards.sim.net.Dialer(board,
"net1")``. One request per connection (``Connection: close``).

Responses are parsed strictly and with bounds: status line and header lines
of at most ``MAX_LINE`` bytes, at most ``MAX_HEADERS`` header fields, ASCII
only; a body delimited by ``Content-Length`` or ``Transfer-Encoding:
chunked`` (both, neither on a response that has a body, another transfer
coding, a negative or non-decimal length, a bad chunk size line or a chunk
not followed by CRLF: ``DecodeError``). JSON bodies are read whole up to
``max_json`` bytes; an OTA package is streamed into ``Ota.install`` 512
bytes at a time and never held in RAM.

Errors: ``TsmUnreachable`` (no connection), ``TsmTimeout`` (the stream's
timeout, or the request's deadline when the board gives a clock),
``TsmTruncated`` (a ``DecodeError``: the response ended early or the link
dropped mid-response), ``DecodeError`` (a malformed response),
``TsmRefused`` (an HTTP status the call does not expect, with the TSM's
error code). What the TSM sends is then checked by ``firmware.ota`` (OTA
packages), ``firmware.ota.params`` (parameters) and the secure element
(key blocks).
"""

import json

from firmware.ota import OtaError
from firmware.ota import params as _params
from firmware.ota import tsm as _tsm
from protocols.errors import DecodeError

MAX_LINE = 1024
MAX_HEADERS = 32
MAX_INTERIM = 4
MAX_CHUNK_LINE = 128
MAX_JSON = 64 * 1024
MAX_PACKAGE = 16 * 1024 * 1024
READ_CHUNK = 512
USER_AGENT = "payterm-terminal/1"
_ETIMEDOUT = (110, 116, 11)  # ETIMEDOUT (Linux, lwIP), EAGAIN
_TOKEN = "!#$%&'*+-.^_`|~"


class TsmClientError(Exception):
    """Base of the client's transport and status errors (not of
    ``DecodeError``, which malformed responses raise)."""


class TsmUnreachable(TsmClientError):
    """No connection to the TSM could be opened."""


class TsmTimeout(TsmClientError):
    """The TSM went quiet: the stream's timeout or the request's deadline."""


class TsmTruncated(DecodeError):
    """The response ended (or the link dropped) before its end."""


class TsmRefused(TsmClientError):
    """The TSM answered with a status the call does not accept."""

    def __init__(self, status, code, message):
        super().__init__("TSM answered %d %s: %s" % (status, code, message))
        self.status = status
        self.code = code
        self.message = message


def _close(stream):
    for name in ("deinit", "close"):
        fn = getattr(stream, name, None)
        if fn is not None:
            try:
                fn()
            except OSError:
                pass
            return


def _ascii(raw, what):
    for b in raw:
        if b > 0x7E or (b < 0x20 and b != 0x09):
            raise DecodeError("%s holds a byte 0x%02x that is not printable ASCII" % (what, b))
    return bytes(raw).decode()


def _token(name):
    if not name:
        return False
    return all(ch.isalpha() or ch.isdigit() or ch in _TOKEN for ch in name)


def _decimal(text, what, limit):
    if not text or len(text) > 12 or not text.isdigit():
        raise DecodeError("%s %r is not a decimal number" % (what, text))
    n = int(text)
    if n > limit:
        raise DecodeError("%s %d over the limit %d" % (what, n, limit))
    return n


class Reader:
    """Buffered reads from the stream with timeout, deadline and end-of-stream
    mapped to the client's errors."""

    def __init__(self, stream, clock=None, deadline_ms=None):
        self.stream = stream
        self.buf = b""
        self.received = 0
        self.clock = clock
        self.deadline_ms = deadline_ms
        self.start = clock.ticks_ms() if clock is not None else 0

    def _more(self, want):
        s = self.stream
        n = min(READ_CHUNK, max(1, want))
        try:
            data = s.read(n)
        except OSError as e:
            code = e.args[0] if e.args else 0
            if code in _ETIMEDOUT:
                raise TsmTimeout("no answer from the TSM after %d bytes" % self.received)
            raise TsmTruncated("link lost after %d bytes of the response" % self.received)
        if data is None:
            raise TsmTimeout("no answer from the TSM after %d bytes" % self.received)
        if not data:
            raise TsmTruncated("response ends after %d bytes" % self.received)
        if len(data) > n:
            raise DecodeError("stream returned more bytes than asked")
        self.received += len(data)
        if self.deadline_ms is not None and self._elapsed() > self.deadline_ms:
            raise TsmTimeout("response not complete within %d ms" % self.deadline_ms)
        self.buf = self.buf + data if self.buf else bytes(data)

    def _elapsed(self):
        clock = self.clock
        return 0 if clock is None else clock.ticks_diff(clock.ticks_ms(), self.start)

    def line(self, limit, what):
        """One line without its CRLF (a bare LF is accepted), at most
        ``limit`` bytes before the terminator."""
        start = 0
        while True:
            i = self.buf.find(b"\n", start)
            if i >= 0:
                break
            if len(self.buf) > limit + 1:
                raise DecodeError("%s longer than %d bytes" % (what, limit))
            start = len(self.buf)
            self._more(limit + 2 - len(self.buf))
        raw = self.buf[:i]
        self.buf = self.buf[i + 1 :]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if len(raw) > limit:
            raise DecodeError("%s longer than %d bytes" % (what, limit))
        return raw

    def some(self, n):
        """Up to ``n`` bytes (at least one)."""
        if not self.buf:
            self._more(n)
        out = self.buf[:n]
        self.buf = self.buf[n:]
        return out

    def exact(self, n):
        out = b""
        while len(out) < n:
            out += self.some(n - len(out))
        return out


class FixedBody:
    """A body of ``Content-Length`` bytes."""

    def __init__(self, reader, length):
        self.reader = reader
        self.left = length
        self.length = length

    def read(self, n=READ_CHUNK):
        if self.left == 0 or n <= 0:
            return b""
        data = self.reader.some(min(n, self.left))
        self.left -= len(data)
        return data


class ChunkedBody:
    """A ``Transfer-Encoding: chunked`` body, at most ``limit`` bytes of data."""

    def __init__(self, reader, limit):
        self.reader = reader
        self.limit = limit
        self.left = 0  # in the current chunk
        self.total = 0
        self.done = False
        self.length = None

    def _next_chunk(self):
        r = self.reader
        if self.total and r.exact(2) != b"\r\n":
            raise DecodeError("chunk data not followed by CRLF", offset=self.total)
        line = _ascii(r.line(MAX_CHUNK_LINE, "chunk size line"), "chunk size line")
        size = line.split(";", 1)[0].strip()
        if not size or len(size) > 8:
            raise DecodeError("bad chunk size %r" % size, offset=self.total)
        for ch in size:
            if ch not in "0123456789abcdefABCDEF":
                raise DecodeError("bad chunk size %r" % size, offset=self.total)
        n = int(size, 16)
        if n == 0:
            count = 0
            while r.line(MAX_LINE, "trailer line"):
                count += 1
                if count > MAX_HEADERS:
                    raise DecodeError("more than %d trailer lines" % MAX_HEADERS)
            self.done = True
            return
        if self.total + n > self.limit:
            raise DecodeError("chunked body over %d bytes" % self.limit, offset=self.total)
        self.left = n
        self.total += n

    def read(self, n=READ_CHUNK):
        if n <= 0:
            return b""
        while self.left == 0 and not self.done:
            self._next_chunk()
        if self.done:
            return b""
        data = self.reader.some(min(n, self.left))
        self.left -= len(data)
        return data


class EmptyBody:
    length = 0

    def read(self, n=READ_CHUNK):
        return b""


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def read_all(self, limit):
        """The whole body, at most ``limit`` bytes (DecodeError beyond)."""
        length = getattr(self.body, "length", None)
        if length is not None and length > limit:
            raise DecodeError("body of %d bytes over the limit %d" % (length, limit))
        out = bytearray()
        while True:
            data = self.body.read(READ_CHUNK)
            if not data:
                return bytes(out)
            out.extend(data)
            if len(out) > limit:
                raise DecodeError("body over the limit %d" % limit)


def _read_head(reader):
    line = _ascii(reader.line(MAX_LINE, "status line"), "status line")
    parts = line.split(" ", 2)
    if len(parts) < 2 or parts[0] not in ("HTTP/1.1", "HTTP/1.0"):
        raise DecodeError("not an HTTP/1.x status line: %r" % line[:40])
    code = parts[1]
    if len(code) != 3 or not code.isdigit() or code[0] not in "12345":
        raise DecodeError("bad status code %r" % code)
    headers = {}
    while True:
        raw = reader.line(MAX_LINE, "header line")
        if not raw:
            break
        if len(headers) >= MAX_HEADERS:
            raise DecodeError("more than %d header fields" % MAX_HEADERS)
        text = _ascii(raw, "header line")
        if text[0] in " \t":
            raise DecodeError("folded header line")
        i = text.find(":")
        name = text[:i] if i > 0 else ""
        if not _token(name):
            raise DecodeError("bad header line %r" % text[:40])
        name = name.lower()
        value = text[i + 1 :].strip()
        if name in headers:
            if name == "content-length" and headers[name] != value:
                raise DecodeError("two different Content-Length values")
            if name != "content-length":
                headers[name] = headers[name] + ", " + value
        else:
            headers[name] = value
    return int(code), (parts[2] if len(parts) > 2 else ""), headers


def read_response(reader, method="GET", limit=MAX_PACKAGE):
    """Parse one response from ``reader``; the body is left to read from
    ``Response.body`` (at most ``limit`` bytes). Interim 1xx answers are
    skipped."""
    for _ in range(MAX_INTERIM + 1):
        status, reason, headers = _read_head(reader)
        if status >= 200:
            break
        if status == 101:
            raise DecodeError("unexpected protocol switch")
    else:
        raise DecodeError("more than %d interim responses" % MAX_INTERIM)
    te = headers.get("transfer-encoding")
    cl = headers.get("content-length")
    if method == "HEAD" or status in (204, 304):
        return Response(status, reason, headers, EmptyBody())
    if te is not None and cl is not None:
        raise DecodeError("both Transfer-Encoding and Content-Length")
    if te is not None:
        if te.lower() != "chunked":
            raise DecodeError("transfer coding %r not supported" % te)
        return Response(status, reason, headers, ChunkedBody(reader, limit))
    if cl is None:
        raise DecodeError("response has neither Content-Length nor chunked coding")
    return Response(
        status, reason, headers, FixedBody(reader, _decimal(cl, "Content-Length", limit))
    )


def _check_target(path):
    if not path.startswith("/") or len(path) > 512:
        raise ValueError("bad request target %r" % path)
    for ch in path:
        if ord(ch) <= 0x20 or ord(ch) >= 0x7F:
            raise ValueError("bad request target %r" % path)


def request_bytes(method, path, host, body=None, content_type="application/json"):
    """The request head and body as sent (one request per connection)."""
    _check_target(path)
    lines = [
        "%s %s HTTP/1.1" % (method, path),
        "Host: %s" % host,
        "User-Agent: " + USER_AGENT,
        "Accept: application/json, application/octet-stream",
        "Connection: close",
    ]
    if body is not None:
        lines.append("Content-Type: " + content_type)
        lines.append("Content-Length: %d" % len(body))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head + body if body is not None else head


class _OtaSource:
    """The package body as ``Ota.install`` reads it: a transport failure
    becomes an OtaError inside install (so the partial slot is removed) and
    is kept to be raised as what it was."""

    def __init__(self, body):
        self.body = body
        self.error = None

    def read(self, n):
        try:
            return self.body.read(n)
        except (TsmClientError, DecodeError) as e:
            self.error = e
            raise OtaError("download failed: %s" % e)


class TsmClient:
    """The terminal's calls to its TSM.

    ``connect()``: a new stream to the TSM (see the module docstring);
    ``host``: the Host header (the TSM's "host:port"); ``serial``: the
    device serial the TSM enrolled; ``se``: a
    ``firmware.secure.SecureElementApp`` (proofs, certificate, key loading);
    ``release_key``: the TSM release public key provisioned at the factory
    (65 bytes), never taken from the network; ``board``: this board's
    name (OTA packages are per board); ``clock``: an object with
    ``ticks_ms()``/``ticks_diff()`` (``board.rtc()``) to bound each
    request by ``deadline_ms``.
    """

    def __init__(
        self,
        connect,
        host,
        serial,
        se=None,
        release_key=None,
        board=None,
        clock=None,
        deadline_ms=None,
        max_json=MAX_JSON,
        max_package=MAX_PACKAGE,
    ):
        if not serial or len(serial) > 64 or not _serial_ok(serial):
            raise ValueError("bad serial %r" % (serial,))
        self.connect = connect
        self.host = host
        self.serial = serial
        self.se = se
        self.release_key = release_key
        self.board = board
        self.clock = clock
        self.deadline_ms = deadline_ms
        self.max_json = max_json
        self.max_package = max_package

    # -- HTTP ------------------------------------------------------------------
    def open(self, method, path, body=None, limit=None):
        """Send one request; the parsed response (the caller reads its body
        and calls ``close(response)``)."""
        data = request_bytes(method, path, self.host, body)
        try:
            stream = self.connect()
        except OSError as e:
            raise TsmUnreachable("TSM at %s unreachable (%s)" % (self.host, _errno(e)))
        try:
            try:
                stream.write(data)
            except OSError as e:
                raise TsmUnreachable("TSM at %s: send failed (%s)" % (self.host, _errno(e)))
            reader = Reader(stream, self.clock, self.deadline_ms)
            resp = read_response(reader, method, self.max_json if limit is None else limit)
        except Exception:
            _close(stream)
            raise
        resp.stream = stream
        return resp

    def close(self, resp):
        _close(resp.stream)

    def call(self, method, path, obj=None, ok=(200,)):
        """A JSON request and its JSON answer (a dict)."""
        body = json.dumps(obj).encode() if obj is not None else None
        resp = self.open(method, path, body)
        try:
            raw = resp.read_all(self.max_json)
        finally:
            self.close(resp)
        if resp.status not in ok:
            raise _refused(resp.status, raw)
        try:
            answer = json.loads(raw)
        except (ValueError, UnicodeError, RuntimeError):
            raise DecodeError("%s %s: the answer is not JSON" % (method, path))
        if not isinstance(answer, dict):
            raise DecodeError("%s %s: the answer is not a JSON object" % (method, path))
        return answer

    # -- device calls -------------------------------------------------------------
    def challenge(self, purpose):
        """A one-time challenge (hex) for ``purpose``: enrol, renew, dukpt."""
        ans = self.call("POST", "/v1/challenge", {"serial": self.serial, "purpose": purpose})
        ch = ans.get("challenge")
        if not isinstance(ch, str) or len(ch) != 64:
            raise DecodeError("challenge answer holds no 32-byte challenge")
        return ch

    def _need(self, what):
        if getattr(self, what) is None:
            raise ValueError("TsmClient needs %s for this call" % what)

    def enrol(self):
        """Enrol the SE key (slot 0, already generated): challenge, SE proof,
        certificate stored in the SE's certificate slot. The TSM's answer."""
        self._need("se")
        ch = self.challenge("enrol")
        ans = self.call("POST", "/v1/enrol", _tsm.enrol_request(self.se, self.serial, ch), (201,))
        _tsm.store_certificate(self.se, ans)
        return ans

    def renew(self):
        """A new certificate for the same SE key (purpose ``renew``), stored
        in the SE's certificate slot; the TSM revokes the previous one."""
        self._need("se")
        ch = self.challenge("renew")
        body = _tsm.proof(self.se, "renew", self.serial, ch)
        ans = self.call("POST", "/v1/devices/%s/renew" % self.serial, body)
        _tsm.store_certificate(self.se, ans)
        return ans

    def device_status(self):
        return self.call("GET", "/v1/devices/%s/status" % self.serial)

    def fetch_params(self, current_version=0):
        """The TSM's latest parameter document when it is newer than
        ``current_version``: (params, document), verified with the release
        key (``firmware.ota.params.verify``); None when there is nothing
        newer. ParamsError for a document that does not verify."""
        self._need("release_key")
        try:
            doc = self.call("GET", "/v1/params")
        except TsmRefused as e:
            if e.status == 404 and e.code == "no_params":
                return None
            raise
        v = doc.get("version")
        if isinstance(v, int) and not isinstance(v, bool) and v <= current_version:
            return None  # the outer version is a hint; verify checks the signed one
        return _params.verify(doc, self.release_key, current_version), doc

    def install_latest(self, ota):
        """Download the latest package for this board and stream it into
        ``ota.install`` (never whole in RAM). The installed version, or None
        when the TSM has nothing above the device's floor. A package that does
        not verify raises OtaError (nothing installed); a broken download
        raises the transport error (TsmTruncated, TsmTimeout, DecodeError)
        after install has removed its partial slot."""
        self._need("board")
        resp = self.open("GET", "/v1/ota/%s/latest" % self.board, limit=self.max_package)
        try:
            if resp.status != 200:
                raise _refused(resp.status, _small(resp, self.max_json))
            st = ota.state()
            floor = max(st.get("version", 0), st.get("min_version", 0))
            hint = resp.header("x-payterm-version")
            if hint is not None and hint.isdigit() and int(hint) <= floor:
                return None  # nothing newer: do not download it
            src = _OtaSource(resp.body)
            try:
                return ota.install(src)
            except OtaError:
                if src.error is not None:
                    raise src.error
                raise
        except TsmRefused as e:
            if e.status == 404 and e.code == "no_package":
                return None
            raise
        finally:
            self.close(resp)

    def register_transport_key(self):
        """Register the SE's key-agreement key with the TSM (purpose
        ``transport-key``; the enrolled SE key vouches for it). The TSM keeps
        the first key registered; the same key again is answered as such."""
        from firmware.secure import kbpk

        self._need("se")
        ch = self.challenge("transport-key")
        body = kbpk.register_request(self.se, self.serial, ch)
        return self.call("POST", "/v1/devices/%s/transport-key" % self.serial, body)

    def load_dukpt(self):
        """The initial DUKPT key from the TSM into the SE: a fresh SE nonce
        and proof, the TSM's TR-31 block under a KBPK agreed for this load
        (ECDH with the SE's key-agreement key, registered first when the TSM
        answers ``no_transport_key``), KEY_AGREE then LOAD_DUKPT in the SE,
        the key confirmation sent back. The SE's first KSN. The key block
        never leaves its TR-31 wrapping here."""
        from firmware.secure import kbpk

        self._need("se")
        path = "/v1/devices/%s/dukpt" % self.serial
        try:
            ans = self.call(
                "POST", path, kbpk.dukpt_request(self.se, self.serial, self.challenge("dukpt"))
            )
        except TsmRefused as e:
            if e.status != 409 or e.code != "no_transport_key":
                raise
            self.register_transport_key()
            ans = self.call(
                "POST", path, kbpk.dukpt_request(self.se, self.serial, self.challenge("dukpt"))
            )
        confirm, ksn = kbpk.install(self.se, ans)
        self.call("POST", path + "/confirm", confirm)
        ikid = ans.get("ikid")
        if not isinstance(ikid, str) or bytes(ksn[:8]) != _unhex(ikid):
            raise _tsm.TsmError("the SE's KSN does not start with the TSM's IKID")
        return ksn


def _serial_ok(serial):
    return all("a" <= ch.lower() <= "z" or "0" <= ch <= "9" or ch in "._-" for ch in serial)


def _unhex(text):
    try:
        return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))
    except ValueError:
        raise DecodeError("not hex: %r" % text[:20])


_ERRNO = {
    111: "connection refused",
    110: "timed out",
    113: "no route to host",
    101: "network unreachable",
    104: "connection reset",
}


def _errno(e):
    code = e.args[0] if e.args else None
    name = _ERRNO.get(code) if isinstance(code, int) else None
    return "errno %s, %s" % (code, name) if name else "errno %s" % (code,)


def _small(resp, limit):
    try:
        return resp.read_all(limit)
    except DecodeError:
        return b""


def _refused(status, raw):
    code = "http_%d" % status
    message = ""
    try:
        err = json.loads(raw).get("error")
        if isinstance(err, dict):
            code = str(err.get("code", code))[:64]
            message = str(err.get("message", ""))[:200]
    except (ValueError, UnicodeError, AttributeError, TypeError, RuntimeError):
        pass
    return TsmRefused(status, code, message)
