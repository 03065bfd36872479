"""Generate protocols/arabic_data.py from the Unicode Character Database.

The device code (protocols/arabic.py) needs two property tables and must not
use ``unicodedata``: Joining_Type for the Arabic blocks and Bidi_Class for the
scripts a receipt line holds.  Both are read here from the UCD's derived
property files (Debian package ``unicode-data``, /usr/share/unicode/extracted)
and written as range tables.

Usage: ``python -m tools.arabic_tables [--ucd DIR] [--out FILE] [--check]``
(``--check`` exits 1 if the committed file differs from what it would write).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_UCD = Path("/usr/share/unicode")
DEFAULT_OUT = REPO_ROOT / "protocols" / "arabic_data.py"

# Code points whose properties the device tables carry; everything outside
# reads as Joining_Type U and Bidi_Class L (documented in docs/printer.md).
JOINING_RANGES = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x200C, 0x200D))
BIDI_RANGES = (
    (0x0000, 0x08FF),  # Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Syriac, Thaana
    (0x2000, 0x206F),  # General Punctuation
    (0x20A0, 0x20FF),  # Currency Symbols, combining marks for symbols
    (0x2190, 0x2BFF),  # Arrows, Mathematical Operators, technical, symbols, Dingbats
    (0xFB1D, 0xFDFF),  # Hebrew and Arabic Presentation Forms-A
    (0xFE70, 0xFEFF),  # Arabic Presentation Forms-B, BOM
)
BIDI_CLASSES = (
    "L", "R", "AL", "EN", "ES", "ET", "AN", "CS", "NSM", "BN", "B", "S", "WS", "ON",
    "LRE", "LRO", "RLE", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI",
)  # fmt: skip
JOINING_TYPES = ("U", "R", "L", "D", "C", "T")

_LINE = re.compile(r"^([0-9A-F]{4,6})(?:\.\.([0-9A-F]{4,6}))?\s*;\s*(\w+)")


def read_property(path: Path) -> dict[int, str]:
    """Code point -> value from a UCD derived property file."""
    values: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        first = int(m.group(1), 16)
        last = int(m.group(2), 16) if m.group(2) else first
        for cp in range(first, last + 1):
            values[cp] = m.group(3)
    return values


def runs(
    values: dict[int, str], ranges: tuple[tuple[int, int], ...], default: str
) -> list[tuple[int, str]]:
    """(start, value) pairs: each value holds from start to the next start;
    the gaps between ranges read as ``default``."""
    out: list[tuple[int, str]] = []
    for first, last in ranges:
        for cp in range(first, last + 1):
            value = values.get(cp, default)
            if not out or out[-1][1] != value:
                out.append((cp, value))
        if out[-1][1] != default:
            out.append((last + 1, default))
        elif out[-1][0] > last:
            pass
    # merge adjacent equal values created at range joins
    merged: list[tuple[int, str]] = []
    for start, value in out:
        if merged and merged[-1][1] == value:
            continue
        merged.append((start, value))
    if merged[0][0] != 0:
        merged.insert(0, (0, default))
    return merged


def _covered_cp(cp: int) -> bool:
    return any(first <= cp <= last for first, last in BIDI_RANGES)


def read_pairs(path: Path, kind: str | None) -> list[tuple[int, int]]:
    """(a, b) pairs of BidiBrackets.txt (kind "o": opening, closing) or
    BidiMirroring.txt (kind None: a < b), both in the covered ranges."""
    pairs: set[tuple[int, int]] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        body = line.split("#")[0].strip()
        if not body:
            continue
        fields = [f.strip() for f in body.split(";")]
        a, b = int(fields[0], 16), int(fields[1], 16)
        if not (_covered_cp(a) and _covered_cp(b)):
            continue
        if kind is None:
            pairs.add((min(a, b), max(a, b)))
        elif fields[2] == kind:
            pairs.add((a, b))
    return sorted(pairs)


def _bytes_literal(data: bytes) -> str:
    hexed = [f"\\x{byte:02x}" for byte in data]
    return "\n".join('    b"' + "".join(hexed[i : i + 24]) + '"' for i in range(0, len(hexed), 24))


def _pairs(pairs: list[tuple[int, int]]) -> str:
    return _bytes_literal(b"".join(a.to_bytes(2, "big") + b.to_bytes(2, "big") for a, b in pairs))


def _flat(pairs: list[tuple[int, str]], names: tuple[str, ...]) -> str:
    return _bytes_literal(
        b"".join(start.to_bytes(3, "big") + bytes((names.index(v),)) for start, v in pairs)
    )


def _names(names: tuple[str, ...]) -> str:
    quoted = [f'"{n}"' for n in names]
    return "\n".join(
        "    " + ", ".join(quoted[i : i + 12]) + "," for i in range(0, len(quoted), 12)
    )


def _covered(ranges: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(f"{first:04X}..{last:04X}" for first, last in ranges)


def generate(ucd: Path) -> str:
    extracted = ucd / "extracted"
    joining = read_property(extracted / "DerivedJoiningType.txt")
    bidi_path = extracted / "DerivedBidiClass.txt"
    bidi = read_property(bidi_path)
    m = re.search(r"DerivedBidiClass-([0-9.]+)\.txt", bidi_path.read_text(encoding="utf-8"))
    version = m.group(1) if m else "unknown"
    brackets = read_pairs(ucd / "BidiBrackets.txt", "o")
    mirrored = read_pairs(ucd / "BidiMirroring.txt", None)
    return f'''"""Unicode property tables for protocols/arabic.py (generated: do not edit).

Generated by tools/arabic_tables.py from the Unicode Character Database {version}
(extracted/DerivedJoiningType.txt, extracted/DerivedBidiClass.txt,
BidiBrackets.txt, BidiMirroring.txt; Debian package unicode-data).
Bytes, so that MicroPython compiles each into one object: JOINING_TYPES
and BIDI_CLASSES are 4-byte records (first code point u24 BE, value index)
in code point order; a value holds up to the next first code point; past
the last covered range the last record's value (U, L) holds.  BRACKETS:
(opening, closing) Bidi_Paired_Bracket pairs; MIRRORED: (a, b)
Bidi_Mirroring_Glyph pairs, a < b; 4-byte records of two u16 BE, within the
bidi table's ranges.
"""

UCD_VERSION = "{version}"

# fmt: off
JOINING_TYPE_NAMES = (
{_names(JOINING_TYPES)}
)
# Covered: {_covered(JOINING_RANGES)}
JOINING_TYPES = (
{_flat(runs(joining, JOINING_RANGES, "U"), JOINING_TYPES)}
)

BIDI_CLASS_NAMES = (
{_names(BIDI_CLASSES)}
)
# Covered: {_covered(BIDI_RANGES)}
BIDI_CLASSES = (
{_flat(runs(bidi, BIDI_RANGES, "L"), BIDI_CLASSES)}
)

BRACKETS = (
{_pairs(brackets)}
)

MIRRORED = (
{_pairs(mirrored)}
)
# fmt: on
'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ucd", type=Path, default=DEFAULT_UCD)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = generate(args.ucd)
    if args.check:
        same = args.out.read_text(encoding="utf-8") == text
        print("up to date" if same else "differs: run python -m tools.arabic_tables")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
