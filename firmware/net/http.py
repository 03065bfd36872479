"""A small HTTP/1.1 client over a byte stream the board opens, shared by the
terminal's HTTP clients (the TSM client, firmware/ota/client.py; the tax
uploader, firmware/fiscal/uploader.py).

The board hands over ``connect``: a function that opens a new connection
to the server and returns a stream — ``write(buf)``; ``read(n)`` returning
what is ready, at most ``n`` bytes (never more than ``READ_CHUNK`` are
asked at once, which bounds the RAM a read takes), ``None`` when its
timeout passes with nothing received, ``b""`` at end of stream, or raising
``OSError`` when the link fails (ETIMEDOUT/EAGAIN count as a timeout);
``deinit()`` or ``close()``. On the sim board that is
``boards.sim.net.Dialer(board, "net1")`` (or ``"net2"``). One request per
connection (``Connection: close``).

Responses are parsed strictly and with bounds: status line and header lines
of at most ``MAX_LINE`` bytes, at most ``MAX_HEADERS`` header fields, ASCII
only; a body delimited by ``Content-Length`` or ``Transfer-Encoding:
chunked`` (both, neither on a response that has a body, another transfer
coding, a negative or non-decimal length, a bad chunk size line or a chunk
not followed by CRLF: ``DecodeError``). JSON bodies are read whole up to
``max_json`` bytes; other bodies can be streamed from ``Response.body``.

Errors: ``HttpUnreachable`` (no connection, or the request could not be
sent), ``HttpTimeout`` (the stream's timeout, or the request's deadline
when a clock is given), ``HttpTruncated`` (a ``DecodeError``: the response
ended early or the link dropped mid-response), ``DecodeError`` (a malformed
response), ``HttpRefused`` (an HTTP status the call does not expect, with
the server's error code from a ``{"error": {"code", "message"}}`` body).
Messages name the peer (``peer``: "TSM", "tax backend").
"""

import json

from protocols.errors import DecodeError

MAX_LINE = 1024
MAX_HEADERS = 32
MAX_INTERIM = 4
MAX_CHUNK_LINE = 128
MAX_JSON = 64 * 1024
MAX_BODY = 16 * 1024 * 1024  # default bound of a streamed body
READ_CHUNK = 512
USER_AGENT = "payterm-terminal/1"
_ETIMEDOUT = (110, 116, 11)  # ETIMEDOUT (Linux, lwIP), EAGAIN
_TOKEN = "!#$%&'*+-.^_`|~"


class HttpError(Exception):
    """Base of the client's transport and status errors (not of
    ``DecodeError``, which malformed responses raise)."""


class HttpUnreachable(HttpError):
    """No connection to the server could be opened (or the request not sent)."""


class HttpTimeout(HttpError):
    """The server went quiet: the stream's timeout or the request's deadline."""


class HttpTruncated(DecodeError):
    """The response ended (or the link dropped) before its end."""


class HttpRefused(HttpError):
    """The server answered with a status the call does not accept."""

    def __init__(self, status, code, message, peer="server"):
        super().__init__("%s answered %d %s: %s" % (peer, status, code, message))
        self.status = status
        self.code = code
        self.message = message


