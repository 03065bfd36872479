# ISO 8583 under MicroPython: the same vectors as the CPython tests, byte for
# byte and field for field (tests/vectors/iso8583_*.json name their sources).
from mpyunit import eq, load_json, raises

from protocols import iso8583
from protocols.errors import DecodeError, EncodeError
from protocols.iso8583_specs import PAYTERM_1987

PAYTERM = load_json("../vectors/iso8583_payterm.json")
MALFORMED = load_json("../vectors/iso8583_malformed.json")


def _doc_spec_for(vectors, message):
    changes = message.get("spec_changes")
    if not changes:
        return vectors["spec"]
    spec = dict(vectors["spec"])
    for key in changes:
        spec[key] = changes[key]
    return spec


def test_pyiso8583_published_messages_decode_and_encode():
    vectors = load_json("../vectors/iso8583_pyiso8583_docs.json")
    for message in vectors["messages"]:
        spec = _doc_spec_for(vectors, message)
        wire = bytes.fromhex(message["hex"])
        eq(iso8583.decode(wire, spec), message["fields"], message["name"])
        eq(iso8583.encode(message["fields"], spec), wire, message["name"])


def test_wikipedia_bitmaps():
    vectors = load_json("../vectors/iso8583_pyiso8583_docs.json")
    for bitmap in vectors["bitmaps"]:
        eq(iso8583.bitmap_fields(bytes.fromhex(bitmap["hex"])), bitmap["fields"], bitmap["hex"])


def test_payterm_messages_decode():
    for message in PAYTERM["messages"]:
        got = iso8583.decode(bytes.fromhex(message["hex"]), PAYTERM_1987)
        eq(got, message["fields"], message["name"])


def test_payterm_messages_encode():
    for message in PAYTERM["messages"]:
        got = iso8583.encode(message["fields"], PAYTERM_1987)
        eq(got.hex().upper(), message["hex"], message["name"])


def test_malformed_messages_name_field_and_offset():
    for case in MALFORMED["cases"]:
        e = raises(DecodeError, iso8583.decode, bytes.fromhex(case["hex"]), PAYTERM_1987)
        eq((e.field, e.offset), (case["field"], case["offset"]), case["name"])


def test_framing_round_trip_and_stream_split():
    message = bytes.fromhex(PAYTERM["messages"][0]["hex"])
    framed = iso8583.frame(message)
    eq(framed[:2], len(message).to_bytes(2, "big"))
    eq(iso8583.unframe(framed), message)
    eq(iso8583.split_frame(framed + framed[:3]), (message, framed[:3]))
    eq(iso8583.split_frame(framed[:-1]), (None, framed[:-1]))
    raises(DecodeError, iso8583.unframe, framed[:-1])
    raises(DecodeError, iso8583.unframe, framed + b"\x00")


def test_encode_errors_name_the_field():
    base = {"t": "0800", "11": "000001", "41": "PT000001"}
    cases = [
        ("11", "00000A"),  # n must be digits
        ("11", "00001"),  # fixed length 6
        ("41", "PT00001\t"),  # ans is printable only
        ("2", "4" * 20),  # n..19
        ("37", "ABC-12345678"),  # an: no '-'
        ("52", "0011223"),  # odd hex
        ("35", "4761=25A2"),  # z: digits and separator only
    ]
    for key, value in cases:
        doc = dict(base)
        doc[key] = value
        e = raises(EncodeError, iso8583.encode, doc, PAYTERM_1987)
        eq(e.field, int(key), key + "=" + value)
    e = raises(EncodeError, iso8583.encode, {"t": "0800", "5": "1"}, PAYTERM_1987)
    eq(e.field, "5")
    e = raises(EncodeError, iso8583.encode, {"t": "800"}, PAYTERM_1987)
    eq(e.field, "t")


def test_binary_field_accepts_bytes():
    doc = {"t": "0200", "64": b"\x01\x02\x03\x04\x05\x06\x07\x08"}
    wire = iso8583.encode(doc, PAYTERM_1987)
    eq(iso8583.decode(wire, PAYTERM_1987)["64"], "0102030405060708")
