"""Express a payterm ISO 8583 spec (protocols/iso8583_specs.py format) as a
pyiso8583 4.x spec, and translate message values between the two, so tests
and benchmarks can run pyiso8583 as a peer on exactly the same wire format."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_LEN_ENC = {"ascii": "ascii", "bcd": "bcd", "binary": "b"}


def _prefix_width(len_type: int, len_enc: str) -> int:
    # pyiso8583 counts the prefix in bytes: ASCII has one digit per byte,
    # BCD two digits per byte, binary 1 byte for L/LL and 2 for LLL/LLLL.
    return len_type if len_enc == "ascii" else (len_type + 1) // 2


def to_pyiso8583_spec(spec: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The pyiso8583 spec that reads and writes the same bytes as ``spec``."""
    mti_bcd = spec["t"]["data_enc"] == "bcd"
    out: dict[str, dict[str, Any]] = {
        "h": {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": 0},
        "t": {
            "data_enc": "b" if mti_bcd else "ascii",
            "len_enc": "ascii",
            "len_type": 0,
            "max_len": 2 if mti_bcd else 4,
        },
    }
    for key in ("p", "1"):
        if key in spec:
            binary = spec[key]["data_enc"] == "binary"
            out[key] = {
                "data_enc": "b" if binary else "ascii",
                "len_enc": "ascii",
                "len_type": 0,
                "max_len": 8 if binary else 16,
            }
    for key, fs in spec.items():
        if key in ("t", "p", "1"):
            continue
        len_enc = fs.get("len_enc", "ascii")
        entry: dict[str, Any] = {
            "len_enc": _LEN_ENC[len_enc],
            "len_type": _prefix_width(fs["len_type"], len_enc),
            "max_len": fs["max_len"],
            "desc": fs.get("desc", ""),
        }
        if fs["data_enc"] == "ascii":
            entry["data_enc"] = "ascii"
        elif fs["data_enc"] == "binary":
            entry["data_enc"] = "b"
        else:  # BCD digits: lengths count nibbles, odd lengths padded
            numeric = fs["type"] == "n"
            side = fs.get("pad", "left" if numeric else "right")
            entry["data_enc"] = "b"
            entry["len_count"] = "nibbles"
            entry[side + "_pad"] = fs.get("pad_nibble", "0" if numeric else "F")
        out[key] = entry
    return out


def _track_bcd_fields(spec: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [k for k, fs in spec.items() if fs.get("type") == "z" and fs.get("data_enc") == "bcd"]


def to_pyiso8583_doc(
    doc: Mapping[str, str], spec: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """Our message dict as pyiso8583 writes it: BCD track separators as 'D'."""
    out = dict(doc)
    for key in _track_bcd_fields(spec):
        if key in out:
            out[key] = out[key].replace("=", "D")
    return out


def from_pyiso8583_doc(
    doc: Mapping[str, str], spec: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """A pyiso8583 decoded dict as ours reads it: BCD track separators as '='."""
    out = {k: v for k, v in doc.items() if k != "h"}
    for key in _track_bcd_fields(spec):
        if key in out:
            out[key] = out[key].replace("D", "=")
    return out


def from_pyiso8583_spec(pyspec: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """A pyiso8583 spec of text and plain binary fields in our format.

    Text fields become type ans, binary ones type b.  Field 65 is left out:
    pyiso8583 reads its bit as a tertiary bitmap, which payterm does not use.
    BCD (nibble-counted) and header-carrying specs are not translated.
    """
    if pyspec["h"]["max_len"] > 0:
        raise ValueError("pyiso8583 specs with a message header are not supported")
    out: dict[str, dict[str, Any]] = {
        "t": {"data_enc": "bcd" if pyspec["t"]["data_enc"] == "b" else "ascii"},
    }
    for key in ("p", "1"):
        binary = pyspec[key]["data_enc"] == "b"
        out[key] = {"data_enc": "binary" if binary else "ascii"}
    for key in (k for k in pyspec if k.isdigit() and k not in ("1", "65")):
        fs = pyspec[key]
        if fs.get("len_count", "bytes") != "bytes":
            raise ValueError(f"field {key}: nibble-counted fields are not translated")
        len_enc = {"ascii": "ascii", "bcd": "bcd", "b": "binary"}[fs["len_enc"]]
        len_type = fs["len_type"]
        if len_type and len_enc != "ascii":
            raise ValueError(f"field {key}: only ASCII length prefixes are translated")
        binary = fs["data_enc"] == "b"
        entry: dict[str, Any] = {
            "type": "b" if binary else "ans",
            "data_enc": "binary" if binary else "ascii",
            "len_type": len_type,
            "max_len": fs["max_len"],
            "desc": fs.get("desc", ""),
        }
        if len_type:
            entry["len_enc"] = len_enc
        out[key] = entry
    return out
