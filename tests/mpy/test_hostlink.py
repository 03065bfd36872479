# firmware/hostlink.py over a fake stream that records the exact bytes written.
from mpyunit import eq, raises

from firmware.hostlink import HostLink, HostLinkError, response_mti
from protocols import iso8583
from protocols.iso8583_specs import PAYTERM_1987

# 0800 sign-on as pyiso8583 encodes it (tests/vectors/iso8583_payterm.json).
SIGN_ON_HEX = (
    "08008220010000C0000004000000000000001121083000000001000350543030"
    "303030313030303030303030303132333435360001"
)
SIGN_ON = {
    "t": "0800",
    "7": "1121083000",
    "11": "000001",
    "24": "003",
    "41": "PT000001",
    "42": "000000000123456",
    "70": "001",
}


class FakeStream:
    """Records writes; serves scripted reads in chunks, then times out."""

    def __init__(self, incoming, chunk=3):
        self.written = bytearray()
        self.incoming = bytearray(incoming)
        self.chunk = chunk

    def write(self, data):
        self.written.extend(data)
        return len(data)

    def read(self, n):
        if not self.incoming:
            return None
        take = min(n, self.chunk)
        out = bytes(self.incoming[:take])
        self.incoming = self.incoming[take:]
        return out


def _reply(fields):
    return iso8583.frame(iso8583.encode(fields, PAYTERM_1987))


def test_writes_exact_frame_and_reads_split_response():
    reply = {"t": "0810", "11": "000001", "39": "00", "41": "PT000001", "70": "001"}
    stream = FakeStream(_reply(reply), chunk=3)
    got = HostLink(stream, PAYTERM_1987).exchange(SIGN_ON)
    want = bytes.fromhex("%04X" % (len(SIGN_ON_HEX) // 2) + SIGN_ON_HEX)
    eq(bytes(stream.written), want, "bytes on the wire")
    eq(got["39"], "00", "response code")


def test_timeout_mid_frame_is_a_host_link_error():
    frame = _reply({"t": "0810", "11": "000001", "39": "00"})
    stream = FakeStream(frame[:-2])
    e = raises(HostLinkError, HostLink(stream, PAYTERM_1987).exchange, SIGN_ON)
    eq("timed out" in str(e), True, str(e))


def test_wrong_stan_or_type_is_rejected():
    stream = FakeStream(_reply({"t": "0810", "11": "000002", "39": "00"}))
    raises(HostLinkError, HostLink(stream, PAYTERM_1987).exchange, SIGN_ON)
    stream = FakeStream(_reply({"t": "0110", "11": "000001", "39": "00"}))
    raises(HostLinkError, HostLink(stream, PAYTERM_1987).exchange, SIGN_ON)


def test_garbage_response_and_oversized_frame_are_errors():
    raises(HostLinkError, HostLink(FakeStream(b"\x00\x04\xff\xff\xff\xff"), PAYTERM_1987).receive)
    raises(HostLinkError, HostLink(FakeStream(b"\xff\xff"), PAYTERM_1987).receive)


def test_response_mti():
    eq(response_mti("0100"), "0110")
    eq(response_mti("0420"), "0430")
    raises(ValueError, response_mti, "0210")
