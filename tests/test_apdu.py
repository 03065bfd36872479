"""APDUs under CPython: published vectors (tests/vectors/apdu_*.json, sources
inside) and hypothesis round trips and fuzzing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import apdu, tlv
from protocols.errors import DecodeError

VECTORS = Path(__file__).parent / "vectors"
COMMANDS = json.loads((VECTORS / "apdu_commands.json").read_text())
STATUS = json.loads((VECTORS / "apdu_status.json").read_text())
DOL = json.loads((VECTORS / "tlv_dol.json").read_text())

CRYPTOGRAMS = {"AAC": apdu.AAC, "TC": apdu.TC, "ARQC": apdu.ARQC}


def build(name: str, args: dict[str, Any]) -> bytes:
    """Call a builder with the vector's JSON arguments (hex for bytes)."""
    converted: dict[str, Any] = {}
    for key, value in args.items():
        if key == "tag":
            converted[key] = int(value, 16)
        elif key == "cryptogram":
            converted[key] = CRYPTOGRAMS[value]
        elif isinstance(value, str) and key != "pin":
            converted[key] = bytes.fromhex(value)
        else:
            converted[key] = value
    result: bytes = getattr(apdu, name)(**converted)
    return result


@pytest.mark.parametrize(
    "vector", COMMANDS["builders"], ids=lambda v: v["builder"] + "-" + v["command"][:14]
)
def test_builder_matches_published_command(vector: dict[str, Any]) -> None:
    assert build(vector["builder"], vector["args"]).hex().upper() == vector["command"]


def test_gpo_from_published_pdol() -> None:
    vector = next(v for v in DOL["build"] if "gpo_command" in v)
    store = {int(k, 16): bytes.fromhex(v) for k, v in vector["store"].items()}
    data = tlv.build_dol_data(bytes.fromhex(vector["dol"]), store)
    assert apdu.get_processing_options(data).hex().upper() == vector["gpo_command"]


@pytest.mark.parametrize("vector", COMMANDS["parse"], ids=lambda v: v["name"])
def test_parse_case(vector: dict[str, Any]) -> None:
    command = apdu.parse_command(bytes.fromhex(vector["command"]))
    header = bytes([command.cla, command.ins, command.p1, command.p2])
    assert header.hex().upper() == vector["header"]
    assert command.data.hex().upper() == vector["data"]
    assert command.le == vector["le"]
    assert command.case == vector["case"]
    assert command.extended == vector["extended"]
    assert command.encode().hex().upper() == vector["command"]


@pytest.mark.parametrize("vector", COMMANDS["invalid"], ids=lambda v: v["name"])
def test_parse_rejects(vector: dict[str, Any]) -> None:
    with pytest.raises(DecodeError) as info:
        apdu.parse_command(bytes.fromhex(vector["command"]))
    assert info.value.field == vector["field"]


@pytest.mark.parametrize("vector", STATUS["meanings"], ids=lambda v: v["sw"])
def test_status_word_meaning(vector: dict[str, Any]) -> None:
    assert vector["contains"].lower() in apdu.sw_meaning(int(vector["sw"], 16)).lower()


@pytest.mark.parametrize("vector", STATUS["exchanges"], ids=lambda v: v["name"])
def test_exchange(vector: dict[str, Any]) -> None:
    steps = [(bytes.fromhex(c), bytes.fromhex(r)) for c, r in vector["steps"]]
    sent: list[bytes] = []

    def transmit(command: bytes) -> bytes:
        sent.append(command)
        return steps[len(sent) - 1][1]

    final = apdu.exchange(transmit, bytes.fromhex(vector["command"]))
    assert sent == [c for c, _ in steps]
    assert final.encode().hex().upper() == vector["final"]


# --- properties ---------------------------------------------------------

BYTE = st.integers(0, 255)


@st.composite
def commands(draw: st.DrawFn) -> apdu.Command:
    extended = draw(st.booleans())
    data = draw(st.binary(max_size=300 if extended else 255))
    le = draw(st.none() | st.integers(1, 65536 if extended else 256))
    return apdu.Command(draw(BYTE), draw(BYTE), draw(BYTE), draw(BYTE), data, le, extended)


@given(commands())
def test_command_round_trip(command: apdu.Command) -> None:
    raw = command.encode()
    parsed = apdu.parse_command(raw)
    assert (parsed.cla, parsed.ins, parsed.p1, parsed.p2) == (
        command.cla,
        command.ins,
        command.p1,
        command.p2,
    )
    assert parsed.data == command.data
    assert parsed.le == command.le
    assert parsed.case == command.case
    assert parsed.encode() == raw


@given(st.binary(max_size=300))
def test_parse_command_raises_only_decode_error(raw: bytes) -> None:
    try:
        command = apdu.parse_command(raw)
    except DecodeError:
        return
    assert command.encode() == raw  # a valid APDU has exactly one reading


@given(st.binary(max_size=40), st.binary(max_size=40))
def test_response_helpers_raise_only_decode_error(response: bytes, command: bytes) -> None:
    try:
        apdu.parse_response(response)
        apdu.next_command_for(response, command)
    except DecodeError:
        pass


@given(st.integers(0, 0xFFFF))
def test_every_status_word_has_a_meaning(sw: int) -> None:
    meaning = apdu.sw_meaning(sw)
    assert meaning
    if sw >> 8 in (0x61, 0x6C):
        assert str((sw & 0xFF) or 256) in meaning
