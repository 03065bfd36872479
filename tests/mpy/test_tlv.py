# BER-TLV, DOL and tag dictionary vectors, run under MicroPython.
# The vectors and their sources are in tests/vectors/tlv_*.json.
from mpyunit import eq, load_json, raises

from protocols import emv_tags, tlv
from protocols.errors import DecodeError, EncodeError

CARD = "../vectors/tlv_card_responses.json"
BER = "../vectors/tlv_ber.json"
DOL = "../vectors/tlv_dol.json"


def _h(text):
    return bytes.fromhex(text)


def _shape(nodes):
    # The vector files' tree shape: {tag, value} or {tag, children}.
    out = []
    for node in nodes:
        if node.children is None:
            out.append({"tag": tlv.tag_hex(node.tag), "value": node.value.hex().upper()})
        else:
            out.append({"tag": tlv.tag_hex(node.tag), "children": _shape(node.children)})
    return out


def _store(pairs):
    store = {}
    for key in pairs:
        store[int(key, 16)] = _h(pairs[key])
    return store


def test_card_responses_decode_to_published_trees():
    vectors = load_json(CARD)["vectors"]
    eq(len(vectors) >= 20, True, "vector count")
    for v in vectors:
        raw = _h(v["response"])
        body = raw[:-2]
        eq(raw[-2:].hex().upper(), v["sw"], v["name"])
        nodes = tlv.decode(body)
        eq(_shape(nodes), v["tree"], v["name"])
        # Cards encode minimally, so re-encoding gives back the same bytes.
        eq(tlv.encode(nodes), body, v["name"] + " re-encoded")


def test_ber_rules_valid():
    for v in load_json(BER)["valid"]:
        nodes = tlv.decode(_h(v["hex"]))
        eq(_shape(nodes), v["tree"], v["name"])
        if v["minimal"]:
            eq(tlv.encode(nodes).hex().upper(), v["hex"], v["name"] + " re-encoded")


def test_ber_rules_invalid():
    for v in load_json(BER)["invalid"]:
        e = raises(DecodeError, tlv.decode, _h(v["hex"]))
        eq(v["reason"] in str(e), True, v["name"] + ": " + str(e))
        eq(e.offset, v["offset"], v["name"] + " offset")


def test_error_names_tag_and_offset():
    e = raises(DecodeError, tlv.decode, _h("8201199F020600"))
    eq(e.tag, "9F02")
    eq(e.offset, 3)


def _nested(depth):
    inner = _h("5A0111")
    for _ in range(depth):
        inner = bytes((0x61, len(inner))) + inner
    return inner


def test_nesting_depth_is_capped():
    nodes = tlv.decode(_nested(tlv.MAX_DEPTH))
    eq(tlv.find(nodes, 0x5A).value, b"\x11")
    e = raises(DecodeError, tlv.decode, _nested(tlv.MAX_DEPTH + 1))
    eq("nesting" in str(e), True, str(e))


def test_long_lengths_encode_minimally():
    eq(tlv.encode_length(0x7F), b"\x7f")
    eq(tlv.encode_length(0x80), b"\x81\x80")
    eq(tlv.encode_length(0xFF), b"\x81\xff")
    eq(tlv.encode_length(0x100), b"\x82\x01\x00")
    eq(tlv.encode_length(0x10000), b"\x83\x01\x00\x00")
    eq(tlv.encode_length(0xFFFFFFFF), b"\x84\xff\xff\xff\xff")
    raises(EncodeError, tlv.encode_length, 0x100000000)


def test_invalid_tags_are_not_encoded():
    for tag in (0, 0x1F, 0x9F, 0x9F81, 0xFF01, 0x5F8001FF, 0x1FFFFFFFF):
        raises(EncodeError, tlv.tag_bytes, tag)
    eq(tlv.tag_bytes(0xDF8129), _h("DF8129"))
    raises(EncodeError, tlv.TLV, 0x70, b"\x01")
    raises(EncodeError, tlv.TLV, 0x5A, b"", [tlv.TLV(0x5A, b"")])


def test_find_to_dict_and_walk():
    vector = load_json(CARD)["vectors"][0]
    nodes = tlv.decode(_h(vector["response"])[:-2])
    eq(tlv.find(nodes, 0x4F).value, _h("A0000000031010"))
    eq(tlv.find(nodes, 0x9F02), None)
    store = tlv.to_dict(nodes)
    eq(store[0x50], b"VISA DEBIT")
    eq(0x6F in store, False, "templates are not in the flat store")
    order = [tlv.tag_hex(n.tag) for n in tlv.walk(nodes)]
    eq(order, ["6F", "84", "A5", "BF0C", "61", "4F", "50", "87"])
    eq(len(tlv.find_all(nodes, 0x61)), 1)


def test_to_json_names_tags():
    vector = load_json(CARD)["vectors"][1]
    tree = tlv.to_json(tlv.decode(_h(vector["response"])[:-2]))
    eq(tree[0]["tag"], "6F")
    eq(tree[0]["name"], "File Control Information (FCI) Template")
    eq(tree[0]["length"], 0x2C)
    app = tree[0]["children"][1]["children"][0]["children"][0]
    eq(app["name"], "Application Template")
    kernel = app["children"][2]
    eq(kernel, {"tag": "9F2A", "name": "Kernel Identifier", "length": 1, "value": "02"})
    label = tlv.to_json([tlv.TLV(0x50, b"VISA DEBIT")])[0]
    eq(label["text"], "VISA DEBIT")
    unknown = tlv.to_json([tlv.TLV(0xDF7F, b"\x01")])[0]
    eq(unknown["name"], None)


def test_dol_parse_published_lists():
    vectors = load_json(DOL)
    for v in vectors["parse"]:
        got = [[tlv.tag_hex(tag), length] for tag, length in tlv.parse_dol(_h(v["dol"]))]
        eq(got, v["entries"], v["name"])
    for v in vectors["invalid"]:
        raises(DecodeError, tlv.parse_dol, _h(v["dol"]))


def test_dol_build_follows_book3_rules():
    for v in load_json(DOL)["build"]:
        got = tlv.build_dol_data(_h(v["dol"]), _store(v["store"]))
        eq(got.hex().upper(), v["data"], v["name"])


def test_dictionary_entries():
    eq(len(emv_tags.TAGS) >= 120, True, "dictionary size")
    for tag in emv_tags.TAGS:
        tlv.tag_bytes(tag)  # every key is a well-formed tag
        _name, fmt, source, low, high = emv_tags.TAGS[tag]
        eq(fmt in ("n", "cn", "a", "an", "ans", "b", "var"), True, tlv.tag_hex(tag))
        eq(source in ("ICC", "Terminal", "Issuer", "Issuer/Terminal"), True, tlv.tag_hex(tag))
        if tlv.is_constructed(tag):
            eq(fmt, "var", tlv.tag_hex(tag) + " templates are var.")
        if low is not None and high is not None:
            eq(low <= high, True, tlv.tag_hex(tag))
    # Spot checks against EMV 4.3 Book 3 Annex A.
    eq(emv_tags.tag_info(0x9F02)["format"], "n")
    eq(emv_tags.tag_info(0x9F02)["max_length"], 6)
    eq(emv_tags.tag_info(0x5A)["format"], "cn")
    eq(emv_tags.tag_info(0x8A)["source"], "Issuer/Terminal")
    eq(emv_tags.tag_info(0x9F26)["min_length"], 8)
    eq(emv_tags.tag_info(0x1234), None)
