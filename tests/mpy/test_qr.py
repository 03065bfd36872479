# protocols.qr under MicroPython (256K heap): matrices equal the segno
# vectors, codewords equal the published examples, errors are EncodeError.
from mpyunit import eq, load_json, raises

from protocols import qr
from protocols.errors import EncodeError


def _row_hex(row):
    value = 0
    for module in row:
        value = (value << 1) | module
    return "%0*X" % ((len(row) + 3) // 4, value)


def _hex_bytes(text):
    return bytes(int(part, 16) for part in text.split())


def test_matrices_equal_segno_vectors():
    vectors = load_json("../vectors/qr_segno_matrices.json")["vectors"]
    eq(len(vectors) >= 9, True, "vector count")
    for vector in vectors:
        name = vector["name"]
        symbol = qr.encode(
            vector["data"], vector["ecc"], vector["version"], vector["mask"], vector["mode"]
        )
        eq(symbol.version, vector["expected_version"], name + " version")
        eq(symbol.mask, vector["expected_mask"], name + " mask")
        eq(symbol.mode, vector["expected_mode"], name + " mode")
        eq(symbol.size, 4 * symbol.version + 17, name + " size")
        rows = vector["rows"]
        eq(len(symbol.matrix), len(rows), name + " rows")
        for index in range(len(rows)):
            eq(_row_hex(symbol.matrix[index]), rows[index], name + " row %d" % index)


def test_published_codewords():
    for vector in load_json("../vectors/qr_published_codewords.json")["vectors"]:
        name = vector["name"]
        payload = vector["data"].encode()
        data = qr.data_codewords(payload, vector["mode"], vector["version"], vector["ecc"])
        eq(bytes(data), _hex_bytes(vector["data_codewords"]), name + " data")
        expected_ec = _hex_bytes(vector["ec_codewords"])
        eq(bytes(qr.ec_codewords(data, len(expected_ec))), expected_ec, name + " ec")


def test_format_and_version_information():
    # ISO/IEC 18004:2015 Table C.1 and Table D.1 entries.
    eq(qr.format_information("M", 0), 0x5412)
    eq(qr.format_information("L", 0), 0x77C4)
    eq(qr.format_information("H", 7), 0x083B)
    eq(qr.version_information(7), 0x07C94)
    eq(qr.version_information(40), 0x28C69)


def test_version_15_byte_symbol_in_256k_heap():
    import gc

    gc.collect()
    symbol = qr.encode(b"\x5a" * 400, "M", 15)
    eq(symbol.size, 77)
    eq(len(symbol.matrix[76]), 77)
    # Bottom-left finder: dark ring on row 76, light separator above it.
    eq(bytes(symbol.matrix[76][:8]), b"\x01\x01\x01\x01\x01\x01\x01\x00")
    eq(bytes(symbol.matrix[69][:8]), b"\x00\x00\x00\x00\x00\x00\x00\x00")


def test_automatic_mode_and_version():
    eq(qr.encode("0123").mode, "numeric")
    eq(qr.encode("AB12 $").mode, "alphanumeric")
    eq(qr.encode("ab").mode, "byte")
    eq(qr.encode(b"").mode, "byte")
    eq(qr.encode("A" * 20, "L").version, 1)
    eq(qr.encode("A" * 26, "L").version, 2)


def test_errors_are_encode_errors():
    e = raises(EncodeError, qr.encode, "x" * 20, "H", 1)
    eq(e.field, "data")
    e = raises(EncodeError, qr.encode, "x" * 3000, "L")
    eq(e.field, "data")
    eq(raises(EncodeError, qr.encode, "x", "X").field, "ecc")
    eq(raises(EncodeError, qr.encode, "x", "M", 41).field, "version")
    eq(raises(EncodeError, qr.encode, "x", "M", None, 8).field, "mask")
    eq(raises(EncodeError, qr.encode, "x", "M", None, None, "kanji").field, "mode")
    e = raises(EncodeError, qr.encode, "AbC", "M", None, None, "alphanumeric")
    eq(e.offset, 1)
