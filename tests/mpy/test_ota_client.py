# firmware/ota/client.py under MicroPython with a fake stream: the exact
# request bytes, the response parser's edge cases, the typed errors, and the
# OTA download path against a recording fake Ota.
from mpyunit import eq, raises

from firmware.ota import OtaError
from firmware.ota.client import (
    MAX_HEADERS,
    MAX_LINE,
    Reader,
    TsmClient,
    TsmRefused,
    TsmTimeout,
    TsmTruncated,
    TsmUnreachable,
    read_response,
    request_bytes,
)
from protocols.errors import DecodeError

HOST = "127.0.0.1:8480"
SERIAL = "PTSE-TEST-0001"
EOF = b""
TIMEOUT = None


class FakeStream:
    """Scripted reads: each event is bytes (served up to ``n`` at a time),
    None (a timeout), b"" (end of stream) or an exception to raise."""

    def __init__(self, events, chunk=1000):
        self.events = list(events)
        self.chunk = chunk
        self.written = bytearray()
        self.asked = []
        self.served = 0
        self.closed = 0

    def write(self, data):
        self.written.extend(data)
        return len(data)

    def read(self, n):
        self.asked.append(n)
        if not self.events:
            return None
        ev = self.events[0]
        if isinstance(ev, Exception):
            self.events.pop(0)
            raise ev
        if ev is None or ev == b"":
            self.events.pop(0)
            return ev
        take = min(n, self.chunk, len(ev))
        if take < len(ev):
            self.events[0] = ev[take:]
        else:
            self.events.pop(0)
        self.served += take
        return ev[:take]

    def deinit(self):
        self.closed += 1


def parse(raw, chunk=1000, method="GET", limit=1 << 20, tail=(EOF,)):
    stream = FakeStream([raw] + list(tail), chunk)
    resp = read_response(Reader(stream), method, limit)
    return resp, resp.read_all(limit)


def ok(body, extra=b""):
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def client(events, **kw):
    stream = FakeStream(events, **kw)
    return TsmClient(lambda: stream, HOST, SERIAL), stream


# -- the request on the wire --------------------------------------------------------


def test_request_bytes_exact():
    got = request_bytes("POST", "/v1/challenge", HOST, b'{"purpose": "enrol"}')
    want = (
        b"POST /v1/challenge HTTP/1.1\r\n"
        b"Host: 127.0.0.1:8480\r\n"
        b"User-Agent: payterm-terminal/1\r\n"
        b"Accept: application/json, application/octet-stream\r\n"
        b"Connection: close\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: 20\r\n"
        b"\r\n"
        b'{"purpose": "enrol"}'
    )
    eq(got, want, "POST")
    get = request_bytes("GET", "/v1/params", HOST)
    eq(get.endswith(b"Connection: close\r\n\r\n"), True, "GET has no body headers")
    eq(b"Content-Length" in get, False, "GET has no Content-Length")


def test_request_target_checked():
    raises(ValueError, request_bytes, "GET", "v1/params", HOST)
    raises(ValueError, request_bytes, "GET", "/v1/a b", HOST)
    raises(ValueError, request_bytes, "GET", "/v1/a\r\nX: y", HOST)


def test_client_call_sends_exact_bytes_and_closes():
    c, s = client([ok(b'{"serial": "PTSE-TEST-0001", "status": "active"}'), EOF])
    ans = c.device_status()
    eq(ans["status"], "active", "answer")
    eq(
        bytes(s.written),
        b"GET /v1/devices/PTSE-TEST-0001/status HTTP/1.1\r\nHost: 127.0.0.1:8480\r\n"
        b"User-Agent: payterm-terminal/1\r\nAccept: application/json, "
        b"application/octet-stream\r\nConnection: close\r\n\r\n",
        "request",
    )
    eq(s.closed, 1, "connection closed")


def test_bad_serial_refused():
    for bad in ("", "a b", "x/y", "a" * 65, "é"):
        raises(ValueError, TsmClient, lambda: None, HOST, bad)


# -- responses that parse ---------------------------------------------------------------


def test_content_length_split_in_single_bytes():
    resp, body = parse(ok(b"hello", b"X-Payterm-Version: 3\r\n"), chunk=1)
    eq((resp.status, resp.reason, body), (200, "OK", b"hello"), "response")
    eq(resp.header("X-PAYTERM-VERSION"), "3", "header names are case-insensitive")


