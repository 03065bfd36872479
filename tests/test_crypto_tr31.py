"""TR-31 / X9.143 key blocks, versions B and D (hsm_sim.crypto.tr31)."""

from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path

import psec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hsm_sim.crypto import keys, tr31

VECTORS = Path(__file__).parent / "vectors"
V = json.loads((VECTORS / "tr31_examples.json").read_text())
CASES = V["cases"]


@pytest.fixture(autouse=True)
def _quiet_psec_tdes() -> None:
    warnings.filterwarnings("ignore", message=".*TripleDES.*")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_published_blocks_unwrap(case: dict[str, str]) -> None:
    header, key = tr31.unwrap(bytes.fromhex(case["kbpk"]), case["block"])
    assert key.hex().upper() == case["key"]
    assert header.version == case["block"][0]
    assert header.key_usage == case["block"][5:7]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_published_blocks_rewrap_byte_for_byte(case: dict[str, str]) -> None:
    # Recover the padding the example used, wrap again with it: the same block.
    kbpk = bytes.fromhex(case["kbpk"])
    block = case["block"]
    _header, key_data = tr31.decrypt_key_data(kbpk, block)
    key = bytes.fromhex(case["key"])
    padding = key_data[2 + len(key) :]
    if "padding" in case:
        assert padding.hex().upper() == case["padding"]
    hlen = tr31.parse_header(block)[1]
    again = tr31.wrap(kbpk, block[:hlen], key, random=padding, masked_length=len(key_data) - 2)
    assert again == block


def test_extended_length_optional_block() -> None:
    ext = V["extended_length"]
    kbpk = bytes.fromhex(ext["kbpk"])
    header, key = tr31.unwrap(kbpk, ext["block"])
    assert key.hex().upper() == ext["key"]
    assert [bid for bid, _ in header.blocks] == ["CT", "KP", "TS", "PB"]
    assert header.block("TS") == ext["timestamp"]
    # KP carries the KBPK's check value: "01" (CMAC method) + 5 bytes.
    assert header.block("KP") == "01" + keys.kcv_aes(kbpk, 5).hex().upper()
    assert keys.kcv_aes(kbpk, 5).hex().upper() == ext["kbpk_kcv"]
    hlen = tr31.parse_header(ext["block"])[1]
    assert header.encode(len(ext["block"])) == ext["block"][:hlen]


def test_tampering_is_detected() -> None:
    case = CASES[2]
    kbpk = bytes.fromhex(case["kbpk"])
    block = case["block"]
    # A changed header field, a flipped ciphertext digit, a wrong KBPK.
    changed = block[:8] + "D" + block[9:]
    with pytest.raises(tr31.AuthenticationError):
        tr31.unwrap(kbpk, changed)
    i = 20
    flipped = block[:i] + ("0" if block[i] != "0" else "1") + block[i + 1 :]
    with pytest.raises(tr31.AuthenticationError):
        tr31.unwrap(kbpk, flipped)
    with pytest.raises(tr31.AuthenticationError):
        tr31.unwrap(bytes([kbpk[0] ^ 0x10]) + kbpk[1:], block)


@pytest.mark.parametrize(
    ("block", "match"),
    [
        ("D0112P0AE00E00", "16 characters"),
        ("D01X2P0AE00E0000", "four digits"),
        ("A0072P0TE00E0000" + "0" * 56, "version"),
        ("D0112Z9AE00E0000" + "0" * 96, "key usage"),
        ("D0112P0QE00E0000" + "0" * 96, "algorithm"),
        ("D0112P0AG00E0000" + "0" * 96, "mode of use 'G' not allowed"),
        ("D0112P0AE00Q0000" + "0" * 96, "exportability"),
        ("D0112P0AE00E0X00" + "0" * 96, "optional blocks"),
        ("D0040P0AE00E0100KSFF" + "0" * 20, "bad length"),
        ("D0040P0AE00E0100KS" + "0" * 22, "empty extended length"),
        ("D0018P0AE00E0100KS", "runs past"),
        ("D0048P0AE00E0100KS0G" + "0" * 28, "not hex"),
        ("D0036P0AE00E0100KS08ABCD" + "0" * 12, "multiple of 16"),
        ("D0113P0AE00E0000" + "0" * 96, "length field"),
    ],
)
def test_header_errors(block: str, match: str) -> None:
    with pytest.raises(tr31.HeaderError, match=match):
        tr31.unwrap(bytes(32), block)


