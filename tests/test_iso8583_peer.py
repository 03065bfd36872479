"""pyiso8583 as a peer: the same spec in both codecs, the same bytes both ways.

Our spec is translated to pyiso8583's format by payterm.iso8583_pyiso, and
pyiso8583's own starter specs are translated to ours; for hand-written and
generated messages, each codec must read what the other writes, field for
field, and both must write identical bytes.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import iso8583 as pyiso
import pytest
from hypothesis import given
from hypothesis import strategies as st
from iso8583.specs import default as pyiso_default
from iso8583.specs import default_ascii as pyiso_default_ascii
from iso8583_strategies import messages, specs

from payterm.iso8583_pyiso import (
    from_pyiso8583_doc,
    from_pyiso8583_spec,
    to_pyiso8583_doc,
    to_pyiso8583_spec,
)
from protocols import iso8583
from protocols.iso8583_specs import PAYTERM_1987

VECTOR_DIR = Path(__file__).parent / "vectors"
PAYTERM = json.loads((VECTOR_DIR / "iso8583_payterm.json").read_text())
DOCS = json.loads((VECTOR_DIR / "iso8583_pyiso8583_docs.json").read_text())
PY_PAYTERM = to_pyiso8583_spec(PAYTERM_1987)

Spec = Mapping[str, Mapping[str, Any]]


def assert_peers_agree(doc: dict[str, str], spec: Spec, pyspec: Spec | None = None) -> None:
    """Both codecs write the same bytes for doc and read each other's."""
    pyspec = pyspec if pyspec is not None else to_pyiso8583_spec(spec)
    ours = iso8583.encode(doc, spec)
    theirs, _ = pyiso.encode(to_pyiso8583_doc(doc, spec), pyspec)
    assert ours == bytes(theirs)
    their_view, _ = pyiso.decode(ours, pyspec)
    our_view = iso8583.decode(ours, spec)
    assert from_pyiso8583_doc(their_view, spec) == our_view
    assert {k: v for k, v in our_view.items() if k not in ("p", "1")} == doc


# ---------------------------------------------------------------- vectors


@pytest.mark.parametrize("message", PAYTERM["messages"], ids=lambda m: m["name"])
def test_payterm_vector_is_what_pyiso8583_writes_and_reads(message: dict[str, Any]) -> None:
    # Re-derives the vector file with the peer, so it cannot drift from it.
    fields = message["fields"]
    doc = {k: v for k, v in fields.items() if k not in ("p", "1")}
    wire, _ = pyiso.encode(to_pyiso8583_doc(doc, PAYTERM_1987), PY_PAYTERM)
    assert bytes(wire).hex().upper() == message["hex"]
    decoded, _ = pyiso.decode(bytes(wire), PY_PAYTERM)
    assert from_pyiso8583_doc(decoded, PAYTERM_1987) == fields
    assert_peers_agree(doc, PAYTERM_1987, PY_PAYTERM)


def test_docs_vector_spec_is_pyiso8583_default_ascii() -> None:
    assert DOCS["spec"] == from_pyiso8583_spec(pyiso_default_ascii)


@pytest.mark.parametrize("message", DOCS["messages"], ids=lambda m: m["name"])
def test_published_messages_agree_with_pyiso8583_today(message: dict[str, Any]) -> None:
    # The published bytes came from pyiso8583's docs; the installed release
    # must still read them the same way (with the how-to's redefinitions).
    pyspec = copy.deepcopy(pyiso_default_ascii)
    spec = dict(DOCS["spec"])
    for key, field_spec in message.get("spec_changes", {}).items():
        spec[key] = field_spec
        pyspec[key] = to_pyiso8583_spec({"t": spec["t"], key: field_spec})[key]
    decoded, _ = pyiso.decode(bytes.fromhex(message["hex"]), pyspec)
    assert decoded == message["fields"]
    doc = {k: v for k, v in message["fields"].items() if k not in ("p", "1")}
    assert_peers_agree(doc, spec, pyspec)


# ---------------------------------------------------------------- hand-written


def test_odd_lengths_and_padding_agree() -> None:
    doc = {
        "t": "0200",
        "2": "374245455400126",
        "22": "051",
        "35": "374245455400126=2805201",
        "52": "00112233445566778899AABBCCDDEEFF",
        "53": "04024250540000000001000000FF",
        "90": "0" * 42,
        "128": "FFFFFFFFFFFFFFFF",
    }
    assert_peers_agree(doc, PAYTERM_1987)


def test_empty_variable_fields_agree() -> None:
    assert_peers_agree({"t": "0200", "2": "", "35": "", "48": "", "55": ""}, PAYTERM_1987)


# ---------------------------------------------------------------- generated


@given(messages(PAYTERM_1987, max_fields=40))
def test_generated_payterm_messages_agree(doc: dict[str, str]) -> None:
    assert_peers_agree(doc, PAYTERM_1987, PY_PAYTERM)


# pyiso8583 reads bit 65 as a tertiary bitmap, never as a data element.
NOT_65 = st.integers(2, 128).filter(lambda n: n != 65)


@given(st.data())
def test_generated_specs_and_messages_agree(data: st.DataObject) -> None:
    spec = data.draw(specs(NOT_65))
    assert_peers_agree(data.draw(messages(spec)), spec)


# pyiso8583's starter specs, expressed in our format.
OUR_DEFAULT_ASCII = from_pyiso8583_spec(pyiso_default_ascii)
OUR_DEFAULT = from_pyiso8583_spec(pyiso_default)


def _without_tertiary(spec: Mapping[str, Any]) -> dict[str, Any]:
    # pyiso8583 reads bit 65 as a tertiary bitmap; its spec keeps field 65.
    return {k: v for k, v in spec.items() if k != "65"}


@given(messages(OUR_DEFAULT_ASCII, max_fields=30))
def test_pyiso8583_default_ascii_spec_agrees(doc: dict[str, str]) -> None:
    assert_peers_agree(doc, OUR_DEFAULT_ASCII, _without_tertiary(pyiso_default_ascii))


@given(messages(OUR_DEFAULT, max_fields=30))
def test_pyiso8583_default_spec_agrees(doc: dict[str, str]) -> None:
    assert_peers_agree(doc, OUR_DEFAULT, _without_tertiary(pyiso_default))


def test_translated_default_spec_round_trips_through_pyiso8583_format() -> None:
    # Translating pyiso8583's spec to ours and back gives back its field layout.
    back = to_pyiso8583_spec(OUR_DEFAULT)
    for key, field_spec in _without_tertiary(pyiso_default).items():
        if key == "h":
            continue
        for attr in ("data_enc", "len_type", "max_len"):
            assert back[key][attr] == field_spec[attr], (key, attr)