def test_chunked_with_extensions_and_trailers():
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b"1A\r\n" + b"z" * 26 + b"\r\n"
        b"0\r\nX-Trailer: 1\r\n\r\n"
    )
    for chunk in (1, 7, 1000):
        _resp, body = parse(raw, chunk)
        eq(body, b"hello" + b"z" * 26, "chunked body, reads of %d" % chunk)


def test_bare_lf_lines_and_no_reason():
    resp, body = parse(b"HTTP/1.1 204\nX: y\n\n", tail=())
    eq((resp.status, resp.reason, body), (204, "", b""), "204 has no body")


def test_interim_responses_skipped():
    resp, body = parse(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"{}"))
    eq((resp.status, body), (200, b"{}"), "final response")
    many = b"HTTP/1.1 100 Continue\r\n\r\n" * 5 + ok(b"{}")
    raises(DecodeError, parse, many)
    raises(DecodeError, parse, b"HTTP/1.1 101 Switching\r\n\r\n")


def test_duplicate_headers():
    resp, body = parse(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\nA: 1\r\nA: 2\r\n\r\nok"
    )
    eq((body, resp.header("a")), (b"ok", "1, 2"), "same length twice is one length")
    raises(
        DecodeError, parse, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"
    )


def test_head_and_304_have_no_body():
    _resp, body = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", method="HEAD", tail=())
    eq(body, b"", "HEAD")
    _resp, body = parse(b"HTTP/1.1 304 Not Modified\r\n\r\n", tail=())
    eq(body, b"", "304")


# -- malformed responses: DecodeError ----------------------------------------------------------

MALFORMED = (
    b"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"ICY 200 OK\r\n\r\n",
    b"HTTP/1.1 20x OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 600 Weird\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nName : x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: \xc3\xa9\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: \x00\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\nno length",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nab",
    b"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n123456789\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
    + b"T: 1\r\n" * (MAX_HEADERS + 1)
    + b"\r\n",
)


def test_malformed_responses_are_decode_errors():
    for i, raw in enumerate(MALFORMED):
        for chunk in (1, 1000):
            try:
                parse(raw, chunk)
            except TsmTruncated as e:
                raise AssertionError("case %d: truncated, not malformed: %s" % (i, e))
            except DecodeError:
                continue
            raise AssertionError("case %d accepted: %r" % (i, raw))


def test_bounds():
    long_line = b"HTTP/1.1 200 OK\r\nA: " + b"x" * MAX_LINE + b"\r\n\r\n"
    e = raises(DecodeError, parse, long_line)
    eq("longer than" in str(e), True, "line bound")
    endless = FakeStream([b"HTTP/1.1 200 OK\r\nA: " + b"x" * 20000])
    raises(DecodeError, read_response, Reader(endless))
    eq(sum(endless.asked) < 2 * MAX_LINE + 100, True, "stopped reading at the bound")
    many = b"HTTP/1.1 200 OK\r\n" + b"A: 1\r\n" * (MAX_HEADERS + 1) + b"\r\n"
    raises(DecodeError, parse, many)
    raises(DecodeError, lambda: parse(ok(b"x" * 100), limit=99))
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + b"x" * 64
    more = chunked + b"\r\n40\r\n" + b"y" * 64 + b"\r\n0\r\n\r\n"
    raises(DecodeError, lambda: parse(more, limit=100))


# -- the link: truncation, timeouts, drops --------------------------------------------


def test_truncated_is_typed():
    for raw in (b"", b"HTTP/1.1 200 OK\r\n", ok(b"0123456789")[:-3]):
        e = raises(TsmTruncated, parse, raw)
        eq(isinstance(e, DecodeError), True, "TsmTruncated is a DecodeError")
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"
    raises(TsmTruncated, parse, chunked)
    raises(TsmTruncated, lambda: parse(ok(b"abc")[:-1], tail=(OSError(104),)))


def test_timeouts_are_typed():
    raises(TsmTimeout, lambda: parse(b"HTTP/1.1 200 OK\r\n", tail=(TIMEOUT,)))
    raises(TsmTimeout, lambda: parse(ok(b"abc")[:-1], tail=(OSError(110),)))


class FakeClock:
    def __init__(self, step):
        self.t = 0
        self.step = step

    def ticks_ms(self):
        self.t += self.step
        return self.t

    def ticks_diff(self, a, b):
        return a - b


def test_deadline_with_the_board_clock():
    stream = FakeStream([ok(b"x" * 50)], chunk=1)
    r = Reader(stream, FakeClock(10), deadline_ms=200)
    e = raises(TsmTimeout, lambda: read_response(r).read_all(100))
    eq("200 ms" in str(e), True, "deadline named")


