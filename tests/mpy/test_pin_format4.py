# ISO 9564-1 format 4 under MicroPython: the shared module over cryptolib AES
# (the firmware's injected cipher, protocols.crypto.cryptolib_aes.CryptolibAes)
# must give the same bytes as the published vectors (tests/vectors/pinblock_iso9564.json).
from mpyunit import eq, load_json, raises

from protocols.crypto import pin_format4
from protocols.crypto.cryptolib_aes import CryptolibAes as Aes
from protocols.errors import DecodeError, EncodeError


def _unhex(s):
    import binascii

    return binascii.unhexlify(s)


def _hex(b):
    import binascii

    return binascii.hexlify(b).decode().upper()


VECTORS = load_json("../vectors/pinblock_iso9564.json")


def test_enciphered_vectors():
    for vec in VECTORS["format4_enciphered"]:
        cipher = Aes(_unhex(vec["key"]))
        block = pin_format4.encipher(cipher, vec["pin"], vec["pan"], _unhex(vec["fill"]))
        eq(_hex(block), vec["block"], "encipher")
        eq(pin_format4.decipher(cipher, _unhex(vec["block"]), vec["pan"]), vec["pin"], "decipher")


def test_field_vectors():
    pin_vec = VECTORS["format4_fields"][0]
    pan_vec = VECTORS["format4_fields"][1]
    field = _unhex(pin_vec["pin_field"])
    eq(pin_format4.parse_pin_field(field), pin_vec["pin"], "pin field")
    eq(pin_format4.pin_field(pin_vec["pin"], field[8:]), field, "pin field build")
    eq(_hex(pin_format4.pan_field(pan_vec["pan"])), pan_vec["pan_field"], "pan field")


def test_round_trip_all_pin_lengths_with_random_fill():
    cipher = Aes(_unhex("2B7E151628AED2A6ABF7158809CF4F3C"))
    pin = "123456789012"
    for n in range(4, 13):
        block = pin_format4.encipher(cipher, pin[:n], "4111111111111111")
        eq(len(block), 16, "block length")
        eq(pin_format4.decipher(cipher, block, "4111111111111111"), pin[:n], "round trip")


def test_wrong_pan_is_a_decode_error():
    vec = VECTORS["format4_enciphered"][0]
    cipher = Aes(_unhex(vec["key"]))
    raises(DecodeError, pin_format4.decipher, cipher, _unhex(vec["block"]), "1234567890123457")


def test_bad_input_errors_name_the_field():
    e = raises(EncodeError, pin_format4.pin_field, "123", bytes(8))
    eq(e.field, "pin", "short pin")
    e = raises(EncodeError, pin_format4.pin_field, "1234", bytes(7))
    eq(e.field, "fill", "short fill")
    e = raises(EncodeError, pin_format4.pan_field, "12345678901234567890")
    eq(e.field, "pan", "long pan")
    e = raises(DecodeError, pin_format4.parse_pin_field, _unhex("341234AAAAAAAAAA" + "00" * 8))
    eq(e.field, "control", "control")
    e = raises(DecodeError, pin_format4.parse_pin_field, _unhex("441234AAAAAAAAAB" + "00" * 8))
    eq(e.field, "fill", "fill")
    e = raises(DecodeError, pin_format4.decipher, Aes(bytes(16)), bytes(15), "1234")
    eq(e.field, "block", "short block")