def test_key_data_errors() -> None:
    with pytest.raises(tr31.KeyBlockError, match="hex"):
        tr31.unwrap(bytes(16), "D0080P0AE00E0000" + "Z" * 64)
    with pytest.raises(tr31.KeyBlockError, match="too short"):
        tr31.unwrap(bytes(16), "D0032P0AE00E0000" + "0" * 16)
    with pytest.raises(tr31.KeyBlockError, match="KBPK"):
        tr31.unwrap(bytes(8), CASES[0]["block"])


def test_wrap_checks() -> None:
    aes_kbpk = bytes(range(32))
    with pytest.raises(tr31.KeyBlockError, match="AES key needs a version D"):
        tr31.wrap(bytes(16), "B0000P0AE00E0000", bytes(16))
    with pytest.raises(tr31.KeyBlockError, match="must not be wrapped"):
        tr31.wrap(bytes(16), "B0000P0TE00E0000", bytes(24))
    with pytest.raises(tr31.KeyBlockError, match="must not be wrapped"):
        tr31.wrap(aes_kbpk[:16], "D0000P0AE00E0000", bytes(32))
    with pytest.raises(tr31.KeyBlockError, match="key must be"):
        tr31.wrap(aes_kbpk, "D0000P0AE00E0000", bytes(15))
    with pytest.raises(tr31.KeyBlockError, match="padding must be 14"):
        tr31.wrap(aes_kbpk, "D0000P0AE00E0000", bytes(16), random=bytes(3))
    with pytest.raises(tr31.HeaderError, match="mode of use 'E' not allowed"):
        tr31.wrap(aes_kbpk, "D0000M3AE00E0000", bytes(16))
    with pytest.raises(tr31.KeyBlockError, match="KBPK"):
        tr31.wrap(bytes(20), "D0000P0AE00E0000", bytes(16))


def test_header_build_adds_padding_block() -> None:
    h = tr31.Header("B", "B0", "T", "X", "12", "S", [("KS", "00604B120F9292800000")])
    # KS takes 24 characters, a multiple of 8: no padding block.
    assert h.encode(104) == "B0104B0TX12S0100KS1800604B120F9292800000"
    h.blocks.append(("TS", "20201"))  # 9 more characters: 33, needs PB
    text = h.encode()
    assert text.endswith("TS0920201PB07000")
    assert text[12:14] == "03"
    assert (len(text) - 16) % 8 == 0
    parsed, hlen = tr31.parse_header(text)
    assert hlen == len(text)
    assert parsed.blocks == [("KS", "00604B120F9292800000"), ("TS", "20201"), ("PB", "000")]
    # Rebuilding replaces the PB block rather than stacking another.
    assert parsed.encode() == text


def test_use_and_export_checks() -> None:
    h = tr31.parse_header("D0000P0AE00E0000")[0]
    tr31.check_use(h, ("P0",), "E", "A")
    with pytest.raises(tr31.UsageError, match="usage"):
        tr31.check_use(h, ("M3",))
    with pytest.raises(tr31.UsageError, match="mode"):
        tr31.check_use(h, ("P0",), "D")
    with pytest.raises(tr31.UsageError, match="algorithm"):
        tr31.check_use(h, ("P0",), "E", "T")
    tr31.check_export(h)
    with pytest.raises(tr31.UsageError, match="trusted"):
        tr31.check_export(h, trusted_kek=False)
    h.exportability = "N"
    with pytest.raises(tr31.UsageError, match="non-exportable"):
        tr31.check_export(h)
    h.exportability = "S"
    tr31.check_export(h, trusted_kek=False)
    h.mode_of_use = "N"  # no special restrictions passes any mode check
    tr31.check_use(h, ("P0",), "D")
    assert issubclass(tr31.UsageError, ValueError)


# --- differential against psec ------------------------------------------------

USAGE_MODES = [
    ("P0", "E"),
    ("P0", "B"),
    ("D0", "D"),
    ("K0", "B"),
    ("M3", "C"),
    ("M6", "G"),
    ("C0", "V"),
    ("B0", "X"),
    ("B1", "X"),
    ("E0", "X"),
    ("V2", "C"),
    ("K1", "N"),
]


