"""Bar patterns for the barcodes the virtual printer draws as real bars.

EAN-13, UPC-A (an EAN-13 with a leading 0) and EAN-8, after GS1 General
Specifications 5.2.1 (number set A/B/C tables, left-half parity by the first
digit, mod-10 check digit).  ``modules(system, data)`` returns the modules as
a string of "1" (bar) and "0" (space) without quiet zones, and the text to
print under the bars (HRI), or None for a symbology drawn as a labelled box.
"""

from __future__ import annotations

# Number set A (odd parity, left half); set C is its complement (right half);
# set B is set C reversed (even parity, left half).
SET_A = (
    "0001101",
    "0011001",
    "0010011",
    "0111101",
    "0100011",
    "0110001",
    "0101111",
    "0111011",
    "0110111",
    "0001011",
)
SET_C = tuple("".join("1" if b == "0" else "0" for b in code) for code in SET_A)
SET_B = tuple(code[::-1] for code in SET_C)
# Left-half number sets of EAN-13 by its first (implied) digit.
FIRST_DIGIT_SETS = (
    "AAAAAA",
    "AABABB",
    "AABBAB",
    "AABBBA",
    "ABAABB",
    "ABBAAB",
    "ABBBAA",
    "ABABAB",
    "ABABBA",
    "ABBABA",
)
GUARD = "101"
CENTRE = "01010"

# ESC/POS GS k system numbers (function A, function B) -> name
SYSTEMS = {
    0: "UPC-A",
    65: "UPC-A",
    1: "UPC-E",
    66: "UPC-E",
    2: "EAN13",
    67: "EAN13",
    3: "EAN8",
    68: "EAN8",
    4: "CODE39",
    69: "CODE39",
    5: "ITF",
    70: "ITF",
    6: "CODABAR",
    71: "CODABAR",
    72: "CODE93",
    73: "CODE128",
    74: "GS1-128",
    75: "GS1 DATABAR OMNIDIRECTIONAL",
    76: "GS1 DATABAR TRUNCATED",
    77: "GS1 DATABAR LIMITED",
    78: "GS1 DATABAR EXPANDED",
}


def check_digit(digits: str) -> int:
    """GS1 mod-10: weights 3, 1, 3, ... from the rightmost data digit."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


def ean13(data: str) -> tuple[str, str] | None:
    """12 digits (check digit added) or 13 (check digit verified)."""
    if not data.isdigit() or len(data) not in (12, 13):
        return None
    if len(data) == 12:
        data += str(check_digit(data))
    elif int(data[12]) != check_digit(data[:12]):
        return None
    sets = FIRST_DIGIT_SETS[int(data[0])]
    left = "".join(
        (SET_A if s == "A" else SET_B)[int(d)] for s, d in zip(sets, data[1:7], strict=True)
    )
    right = "".join(SET_C[int(d)] for d in data[7:])
    return GUARD + left + CENTRE + right + GUARD, data


def ean8(data: str) -> tuple[str, str] | None:
    if not data.isdigit() or len(data) not in (7, 8):
        return None
    if len(data) == 7:
        data += str(check_digit(data))
    elif int(data[7]) != check_digit(data[:7]):
        return None
    left = "".join(SET_A[int(d)] for d in data[:4])
    right = "".join(SET_C[int(d)] for d in data[4:])
    return GUARD + left + CENTRE + right + GUARD, data


def modules(system: int, data: bytes) -> tuple[str, str] | None:
    """(bar modules, HRI text) for the systems drawn as bars, else None."""
    name = SYSTEMS.get(system)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    if name == "EAN13":
        return ean13(text)
    if name == "UPC-A":
        if not text.isdigit() or len(text) not in (11, 12):
            return None
        found = ean13("0" + text)
        return (found[0], found[1][1:]) if found else None
    if name == "EAN8":
        return ean8(text)
    return None