def test_reads_are_bounded():
    raw = ok(b"x" * 5000)
    stream = FakeStream([raw, EOF])
    resp = read_response(Reader(stream))
    eq(len(resp.read_all(10000)), 5000, "body")
    eq(max(stream.asked), 512, "never more than 512 bytes asked at once")


def test_stream_returning_too_much_is_refused():
    class Liar(FakeStream):
        def read(self, n):
            return b"HTTP/1.1 200 OK\r\n" * 100

    raises(DecodeError, read_response, Reader(Liar([])))


def test_unreachable_and_refused():
    def down():
        raise OSError(111)

    e = raises(TsmUnreachable, TsmClient(down, HOST, SERIAL).device_status)
    eq("127.0.0.1:8480" in str(e) and "111" in str(e), True, "says where and why")
    err = b'{"error": {"code": "bad_challenge", "message": "spent"}}'
    c, s = client([b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\n\r\n%s" % (len(err), err)])
    e = raises(TsmRefused, c.call, "POST", "/v1/enrol", {"x": 1}, (201,))
    eq((e.status, e.code, e.message), (403, "bad_challenge", "spent"), "TSM error")
    c, s = client([b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\n\r\noops"])
    e = raises(TsmRefused, c.device_status)
    eq((e.status, e.code), (502, "http_502"), "non-JSON error")
    c, s = client([ok(b"[1, 2]")])
    raises(DecodeError, c.device_status)
    c, s = client([ok(b"{not json")])
    raises(DecodeError, c.device_status)
    eq(s.closed, 1, "closed after a bad answer")


# -- the OTA download path -----------------------------------------------------------------


class FakeOta:
    """Reads the stream like Ota.install (512-byte reads, then one more to
    check for trailing data); OtaError from the stream propagates, as in Ota
    (which removes its partial slot first)."""

    def __init__(self, version=0, min_version=0):
        self.st = {"active": "a", "version": version, "min_version": min_version}
        self.got = None
        self.calls = 0

    def state(self):
        return self.st

    def install(self, stream):
        self.calls += 1
        data = bytearray()
        while True:
            chunk = stream.read(512)
            if not chunk:
                break
            data.extend(chunk)
        if len(data) < 10:
            raise OtaError("package truncated")
        self.got = bytes(data)
        return 9


def pkg_response(body, version=9, length=None):
    n = len(body) if length is None else length
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Payterm-Version: %d\r\n\r\n%s" % (
        n,
        version,
        body,
    )


def ota_client(events, **kw):
    stream = FakeStream(events, **kw)
    return TsmClient(lambda: stream, HOST, SERIAL, board="sim"), stream


def test_package_streamed_into_install():
    body = bytes(range(256)) * 9
    c, s = ota_client([pkg_response(body), EOF], chunk=100)
    ota = FakeOta()
    eq(c.install_latest(ota), 9, "installed version")
    eq(ota.got, body, "bytes as sent")
    eq(max(s.asked) <= 512, True, "never more than 512 bytes asked at once")
    eq(s.written.startswith(b"GET /v1/ota/sim/latest HTTP/1.1\r\n"), True, "request")
    eq(s.closed, 1, "closed")


def test_nothing_newer_is_not_downloaded():
    c, s = ota_client([pkg_response(b"x" * 5000, version=3)])
    ota = FakeOta(version=3, min_version=2)
    eq(c.install_latest(ota), None, "nothing newer")
    eq(ota.calls, 0, "install not called")
    eq(s.served <= 512, True, "the body was not read (%d bytes)" % s.served)
    err = b'{"error": {"code": "no_package", "message": "none"}}'
    c, s = ota_client([b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(err), err)])
    eq(c.install_latest(FakeOta()), None, "no package published")


def test_truncated_package_raises_the_transport_error():
    body = b"p" * 3000
    for tail in ((EOF,), (OSError(104),), (TIMEOUT,)):
        c, s = ota_client([pkg_response(body, length=4000), tail[0]])
        ota = FakeOta()
        want = TsmTimeout if tail[0] is TIMEOUT else TsmTruncated
        raises(want, c.install_latest, ota)
        eq(ota.got, None, "nothing installed")
        eq(s.closed, 1, "closed")


def test_package_over_the_limit_is_not_read():
    stream = FakeStream([pkg_response(b"", length=17 * 1024 * 1024)])
    c = TsmClient(lambda: stream, HOST, SERIAL, board="sim")
    ota = FakeOta()
    raises(DecodeError, c.install_latest, ota)
    eq(ota.calls, 0, "install not called")