def close_stream(stream):
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
    mapped to the client's errors (``Timeout``, ``Truncated``: a client may
    subclass them under its own names, as the TSM client does)."""

    Timeout = HttpTimeout
    Truncated = HttpTruncated

    def __init__(self, stream, clock=None, deadline_ms=None, peer="server"):
        self.stream = stream
        self.buf = b""
        self.received = 0
        self.clock = clock
        self.deadline_ms = deadline_ms
        self.peer = peer
        self.start = clock.ticks_ms() if clock is not None else 0

    def _more(self, want):
        s = self.stream
        n = min(READ_CHUNK, max(1, want))
        try:
            data = s.read(n)
        except OSError as e:
            code = e.args[0] if e.args else 0
            if code in _ETIMEDOUT:
                raise self.Timeout(
                    "no answer from the %s after %d bytes" % (self.peer, self.received)
                )
            raise self.Truncated("link lost after %d bytes of the response" % self.received)
        if data is None:
            raise self.Timeout("no answer from the %s after %d bytes" % (self.peer, self.received))
        if not data:
            raise self.Truncated("response ends after %d bytes" % self.received)
        if len(data) > n:
            raise DecodeError("stream returned more bytes than asked")
        self.received += len(data)
        if self.deadline_ms is not None and self._elapsed() > self.deadline_ms:
            raise self.Timeout("response not complete within %d ms" % self.deadline_ms)
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


def read_response(reader, method="GET", limit=MAX_BODY):
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


def _check_header(name, value):
    if not _token(name) or not isinstance(value, str) or len(value) > MAX_LINE:
        raise ValueError("bad request header %r" % (name,))
    for ch in value:
        if ord(ch) < 0x20 or ord(ch) > 0x7E:
            raise ValueError("bad request header %r" % (name,))


def request_bytes(method, path, host, body=None, content_type="application/json", headers=()):
    """The request head and body as sent (one request per connection).
    ``headers``: extra (name, value) pairs, sent in order after
    ``Connection``."""
    _check_target(path)
    lines = [
        "%s %s HTTP/1.1" % (method, path),
        "Host: %s" % host,
        "User-Agent: " + USER_AGENT,
        "Accept: application/json, application/octet-stream",
        "Connection: close",
    ]
    for name, value in headers:
        _check_header(name, value)
        lines.append("%s: %s" % (name, value))
    if body is not None:
        lines.append("Content-Type: " + content_type)
        lines.append("Content-Length: %d" % len(body))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head + body if body is not None else head


_ERRNO = {
    111: "connection refused",
    110: "timed out",
    113: "no route to host",
    101: "network unreachable",
    104: "connection reset",
}


def errno_text(e):
    code = e.args[0] if e.args else None
    name = _ERRNO.get(code) if isinstance(code, int) else None
    return "errno %s, %s" % (code, name) if name else "errno %s" % (code,)


def error_of(raw):
    """(code, message) of a ``{"error": {"code", "message"}}`` body, or
    (None, "") when the body is not one."""
    try:
        err = json.loads(raw).get("error")
        if isinstance(err, dict):
            return str(err.get("code", ""))[:64] or None, str(err.get("message", ""))[:200]
    except (ValueError, UnicodeError, AttributeError, TypeError, RuntimeError):
        pass
    return None, ""


def refused(status, raw, peer="server", cls=HttpRefused):
    code, message = error_of(raw)
    return cls(status, code or "http_%d" % status, message, peer)


def small_body(resp, limit):
    """The body of an error answer, or b"" when it is malformed or too long."""
    try:
        return resp.read_all(limit)
    except DecodeError:
        return b""


def parse_json(raw, what):
    """A JSON object (dict) from ``raw``; DecodeError for anything else."""
    try:
        answer = json.loads(raw)
    except (ValueError, UnicodeError, RuntimeError):
        raise DecodeError("%s: the answer is not JSON" % what)
    if not isinstance(answer, dict):
        raise DecodeError("%s: the answer is not a JSON object" % what)
    return answer


class HttpClient:
    """Requests to one server, one connection each.

    ``connect()``: a new stream (see the module docstring); ``host``: the
    Host header ("host:port"); ``clock``: an object with
    ``ticks_ms()``/``ticks_diff()`` (``board.rtc()``) to bound each request
    by ``deadline_ms``; ``max_json``: the largest JSON answer read;
    ``peer``: how errors name the server. A client that wants its errors
    under its own names overrides ``Reader``, ``Unreachable`` and
    ``Refused`` (subclasses of the shared ones)."""

    Reader = Reader
    Unreachable = HttpUnreachable
    Refused = HttpRefused

    def __init__(
        self, connect, host, clock=None, deadline_ms=None, max_json=MAX_JSON, peer="server"
    ):
        self.connect = connect
        self.host = host
        self.clock = clock
        self.deadline_ms = deadline_ms
        self.max_json = max_json
        self.peer = peer

    def open(
        self, method, path, body=None, limit=None, headers=(), content_type="application/json"
    ):
        """Send one request; the parsed response (the caller reads its body
        and calls ``close(response)``)."""
        data = request_bytes(method, path, self.host, body, content_type, headers)
        try:
            stream = self.connect()
        except OSError as e:
            raise self.Unreachable(
                "%s at %s unreachable (%s)" % (self.peer, self.host, errno_text(e))
            )
        try:
            try:
                stream.write(data)
            except OSError as e:
                raise self.Unreachable(
                    "%s at %s: send failed (%s)" % (self.peer, self.host, errno_text(e))
                )
            data = None
            reader = self.Reader(stream, self.clock, self.deadline_ms, self.peer)
            resp = read_response(reader, method, self.max_json if limit is None else limit)
        except Exception:
            close_stream(stream)
            raise
        resp.stream = stream
        return resp

    def close(self, resp):
        close_stream(resp.stream)

    def exchange(self, method, path, body=None, headers=(), content_type="application/json"):
        """One request and its whole answer: (status, body bytes), the body at
        most ``max_json`` bytes (DecodeError beyond)."""
        resp = self.open(method, path, body, None, headers, content_type)
        try:
            raw = resp.read_all(self.max_json)
        finally:
            self.close(resp)
        return resp.status, raw

    def call(self, method, path, obj=None, ok=(200,)):
        """A JSON request and its JSON answer (a dict); HttpRefused for a
        status not in ``ok``."""
        body = json.dumps(obj).encode() if obj is not None else None
        status, raw = self.exchange(method, path, body)
        if status not in ok:
            raise refused(status, raw, self.peer, self.Refused)
        return parse_json(raw, "%s %s" % (method, path))
