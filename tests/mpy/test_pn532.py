# PN532 frames under MicroPython: the published vectors of
# tests/vectors/pn532_frames.json (sources recorded there), the streaming
# parser over split input, and recovery from corrupt frames.
from mpyunit import eq, load_json, raises

from protocols import pn532
from protocols.errors import DecodeError, EncodeError

VECTORS = load_json("../vectors/pn532_frames.json")


def _hex(text):
    return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))


def test_published_frames_decode_and_encode():
    for v in VECTORS["frames"]:
        raw = _hex(v["hex"])
        frame = pn532.decode_frame(raw)
        eq(frame.kind, v["kind"], v["name"])
        if "command" in v:
            eq(pn532.command_of(frame), (v["command"], _hex(v["params"])), v["name"])
            eq(pn532.encode_command(v["command"], _hex(v["params"])), raw, v["name"])
        if "response_to" in v:
            eq(pn532.response_data(frame, v["response_to"]), _hex(v["data"]), v["name"])
            eq(pn532.encode_response(v["response_to"], _hex(v["data"])), raw, v["name"])


def test_published_streams_parse_byte_by_byte():
    for s in VECTORS["streams"]:
        parser = pn532.FrameParser()
        got = []
        for b in _hex(s["hex"]):
            got += parser.feed(bytes((b,)))
        want = [(k, t, _hex(d)) for k, t, d in s["frames"]]
        eq([(f.kind, f.tfi, f.data) for f in got], want, s["name"])


def test_extended_frame_round_trip():
    params = bytes(range(256)) + b"\x01\x02\x03"
    raw = pn532.encode_command(0x40, params)
    eq(raw[3:5], b"\xff\xff")
    frame = pn532.decode_frame(raw)
    eq(frame.kind, pn532.KIND_EXTENDED)
    eq(pn532.command_of(frame), (0x40, params))


def test_corrupt_frame_then_good_frame():
    bad = bytearray(pn532.encode_response(0x4A, b"\x00"))
    bad[-2] ^= 0xFF
    good = pn532.encode_response(0x02, b"\x32\x01\x06\x07")
    got = pn532.FrameParser().feed(b"\x13\x37" + bytes(bad) + good)
    eq(got[0].kind, pn532.KIND_CORRUPT)
    eq(got[0].error.field, "DCS")
    eq(got[0].offset, 3)
    eq(got[-1].data, b"\x03\x32\x01\x06\x07")


def test_strict_decoder_names_checksum():
    raw = bytearray(pn532.encode_command(0x02))
    raw[4] ^= 1
    e = raises(DecodeError, pn532.decode_frame, bytes(raw))
    eq(e.field, "LCS")
    eq(e.offset, 4)
    raises(DecodeError, pn532.decode_frame, b"\x00\x00\xff\x02")


def test_noise_never_raises_and_buffer_stays_bounded():
    parser = pn532.FrameParser()
    seed = 12345
    for _ in range(3000):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        # Bias towards 00 and FF so start codes and headers occur often.
        b = (0x00, 0xFF, seed >> 16 & 0xFF)[seed % 3]
        parser.feed(bytes((b,)))
        if parser.buffered > pn532.MAX_FRAME_LEN + 9 + 64:
            raise AssertionError("buffer grew to %d" % parser.buffered)


def test_encoder_limits_and_errors_table():
    raises(EncodeError, pn532.encode_command, 0x40, bytes(pn532.MAX_FRAME_LEN - 1))
    eq(pn532.error_meaning(0x41), pn532.error_meaning(0x01))
    eq(pn532.command_name(0x14), "SAMConfiguration")
    eq(pn532.HSU_WAKEUP[:2], b"\x55\x55")