@st.composite
def wrap_inputs(draw: st.DrawFn) -> tuple[bytes, str, bytes]:
    version = draw(st.sampled_from("BD"))
    usage, mode = draw(st.sampled_from(USAGE_MODES))
    if version == "B":
        kbpk = draw(st.binary(min_size=16, max_size=16) | st.binary(min_size=24, max_size=24))
        alg = "T"
        key = draw(
            st.sampled_from([8, 16, 24]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
        )
        key = key[: len(kbpk)]
    else:
        kbpk = draw(
            st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
        )
        alg = draw(st.sampled_from("AT"))
        sizes = [n for n in ((16, 24, 32) if alg == "A" else (8, 16, 24)) if n <= len(kbpk)]
        key = draw(st.sampled_from(sizes).flatmap(lambda n: st.binary(min_size=n, max_size=n)))
    kv = draw(st.sampled_from(["00", "12", "c1"]))
    exp = draw(st.sampled_from("ENS"))
    blocks = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["KS", "TS", "HM", "IK", "KV"]),
                st.text(alphabet="0123456789ABCDEF", max_size=40),
            ),
            max_size=3,
            unique_by=lambda t: t[0],
        )
    )
    opt = "".join(f"{b}{4 + len(d):02X}{d}" for b, d in blocks)
    size = 8 if version == "B" else 16
    count = len(blocks)
    if opt and len(opt) % size:
        fill = -(len(opt) + 4) % size
        opt += f"PB{4 + fill:02X}" + "0" * fill
        count += 1
    header = f"{version}0000{usage}{alg}{mode}{kv}{exp}{count:02d}00{opt}"
    return kbpk, header, key


@given(wrap_inputs())
def test_psec_unwraps_our_blocks(inputs: tuple[bytes, str, bytes]) -> None:
    kbpk, header, key = inputs
    block = tr31.wrap(kbpk, header, key)
    ph, pkey = psec.tr31.unwrap(kbpk, block)
    assert pkey == key
    assert (ph.version_id, ph.key_usage, ph.algorithm, ph.mode_of_use) == (
        header[0],
        header[5:7],
        header[7],
        header[8],
    )
    assert (ph.version_num, ph.exportability) == (header[9:11], header[11])
    ours, _ = tr31.parse_header(block)
    assert dict(ph.blocks) == {b: d for b, d in ours.blocks if b != "PB"}


@given(wrap_inputs())
def test_we_unwrap_psec_blocks(inputs: tuple[bytes, str, bytes]) -> None:
    kbpk, header, key = inputs
    block = psec.tr31.wrap(kbpk, header, key)
    h, got = tr31.unwrap(kbpk, block)
    assert got == key
    assert (h.key_usage, h.mode_of_use, h.exportability) == (header[5:7], header[8], header[11])


@given(wrap_inputs(), st.integers(0, 16))
def test_round_trip_with_masking(inputs: tuple[bytes, str, bytes], extra: int) -> None:
    kbpk, header, key = inputs
    block = tr31.wrap(kbpk, header, key, masked_length=len(key) + extra)
    assert int(block[1:5]) == len(block)
    _h, got = tr31.unwrap(kbpk, block)
    assert got == key
    assert psec.tr31.unwrap(kbpk, block)[1] == key


# --- robustness: arbitrary input raises only KeyBlockError ------------------------

_CHARS = "0123456789ABCDEFPTBDKMSXNEV \u00e9\n"


@given(
    st.sampled_from("BDAX"),
    st.text(alphabet=_CHARS, max_size=200),
    st.booleans(),
    st.sampled_from([16, 24, 32]),
)
def test_arbitrary_text_raises_only_key_block_errors(
    version: str, body: str, fix_length: bool, n: int
) -> None:
    # Half the time the length field is right, so parsing goes deeper.
    length = 5 + len(body) if fix_length else 0
    text = version + f"{length:04d}" + body
    with contextlib.suppress(tr31.KeyBlockError):
        tr31.unwrap(bytes(n), text)


@given(st.integers(0, len(CASES) - 1), st.data())
def test_mutated_published_blocks_never_crash(index: int, data: st.DataObject) -> None:
    case = CASES[index]
    block = case["block"]
    i = data.draw(st.integers(0, len(block) - 1))
    c = data.draw(st.sampled_from("0123456789ABCDEFZ"))
    mutated = block[:i] + c + block[i + 1 :]
    try:
        _, key = tr31.unwrap(bytes.fromhex(case["kbpk"]), mutated)
    except tr31.KeyBlockError:
        return
    assert mutated == block and key.hex().upper() == case["key"]
