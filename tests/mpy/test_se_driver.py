# Secure-element channel driver under MicroPython with a fake I2C bus that
# plays a scripted element and records every transaction.  Expected frames
# are written out in hex; their CRCs were computed with CPython's
# binascii.crc_hqx(data, 0xFFFF) (CRC-16/CCITT-FALSE), not with our code.
import errno

from mpyunit import eq, raises

from firmware.drivers.se import (
    SeBusError,
    SecureElement,
    SeFrameError,
    SeStatusError,
    SeTimeout,
)
from protocols import se_frame
from protocols.errors import DecodeError, EncodeError


def h(text):
    return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))


INFO = h("010000FBAC")
RANDOM8 = h("02000108DB91")
ECHO_ABC = h("030003616263C6FA")
RESEND = h("0F0000E0AD")
RESP_ECHO = h("000003616263081A")
RESP_BUSY = h("010000FBAC")
RESP_CRC_ERROR = h("020000A2FC")
RESP_RANDOM = h("00000801020304050607088B5C")
RESP_KEY_NOT_FOUND = h("070000490C")
RESP_INFO = h("0000167B226D6F64656C223A227061797465726D2D7365227D1920")


class FakeBus:
    """Each write is logged; each read is served from ``reads`` (a list of
    bytes, or an OSError to raise).  Writes may be refused by ``write_errors``."""

    def __init__(self, reads, write_errors=()):
        self.reads = list(reads)
        self.write_errors = list(write_errors)
        self.log = []

    def writeto(self, addr, buf, stop=True):
        self.log.append(("W", addr, bytes(buf)))
        if self.write_errors:
            e = self.write_errors.pop(0)
            if e is not None:
                raise e
        return len(buf)

    def readfrom(self, addr, n, stop=True):
        item = self.reads.pop(0)
        self.log.append(("R", addr, n))
        if isinstance(item, Exception):
            raise item
        return item[:n]


class Clock:
    def __init__(self):
        self.slept = []

    def sleep_ms(self, ms):
        self.slept.append(ms)


def test_frames_match_the_reference_crc():
    eq(se_frame.encode_request(se_frame.CMD_INFO), INFO)
    eq(se_frame.encode_request(se_frame.CMD_RANDOM, b"\x08"), RANDOM8)
    eq(se_frame.encode_request(se_frame.CMD_RESEND), RESEND)
    eq(se_frame.encode_response(0, b"abc"), RESP_ECHO)
    eq(se_frame.decode(RESP_RANDOM), (0, bytes(range(1, 9))))
    eq(se_frame.frame_length(RESP_RANDOM[:3]), len(RESP_RANDOM))
    bad = bytearray(RESP_ECHO)
    bad[4] ^= 1
    eq(raises(DecodeError, se_frame.decode, bytes(bad)).field, "CRC")
    eq(raises(DecodeError, se_frame.decode, RESP_ECHO[:-1]).field, "LEN")
    eq(raises(DecodeError, se_frame.decode_header, b"\x00\x04\x01").field, "LEN")
    raises(EncodeError, se_frame.encode_request, 0x100)
    raises(EncodeError, se_frame.encode_request, 1, bytes(1025))


def test_echo_exact_bus_traffic():
    bus = FakeBus([RESP_ECHO[:3], RESP_ECHO[3:]])
    se = SecureElement(bus, 0x60)
    eq(se.echo(b"abc"), b"abc")
    eq(bus.log, [("W", 0x60, ECHO_ABC), ("R", 0x60, 3), ("R", 0x60, 5)])


def test_nack_on_write_then_busy_polls():
    nack = OSError(errno.ENODEV)
    bus = FakeBus(
        [RESP_BUSY[:3], nack, RESP_BUSY[:3], RESP_RANDOM[:3], RESP_RANDOM[3:]],
        write_errors=[nack, None],
    )
    clock = Clock()
    se = SecureElement(bus, 0x60, clock, retry_ms=5, poll_ms=2)
    eq(se.random(8), bytes(range(1, 9)))
    eq(
        bus.log,
        [
            ("W", 0x60, RANDOM8),
            ("W", 0x60, RANDOM8),
            ("R", 0x60, 3),
            ("R", 0x60, 3),
            ("R", 0x60, 3),
            ("R", 0x60, 3),
            ("R", 0x60, 10),
        ],
    )
    eq(clock.slept, [5, 2, 2, 2])
    eq(se.stats, {"nacks": 2, "busy": 3, "resends": 0, "retransmits": 0})


def test_damaged_response_is_fetched_again_with_resend():
    bad = bytearray(RESP_ECHO)
    bad[5] ^= 0x40
    bus = FakeBus([bytes(bad[:3]), bytes(bad[3:]), RESP_ECHO[:3], RESP_ECHO[3:]])
    se = SecureElement(bus)
    eq(se.echo(b"abc"), b"abc")
    eq([e[2] for e in bus.log if e[0] == "W"], [ECHO_ABC, RESEND])
    eq(se.stats["resends"], 1)


def test_crc_error_status_sends_the_request_again():
    bus = FakeBus([RESP_CRC_ERROR[:3], RESP_CRC_ERROR[3:], RESP_INFO[:3], RESP_INFO[3:]])
    se = SecureElement(bus)
    eq(se.info(), {"model": "payterm-se"})
    eq([e[2] for e in bus.log if e[0] == "W"], [INFO, INFO])
    eq(se.stats["retransmits"], 1)


def test_error_status_is_typed():
    bus = FakeBus([RESP_KEY_NOT_FOUND[:3], RESP_KEY_NOT_FOUND[3:]])
    e = raises(SeStatusError, SecureElement(bus).request, 0x10, b"\x01")
    eq((e.status, e.name), (7, "KEY_NOT_FOUND"))


def test_no_device_is_a_bus_error_after_the_retries():
    nodev = OSError(errno.ENODEV)
    bus = FakeBus([], write_errors=[nodev] * 4)
    e = raises(SeBusError, SecureElement(bus, retries=3).echo, b"abc")
    eq(e.errno, errno.ENODEV)
    eq(len(bus.log), 4)
    bus = FakeBus([OSError(errno.EIO)])
    raises(SeBusError, SecureElement(bus).echo, b"abc")


def test_busy_forever_times_out_and_garbage_never_hangs():
    bus = FakeBus([RESP_BUSY[:3]] * 50)
    raises(SeTimeout, SecureElement(bus, max_polls=50).echo, b"abc")
    # a header claiming 0xFFFF bytes, then noise: resend, then give up
    noise = [b"\x00\xff\xff", b"\x00\xff\xff", b"\x00\xff\xff", b"\x00\xff\xff"]
    bus = FakeBus(noise)
    raises(SeFrameError, SecureElement(bus, retries=3).echo, b"abc")
    eq([e[2] for e in bus.log if e[0] == "W"], [ECHO_ABC, RESEND, RESEND, RESEND])
    # a short body read
    bus = FakeBus([RESP_ECHO[:3], b"ab"] * 4)
    raises(SeFrameError, SecureElement(bus).echo, b"abc")


def test_random_checks_its_argument_and_answer():
    raises(ValueError, SecureElement(FakeBus([])).random, 0)
    bus = FakeBus([RESP_ECHO[:3], RESP_ECHO[3:]])
    raises(SeFrameError, SecureElement(bus).random, 8)
