from mpyunit import eq, raises

from protocols.errors import DecodeError, EncodeError


def test_decode_error_is_value_error_and_names_place():
    e = raises(ValueError, _raise_decode)
    eq(isinstance(e, DecodeError), True)
    eq(str(e), "length runs past end (tag 9F02, offset 7)")
    eq(e.offset, 7)
    eq(e.tag, "9F02")


def test_encode_error_names_field():
    e = EncodeError("too long", field=4)
    eq(str(e), "too long (field 4)")
    eq(e.reason, "too long")


def _raise_decode():
    raise DecodeError("length runs past end", offset=7, tag="9F02")
