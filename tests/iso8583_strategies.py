"""Hypothesis strategies for ISO 8583: messages that fit a spec, and specs
drawn from every encoding the codec supports (shared by the codec tests and
the pyiso8583 peer tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from protocols.iso8583 import CHARSETS

Spec = Mapping[str, Mapping[str, Any]]

_TEXT_ALPHABETS = {ftype: CHARSETS[ftype].decode() for ftype in ("n", "a", "an", "ans")}


def field_value(fs: Mapping[str, Any]) -> st.SearchStrategy[str]:
    """A valid value for one field spec (hex text for type b)."""
    max_len = fs["max_len"]
    lengths = st.just(max_len) if fs["len_type"] == 0 else st.integers(0, min(max_len, 300))
    ftype = fs["type"]

    def of_length(n: int) -> st.SearchStrategy[str]:
        if ftype == "b":
            return st.binary(min_size=n, max_size=n).map(lambda b: b.hex().upper())
        if ftype == "z":
            # ASCII track data may carry the separator as '=' or 'D'; BCD
            # decodes it as '=', so only '=' round-trips there.
            alphabet = "0123456789=D" if fs["data_enc"] == "ascii" else "0123456789="
            return st.text(alphabet, min_size=n, max_size=n)
        return st.text(_TEXT_ALPHABETS[ftype], min_size=n, max_size=n)

    return lengths.flatmap(of_length)


def messages(spec: Spec, max_fields: int = 12) -> st.SearchStrategy[dict[str, str]]:
    """Message dicts (MTI and data elements, no bitmaps) valid under spec."""
    keys = sorted((k for k in spec if k not in ("t", "p", "1")), key=int)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, str]:
        chosen = draw(st.lists(st.sampled_from(keys), max_size=max_fields, unique=True))
        doc = {"t": draw(st.text("0123456789", min_size=4, max_size=4))}
        for key in chosen:
            doc[key] = draw(field_value(spec[key]))
        return doc

    return build()


@st.composite
def _field_spec(draw: st.DrawFn) -> dict[str, Any]:
    ftype = draw(st.sampled_from(["n", "a", "an", "ans", "z", "b"]))
    if ftype == "b":
        data_enc = "binary"
    elif ftype in ("n", "z"):
        data_enc = draw(st.sampled_from(["ascii", "bcd"]))
    else:
        data_enc = "ascii"
    len_type = draw(st.sampled_from([0, 1, 2, 3, 4]))
    cap = {0: 40, 1: 9, 2: 99, 3: 999, 4: 9999}[len_type]
    fs: dict[str, Any] = {
        "type": ftype,
        "data_enc": data_enc,
        "len_type": len_type,
        "max_len": draw(st.integers(1, min(cap, 400))),
    }
    if len_type:
        fs["len_enc"] = draw(st.sampled_from(["ascii", "bcd", "binary"]))
    if data_enc == "bcd" and draw(st.booleans()):
        fs["pad"] = draw(st.sampled_from(["left", "right"]))
        # 'D' would read back as a track separator, so z pads avoid it.
        nibbles = "0123456789ABCEF" if ftype == "z" else "0123456789ABCDEF"
        fs["pad_nibble"] = draw(st.sampled_from(nibbles))
    return fs


ANY_FIELD = st.integers(2, 128)


@st.composite
def specs(
    draw: st.DrawFn, field_numbers: st.SearchStrategy[int] = ANY_FIELD
) -> dict[str, dict[str, Any]]:
    """Random specs over every supported encoding and length format."""
    numbers = draw(st.lists(field_numbers, min_size=1, max_size=20, unique=True))
    spec: dict[str, dict[str, Any]] = {
        "t": {"data_enc": draw(st.sampled_from(["ascii", "bcd"]))},
        "p": {"data_enc": draw(st.sampled_from(["binary", "ascii"]))},
        "1": {"data_enc": draw(st.sampled_from(["binary", "ascii"]))},
    }
    for number in numbers:
        spec[str(number)] = draw(_field_spec())
    return spec
