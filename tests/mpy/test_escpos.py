# ESC/POS builder under MicroPython: replays the operation lists of
# tests/vectors/escpos_streams.json (generated from python-escpos 3.1, see
# its "source") and checks the bytes; status decoding per the DLE EOT tables.
from mpyunit import eq, load_json, raises

from protocols import escpos
from protocols.errors import DecodeError, EncodeError

STREAMS = load_json("../vectors/escpos_streams.json")["streams"]


def _hex(text):
    return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))


def _replay(ops):
    builder = escpos.EscPosBuilder()
    for name, args in ops:
        kwargs = {}
        for key in args:
            kwargs[key] = args[key]
        if name == "image_raster":
            kwargs["data"] = _hex(kwargs["data"])
        getattr(builder, name)(**kwargs)
    return builder.output


def _check(name):
    for stream in STREAMS:
        if stream["name"] == name:
            eq(_replay(stream["ops"]), _hex(stream["hex"]), name)
            return
    raise AssertionError("no stream " + name)


def test_receipt_stream():
    _check("receipt")


def test_code_page_stream():
    _check("code pages")


def test_raster_stream():
    _check("raster logo 16x8, 2x width")


def test_styles_stream():
    _check("styles")


def test_builder_chains_and_clears():
    b = escpos.EscPosBuilder().initialize().set(bold=True).text("A").cut(feed=False)
    eq(b.output, b"\x1b@\x1bE\x01\x1bt\x00A\x1dVB\x00")
    b.clear()
    b.text("B")  # code page already selected: no ESC t again
    eq(b.output, b"B")


def test_status_decoding():
    eq(escpos.decode_status(1, b"\x1e"), {"drawer_pin3_high": True, "offline": True})
    eq(escpos.decode_status(4, b"\x72"), {"paper_near_end": False, "paper_end": True})
    eq(escpos.decode_transmit_status(49, b"\x03"), {"paper_near_end": True, "paper_end": False})
    e = raises(DecodeError, escpos.decode_status, 1, b"\x13")
    eq(e.field, "status")
    raises(DecodeError, escpos.decode_status, 9, b"\x12")
    raises(DecodeError, escpos.decode_status, 2, b"\x12\x12")


def test_bad_arguments_emit_nothing():
    b = escpos.EscPosBuilder()
    raises(EncodeError, b.set, None, None, None, 3)
    raises(EncodeError, b.barcode, "123", "EAN13")
    raises(EncodeError, b.image_raster, 9, 2, b"\x00")
    eq(b.output, b"")
