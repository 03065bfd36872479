"""Bar patterns for the barcodes the virtual printer draws as real bars.

- EAN-13, UPC-A (an EAN-13 with a leading 0) and EAN-8, after GS1 General
  Specifications 5.2.1 (number set A/B/C tables, left-half parity by the
  first digit, mod-10 check digit);
- Code 39 (ISO/IEC 16388): 9 elements a character, 3 of them wide, start
  and stop "*", a narrow space between characters, wide = 3 narrow;
- ITF, interleaved 2 of 5 (ISO/IEC 16390): digit pairs, the first digit in
  the bars and the second in the spaces, start NNNN, stop WNN.

``modules(system, data)`` returns the modules as a string of "1" (bar) and
"0" (space) without quiet zones, and the text to print under the bars (HRI),
or None for a symbology drawn as a labelled box (UPC-E, Codabar, Code 93,
Code 128, GS1-128, GS1 DataBar).
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

# Code 39: bar, space, bar, ... (9 elements), 1 = wide.
CODE39 = {
    "0": "000110100", "1": "100100001", "2": "001100001", "3": "101100000",
    "4": "000110001", "5": "100110000", "6": "001110000", "7": "000100101",
    "8": "100100100", "9": "001100100", "A": "100001001", "B": "001001001",
    "C": "101001000", "D": "000011001", "E": "100011000", "F": "001011000",
    "G": "000001101", "H": "100001100", "I": "001001100", "J": "000011100",
    "K": "100000011", "L": "001000011", "M": "101000010", "N": "000010011",
    "O": "100010010", "P": "001010010", "Q": "000000111", "R": "100000110",
    "S": "001000110", "T": "000010110", "U": "110000001", "V": "011000001",
    "W": "111000000", "X": "010010001", "Y": "110010000", "Z": "011010000",
    "-": "010000101", ".": "110000100", " ": "011000100", "*": "010010100",
    "$": "010101000", "/": "010100010", "+": "010001010", "%": "000101010",
}  # fmt: skip
WIDE = 3  # wide element = 3 narrow modules
# ITF digit patterns (5 elements, 1 = wide)
ITF = ("00110", "10001", "01001", "11000", "00101", "10100", "01100", "00011", "10010", "01010")

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


def _elements(pattern: str, first_bar: bool) -> str:
    """Narrow/wide elements as modules, alternating bar and space."""
    out = []
    bar = first_bar
    for wide in pattern:
        out.append(("1" if bar else "0") * (WIDE if wide == "1" else 1))
        bar = not bar
    return "".join(out)


def code39(data: str) -> tuple[str, str] | None:
    """Data with or without the "*" start/stop characters."""
    body = data[1:-1] if len(data) >= 2 and data[0] == data[-1] == "*" else data
    if not body or any(ch not in CODE39 or ch == "*" for ch in body):
        return None
    chars = "*" + body + "*"
    return "0".join(_elements(CODE39[ch], True) for ch in chars), chars


def itf(data: str) -> tuple[str, str] | None:
    if not data.isdigit() or not data or len(data) % 2:
        return None
    out = [_elements("0000", True)]
    for i in range(0, len(data), 2):
        bars, spaces = ITF[int(data[i])], ITF[int(data[i + 1])]
        out.append(_elements("".join(b + s for b, s in zip(bars, spaces, strict=True)), True))
    out.append(_elements("100", True))
    return "".join(out), data


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
    if name == "CODE39":
        return code39(text)
    if name == "ITF":
        return itf(text)
    return None
