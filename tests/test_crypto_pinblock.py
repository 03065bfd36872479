"""ISO 9564-1 PIN blocks: published vectors, round trips, peer agreement (psec)."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hsm_sim.crypto import pinblock
from hsm_sim.crypto._cardutil import tdes_ecb
from hsm_sim.crypto.aes import AesBlock
from protocols.crypto import pin_format4
from protocols.errors import DecodeError, EncodeError

# psec goes through cryptography's TripleDES, which warns that it moved.
pytestmark = pytest.mark.filterwarnings("ignore:TripleDES has been moved")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import psec.pinblock

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "pinblock_iso9564.json").read_text()
)

pins = st.text("0123456789", min_size=4, max_size=12)
pans = st.text("0123456789", min_size=13, max_size=19)
tdes_keys = st.binary(min_size=16, max_size=16)
aes_keys = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))


@pytest.mark.parametrize("vec", VECTORS["clear"], ids=lambda v: f"fmt{v['format']}-{v['block']}")
def test_clear_block_vectors(vec: dict[str, Any]) -> None:
    block = pinblock.encode(vec["format"], vec["pin"], vec.get("pan"), vec.get("fill"))
    assert block.hex().upper() == vec["block"]
    assert pinblock.decode(vec["format"], bytes.fromhex(vec["block"]), vec.get("pan")) == vec["pin"]


def test_format4_field_vectors() -> None:
    pin_vec, pan_vec = VECTORS["format4_fields"]
    field = bytes.fromhex(pin_vec["pin_field"])
    assert pin_format4.parse_pin_field(field) == pin_vec["pin"]
    assert pin_format4.pin_field(pin_vec["pin"], field[8:]) == field
    assert pin_format4.pan_field(pan_vec["pan"]).hex().upper() == pan_vec["pan_field"]


@pytest.mark.parametrize("vec", VECTORS["format4_enciphered"], ids=lambda v: v["block"])
def test_format4_enciphered_vectors(vec: dict[str, Any]) -> None:
    key = bytes.fromhex(vec["key"])
    block = pinblock.encipher(4, key, vec["pin"], vec["pan"], vec["fill"])
    assert block.hex().upper() == vec["block"]
    assert pinblock.decipher(4, key, bytes.fromhex(vec["block"]), vec["pan"]) == vec["pin"]


def test_format4_pan_field_short_pan_is_left_padded_to_12() -> None:
    # ISO 9564-1: fewer than 12 digits -> left-pad with zeros, M = 0.
    assert pin_format4.pan_field("12345").hex().upper() == "00000000123450000000000000000000"
    assert pin_format4.pan_field("1234567890123456789").hex()[:20] == "71234567890123456789"


@given(pin=pins, pan=pans)
def test_format0_agrees_with_psec(pin: str, pan: str) -> None:
    ours = pinblock.encode(0, pin, pan)
    assert ours == psec.pinblock.encode_pinblock_iso_0(pin, pan)
    assert psec.pinblock.decode_pinblock_iso_0(ours, pan) == pin


@given(pin=pins, pan=pans)
def test_format3_agrees_with_psec_both_ways(pin: str, pan: str) -> None:
    theirs = psec.pinblock.encode_pinblock_iso_3(pin, pan)
    assert pinblock.decode(3, theirs, pan) == pin
    ours = pinblock.encode(3, pin, pan)
    assert psec.pinblock.decode_pinblock_iso_3(ours, pan) == pin


@given(pin=pins)
def test_format2_agrees_with_psec(pin: str) -> None:
    assert pinblock.encode(2, pin) == psec.pinblock.encode_pinblock_iso_2(pin)
    assert pinblock.decode(2, psec.pinblock.encode_pinblock_iso_2(pin)) == pin


@given(pin=pins, pan=pans, key=aes_keys)
def test_format4_agrees_with_psec_both_ways(pin: str, pan: str, key: bytes) -> None:
    theirs = psec.pinblock.encipher_pinblock_iso_4(key, pin, pan)
    assert pinblock.decipher(4, key, theirs, pan) == pin
    ours = pinblock.encipher(4, key, pin, pan)
    assert psec.pinblock.decipher_pinblock_iso_4(key, ours, pan) == pin


@given(pin=pins, pan=pans, fill=st.binary(min_size=8, max_size=8), key=aes_keys)
def test_format4_fill_lands_in_the_pin_field(pin: str, pan: str, fill: bytes, key: bytes) -> None:
    block = pinblock.encipher(4, key, pin, pan, fill)
    field = pin_format4.decipher_field(AesBlock(key), block, pan)
    assert field[8:] == fill
    assert field[:8].hex().upper() == f"4{len(pin):X}{pin}".ljust(16, "A")


@given(fmt=st.sampled_from([0, 1, 2, 3]), pin=pins, pan=pans, key=tdes_keys)
def test_tdes_formats_round_trip_and_are_tdes_of_the_clear_block(
    fmt: int, pin: str, pan: str, key: bytes
) -> None:
    fill = "ABCDEFABCDEF"[: 14 - len(pin)] if fmt in (1, 3) else None
    block = pinblock.encipher(fmt, key, pin, pan, fill)
    assert pinblock.decipher(fmt, key, block, pan) == pin
    assert tdes_ecb(key, block, decrypt=True) == pinblock.encode(fmt, pin, pan, fill)


def test_random_fill_differs_between_calls_but_decodes() -> None:
    blocks = {pinblock.encode(3, "1234", "4111111111111111") for _ in range(8)}
    assert len(blocks) > 1
    assert all(pinblock.decode(3, b, "4111111111111111") == "1234" for b in blocks)


@given(
    pin=pins,
    pan=pans,
    tdes=tdes_keys,
    aes=st.binary(min_size=16, max_size=16),
    dst=st.sampled_from([0, 3, 4]),
)
def test_translate_format0_to_pan_formats(
    pin: str, pan: str, tdes: bytes, aes: bytes, dst: int
) -> None:
    src = pinblock.encipher(0, tdes, pin, pan)
    key_out = aes if dst == 4 else tdes[::-1]
    out = pinblock.translate(src, 0, tdes, dst, key_out, pan)
    assert pinblock.decipher(dst, key_out, out, pan) == pin


def test_translate_refuses_to_unbind_pin_from_pan() -> None:
    key = bytes(range(16))
    src = pinblock.encipher(0, key, "1234", "4111111111111111")
    with pytest.raises(EncodeError, match="refused"):
        pinblock.translate(src, 0, key, 1, key, "4111111111111111")


def test_format1_to_format0_translation_is_allowed() -> None:
    key = bytes(range(16))
    src = pinblock.encipher(1, key, "987654", fill="0123456789")
    out = pinblock.translate(src, 1, key, 0, key, "4111111111111111")
    assert pinblock.decipher(0, key, out, "4111111111111111") == "987654"


def test_wrong_key_or_pan_is_detected() -> None:
    key = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
    block = pinblock.encipher(4, key, "1234", "1234567890123456", "E63A8727CB39CB3A")
    with pytest.raises(DecodeError):
        pinblock.decipher(4, key, block, "1234567890123457")
    with pytest.raises(DecodeError):
        pinblock.decipher(4, bytes(16), block, "1234567890123456")
    clear0 = pinblock.encode(0, "1234", "43219876543210987")
    with pytest.raises(DecodeError, match="fill"):
        pinblock.decode(0, clear0, "43219876543210977")  # only a fill nibble differs
    # The check digit is not part of the PAN field: any one decodes.
    assert pinblock.decode(0, clear0, "43219876543210980") == "1234"


@pytest.mark.parametrize(
    ("fmt", "pin", "pan", "fill", "match"),
    [
        (0, "123", "4111111111111111", None, "4 to 12"),
        (0, "1234567890123", "4111111111111111", None, "4 to 12"),
        (0, "12a4", "4111111111111111", None, "4 to 12"),
        (0, "1234", None, None, "PAN"),
        (0, "1234", "41111111111111112222", None, "PAN"),
        (0, "1234", "4111111111111111", "AAAA", "fixed F fill"),
        (1, "1234", None, "ABC", "at least 10"),
        (3, "1234", "4111111111111111", "1234567890", "A-F|ABCDEF"),
        (4, "1234", None, "00", "8 bytes"),
        (4, "123", None, None, "4 to 12"),
    ],
)
def test_encode_rejects_bad_input(
    fmt: int, pin: str, pan: str | None, fill: str | None, match: str
) -> None:
    with pytest.raises(EncodeError, match=match):
        pinblock.encode(fmt, pin, pan, fill)


def test_unknown_format_and_format4_without_pan() -> None:
    with pytest.raises(ValueError, match="unknown PIN block format"):
        pinblock.encode(5, "1234")
    with pytest.raises(EncodeError, match="PAN"):
        pinblock.encipher(4, bytes(16), "1234")
    with pytest.raises(ValueError, match="AES key"):
        pinblock.encipher(4, bytes(8), "1234", "4111111111111111")


@pytest.mark.parametrize(
    ("fmt", "block", "match"),
    [
        (2, "141234FFFFFFFFFF", "control"),
        (2, "2F123456789012FF", "length"),
        (2, "22123456789012FF", "length"),
        (2, "2C123456789012CF", "fill"),
        (2, "2C12345678901FFF", "decimal"),
        (2, "241234FFFFFFFF", "8 bytes"),
        (1, "1412A4FFFFFFFFFF", "decimal"),
        (3, "341234FFFFFFFFF1", "A-F"),
    ],
)
def test_decode_names_what_is_wrong(fmt: int, block: str, match: str) -> None:
    pan = "0000000000000" if fmt == 3 else None
    with pytest.raises(DecodeError, match=match):
        pinblock.decode(fmt, bytes.fromhex(block), pan)


@given(fmt=st.sampled_from([0, 1, 2, 3]), data=st.binary(max_size=20))
def test_decode_arbitrary_bytes_raises_only_decode_error(fmt: int, data: bytes) -> None:
    try:
        pin = pinblock.decode(fmt, data, "4111111111111111")
    except DecodeError:
        return
    assert 4 <= len(pin) <= 12 and pin.isdigit()


@given(data=st.binary(max_size=40))
def test_format4_parse_arbitrary_bytes_raises_only_decode_error(data: bytes) -> None:
    try:
        pin = pin_format4.parse_pin_field(data)
    except DecodeError:
        return
    assert 4 <= len(pin) <= 12 and pin.isdigit()


ALLOWED_PAIRS = [
    (src, dst)
    for src in pinblock.FORMATS
    for dst in pinblock.FORMATS
    if not (src in pinblock.PAN_FORMATS and dst not in pinblock.PAN_FORMATS)
]


@pytest.mark.parametrize(("src", "dst"), ALLOWED_PAIRS, ids=lambda f: str(f))
def test_translate_every_allowed_format_pair(src: int, dst: int) -> None:
    tdes, aes = bytes(range(16)), bytes(range(16, 32))
    pan = "5413330089600010"
    src_key = aes if src == 4 else tdes
    dst_key = aes if dst == 4 else tdes[::-1]
    block = pinblock.encipher(src, src_key, "24681357", pan)
    out = pinblock.translate(block, src, src_key, dst, dst_key, pan)
    assert len(out) == (16 if dst == 4 else 8)
    assert pinblock.decipher(dst, dst_key, out, pan) == "24681357"


def test_format4_fill_as_hex_or_bytes_is_the_same() -> None:
    fill = bytes.fromhex("0011223344556677")
    assert pinblock.encode(4, "1234", fill=fill) == pinblock.encode(4, "1234", fill=fill.hex())
    assert pinblock.encode(4, "1234", fill=fill)[8:] == fill


def test_micropython_cryptolib_gives_the_host_bytes_on_random_inputs(tmp_path: Path) -> None:
    """Differential host vs firmware: random format 4 cases enciphered here
    (pycryptodome) must come out byte for byte the same from the shared code
    under real MicroPython over cryptolib (AES-128 and AES-256: the unix
    port's cryptolib has no AES-192)."""
    from tools import mpytest

    rng = random.Random(9564)
    cases = []
    for i in range(60):
        key = rng.randbytes(16 if i % 2 else 32)
        pin = "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 12)))
        pan = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 19)))
        fill = rng.randbytes(8)
        block = pinblock.encipher(4, key, pin, pan, fill)
        cases.append({"key": key.hex(), "pin": pin, "pan": pan, "fill": fill.hex(),
                      "block": block.hex()})  # fmt: skip
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    script = tmp_path / "test_f4_host_vs_device.py"
    script.write_text(
        "import binascii, json\n"
        "from protocols.crypto import pin_format4\n"
        "from protocols.crypto.cryptolib_aes import CryptolibAes\n"
        "def test_same_bytes():\n"
        "    with open('cases.json') as f:\n"
        "        cases = json.load(f)\n"
        "    for c in cases:\n"
        "        aes = CryptolibAes(binascii.unhexlify(c['key']))\n"
        "        fill = binascii.unhexlify(c['fill'])\n"
        "        got = pin_format4.encipher(aes, c['pin'], c['pan'], fill)\n"
        "        assert binascii.hexlify(got).decode() == c['block'], c['block']\n"
        "        assert pin_format4.decipher(aes, got, c['pan']) == c['pin']\n"
        "    assert len(cases) == 60\n"
    )
    result = mpytest.run_file(script)
    assert result.ok, result.output
    assert result.passed == ["test_same_bytes"]
