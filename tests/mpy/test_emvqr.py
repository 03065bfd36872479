# EMVCo QR codec and CliQ profile under MicroPython (256K heap): the same
# published vectors as tests/test_emvqr.py, including the CRC check value and
# the Chinese/Arabic payloads whose lengths count characters, not bytes.
from mpyunit import eq, load_json, raises

from protocols import emvqr, emvqr_cliq
from protocols.crc16 import crc16_ccitt_false, crc16_hex
from protocols.errors import DecodeError, EncodeError

_cache = {}


def _vectors(name):
    if name not in _cache:
        _cache[name] = load_json("../vectors/" + name)
    return _cache[name]


def test_crc_check_value():
    for row in _vectors("emvqr_payloads.json")["crc_check_values"]:
        eq(crc16_hex(row["data"].encode()), row["crc"], row["data"])
    eq(crc16_ccitt_false(b"123456789"), 0x29B1)
    eq(crc16_ccitt_false(b"56789", crc16_ccitt_false(b"1234")), 0x29B1, "chunked")


def test_published_payloads_decode_and_round_trip():
    for row in _vectors("emvqr_payloads.json")["valid"]:
        text = row["payload"]
        payload = emvqr.decode(text, True, False)
        eq(payload.crc_ok(), True, row["name"])
        for path in sorted(row["expect"]):
            eq(payload.get(path), row["expect"][path], row["name"] + " " + path)
        eq(emvqr.encode(payload.objects), text, row["name"] + " round trip")


def test_published_payload_conformance():
    for row in _vectors("emvqr_payloads.json")["valid"]:
        paths = [p for p, _ in emvqr.problems(emvqr.parse(row["payload"]))]
        if row["conforms"]:
            eq(paths, [], row["name"])
        else:
            eq(paths, row["problems"], row["name"])
            e = raises(DecodeError, emvqr.decode, row["payload"])
            eq(e.tag, row["problems"][0], row["name"])


def test_chinese_lengths_count_characters():
    row = _vectors("emvqr_payloads.json")["valid"][0]
    payload = emvqr.parse(row["payload"])
    for path in sorted(row["char_lengths"]):
        chars, utf8_bytes = row["char_lengths"][path]
        value = payload.get(path)
        eq(len(value), chars, path)
        eq(len(value.encode()), utf8_bytes, path)


def test_invalid_payloads_raise_decode_error():
    for row in _vectors("emvqr_payloads.json")["invalid"]:
        e = raises(DecodeError, emvqr.decode, row["payload"], True, False)
        if row["error"] == "crc":
            eq(e.tag, "63", row["name"])
            eq(row["computed_crc"] in str(e), True, row["name"])


def test_accessors():
    text = _vectors("emvqr_payloads.json")["valid"][0]["payload"]
    payload = emvqr.decode(text)
    eq([t for t, _ in payload.merchant_accounts()], ["29", "31"])
    eq(payload.additional_data()[0], ("03", "1234"))
    eq(payload.language_template()[1], ("01", "最佳运输"))
    eq(payload.is_dynamic(), True)
    eq(payload.template_with_guid("A011223344998877")[0], "91")


def test_encode_errors():
    raises(EncodeError, emvqr.encode, [("5", "x")])
    raises(EncodeError, emvqr.encode, [("59", "x" * 100)])
    raises(EncodeError, emvqr.encode, [("26", "flat")])
    raises(EncodeError, emvqr.encode, [("63", "0000"), ("59", "x")])


def test_garbage_raises_decode_error():
    for text in ("", "0", "00", "0002", "000201", "00AB", "6304", "0002010063041234", "ÿÿÿÿ"):
        raises(DecodeError, emvqr.decode, text)
    raises(DecodeError, emvqr.decode, b"\xff\xfe0002")


def test_cliq_vectors_build_and_parse():
    doc = _vectors("emvqr_cliq.json")
    eq(emvqr_cliq.iban_ok(doc["iban"]["value"]), True, "published IBAN")
    for row in doc["built"]:
        args = row["args"]
        if row["builder"] == "static":
            text = emvqr_cliq.cliq_static(**args)
        else:
            text = emvqr_cliq.cliq_dynamic(**args)
        eq(text, row["payload"], args["alias_type"])
        parsed = emvqr_cliq.parse_cliq(text)
        for name in sorted(args):
            eq(getattr(parsed, name), args[name], name)


def test_cliq_arabic_lengths_count_characters():
    parsed = emvqr_cliq.parse_cliq(_vectors("emvqr_cliq.json")["built"][0]["payload"])
    eq(len(parsed.name_ar), 13)
    eq(len(parsed.city_ar), 5)
    eq(len(parsed.city_ar.encode()), 10)


def test_cliq_rejected():
    for row in _vectors("emvqr_cliq.json")["rejected"]:
        e = raises(DecodeError, emvqr_cliq.parse_cliq, row["payload"])
        eq(e.tag, row["tag"], row["name"])


def test_mutated_payloads_raise_only_decode_error():
    # A fixed linear congruential sequence: the same mutations on every run,
    # on the device as on the host.
    state = 12345
    alphabet = "0123456789AZ* é最\x00"
    rows = _vectors("emvqr_payloads.json")["valid"]
    rejected = 0
    for round_number in range(300):
        text = rows[round_number % len(rows)]["payload"]
        for _ in range(1 + round_number % 3):
            state = (state * 1103515245 + 12345) & 0x7FFFFFFF
            at = state % (len(text) + 1)
            char = alphabet[(state >> 8) % len(alphabet)]
            action = (state >> 16) % 3
            if action == 0:
                text = text[:at] + char + text[at:]
            elif action == 1:
                text = text[:at] + text[at + 1 :]
            else:
                text = text[:at] + char + text[at + 1 :]
        try:
            emvqr.decode(text)
        except DecodeError:
            rejected += 1
    # A changed payload can only pass if the mutation left it unchanged.
    eq(rejected > 290, True, "rejected %d of 300" % rejected)
