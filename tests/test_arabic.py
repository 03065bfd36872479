"""protocols.arabic against published Unicode data.

References, none of them used by the device code:
- Python's ``unicodedata`` (Unicode 14 in CPython 3.11): the <isolated>,
  <final>, <initial>, <medial> compatibility decompositions of the Arabic
  presentation forms give the expected form of every letter in every
  position, and the lam-alef ligatures; ``bidirectional()`` checks the bidi
  class table;
- the UCD files of the Debian package ``unicode-data`` (ArabicShaping.txt,
  BidiCharacterTest.txt, BidiTest.txt, BidiBrackets.txt), when installed
  (tests that need them skip otherwise);
- python-bidi, when installed.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import arabic, arabic_data

UCD = Path("/usr/share/unicode")
FORM_TAGS = {"<isolated>": arabic.ISOLATED, "<final>": arabic.FINAL}
FORM_TAGS.update({"<initial>": arabic.INITIAL, "<medial>": arabic.MEDIAL})
BEH = "\u0628"  # dual-joining: joins on both sides
ALEFS = ("\u0622", "\u0623", "\u0625", "\u0627")


def reference_forms() -> dict[tuple[int, int], int]:
    """(base letter, form) -> presentation form, from unicodedata."""
    forms: dict[tuple[int, int], int] = {}
    for cp in list(range(0xFB50, 0xFE00)) + list(range(0xFE70, 0xFF00)):
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) == 2 and parts[0] in FORM_TAGS:
            forms[(int(parts[1], 16), FORM_TAGS[parts[0]])] = cp
    return forms


def reference_lam_alef() -> dict[tuple[int, int], int]:
    """(alef, form) -> lam-alef ligature, from unicodedata."""
    out: dict[tuple[int, int], int] = {}
    for cp in range(0xFEF5, 0xFEFD):
        parts = unicodedata.decomposition(chr(cp)).split()
        assert parts[1] == "0644"
        out[(int(parts[2], 16), FORM_TAGS[parts[0]])] = cp
    return out


def context(letter: str, form: int) -> tuple[str, int]:
    """A word putting `letter` in position `form`, and the letter's index."""
    if form == arabic.ISOLATED:
        return letter, 0
    if form == arabic.FINAL:
        return BEH + letter, 1
    if form == arabic.INITIAL:
        return letter + BEH, 0
    return BEH + letter + BEH, 1


# -- shaping ---------------------------------------------------------------
def test_every_presentation_form_of_the_table_matches_unicodedata() -> None:
    ref = reference_forms()
    checked = 0
    for entry in arabic.FORMS:
        base = entry[0]
        for form in (arabic.ISOLATED, arabic.FINAL, arabic.INITIAL, arabic.MEDIAL):
            assert entry[form] == ref.get((base, form), 0), (hex(base), form)
            checked += 1
    assert checked == 4 * len(arabic.FORMS)


def test_table_covers_every_basic_letter() -> None:
    bases = {entry[0] for entry in arabic.FORMS}
    for cp in range(0x0621, 0x064B):
        if unicodedata.category(chr(cp)) == "Lo" and cp != 0x0640:
            letter = chr(cp)
            has_forms = any((cp, f) in reference_forms() for f in range(1, 5))
            assert cp in bases or not has_forms, unicodedata.name(letter)


@pytest.mark.parametrize("entry", arabic.FORMS, ids=lambda e: f"U+{e[0]:04X}")
def test_shape_gives_the_reference_form_in_each_position(entry: tuple[int, ...]) -> None:
    ref = reference_forms()
    letter = chr(entry[0])
    jt = arabic.joining_type(letter)
    for form in (arabic.ISOLATED, arabic.FINAL, arabic.INITIAL, arabic.MEDIAL):
        word, index = context(letter, form)
        got = ord(arabic.shape(word)[index])
        # What the position can be for this joining type: a right-joining
        # letter never joins its successor.
        wanted = form
        if jt == "R" and form == arabic.INITIAL:
            wanted = arabic.ISOLATED
        if jt == "R" and form == arabic.MEDIAL:
            wanted = arabic.FINAL
        if jt == "U":
            wanted = arabic.ISOLATED
        assert got == ref[(entry[0], wanted)], (unicodedata.name(letter), form)


def test_neighbours_shape_too() -> None:
    # beh + alef + beh: initial beh, final alef, isolated beh (alef is R).
    ref = reference_forms()
    got = [ord(c) for c in arabic.shape(BEH + "\u0627" + BEH)]
    assert got == [ref[(0x628, 3)], ref[(0x627, 2)], ref[(0x628, 1)]]


@pytest.mark.parametrize("alef", ALEFS)
def test_lam_alef_ligatures(alef: str) -> None:
    ref = reference_lam_alef()
    isolated = arabic.shape("\u0644" + alef)
    assert [ord(c) for c in isolated] == [ref[(ord(alef), arabic.ISOLATED)]]
    final = arabic.shape(BEH + "\u0644" + alef)
    assert [ord(c) for c in final] == [
        reference_forms()[(0x628, arabic.INITIAL)],
        ref[(ord(alef), arabic.FINAL)],
    ]
    # across a haraka: the mark follows the ligature
    marked = arabic.shape("\u0644\u064e" + alef)
    assert [ord(c) for c in marked] == [ref[(ord(alef), arabic.ISOLATED)], 0x064E]
    # after a ligature the next letter starts a new join (alef does not join on)
    after = arabic.shape("\u0644" + alef + BEH)
    assert ord(after[-1]) == reference_forms()[(0x628, arabic.ISOLATED)]


def test_transparent_marks_do_not_break_joining() -> None:
    ref = reference_forms()
    # beh + fatha + beh: the fatha is transparent, the behs join.
    got = [ord(c) for c in arabic.shape(BEH + "\u064e" + BEH)]
    assert got == [ref[(0x628, arabic.INITIAL)], 0x064E, ref[(0x628, arabic.FINAL)]]
    # a tatweel (join causing) joins both sides
    got = [ord(c) for c in arabic.shape(BEH + "\u0640" + BEH)]
    assert got == [ref[(0x628, arabic.INITIAL)], 0x0640, ref[(0x628, arabic.FINAL)]]
    # ZWNJ (non-joining) separates
    got = [ord(c) for c in arabic.shape(BEH + "\u200c" + BEH)]
    assert got == [ref[(0x628, arabic.ISOLATED)], 0x200C, ref[(0x628, arabic.ISOLATED)]]


def test_thanks_line_shaped_as_the_unicode_charts_say() -> None:
    # "شكراً لزيارتكم 123": sheen initial, kaf medial, reh final, alef
    # isolated + fathatan; lam initial, zain final, yeh initial, alef final,
    # reh isolated, teh initial, kaf medial, meem final.
    got = arabic.shape("شكراً لزيارتكم 123")
    assert [f"{ord(c):04X}" for c in got] == [
        "FEB7",
        "FEDC",
        "FEAE",
        "FE8D",
        "064B",
        "0020",
        "FEDF",
        "FEB0",
        "FEF3",
        "FE8E",
        "FEAD",
        "FE97",
        "FEDC",
        "FEE2",
        "0020",
        "0031",
        "0032",
        "0033",
    ]


def test_non_arabic_text_passes_through() -> None:
    assert arabic.shape("Total 12.500 JOD") == "Total 12.500 JOD"
    assert arabic.shape("") == ""


@given(st.text())
def test_shape_never_raises_and_keeps_non_arabic(text: str) -> None:
    shaped = arabic.shape(text)
    assert len(shaped) <= len(text)
    kept = [c for c in text if not 0x0600 <= ord(c) <= 0x06FF]
    assert [c for c in shaped if not 0xFB50 <= ord(c) <= 0xFEFF] == [
        c for c in kept if not 0xFB50 <= ord(c) <= 0xFEFF
    ]


@given(st.text())
def test_visual_never_raises_and_is_a_permutation(text: str) -> None:
    for direction in (None, "ltr", "rtl"):
        out = arabic.reorder(text, direction, marks_after_base=False)
        removed = [c for c in text if arabic.bidi_class(c) in REMOVED_CLASSES]
        pair = {chr(b): chr(a) for a, b in arabic.pairs(arabic_data.MIRRORED)}  # b -> a
        shown = sorted(pair.get(c, c) for c in out + "".join(removed))
        assert sorted(pair.get(c, c) for c in text) == shown
        arabic.visual(text, direction)


# -- property tables against the references --------------------------------
def test_joining_type_table_matches_arabic_shaping_txt() -> None:
    path = UCD / "ArabicShaping.txt"
    if not path.exists():
        pytest.skip("unicode-data is not installed")
    expected: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            fields = [f.strip() for f in line.split(";")]
            expected[int(fields[0], 16)] = fields[2]
    checked = 0
    for cp in list(range(0x0600, 0x0700)) + list(range(0x0750, 0x0780)):
        want = expected.get(cp)
        if want is None:
            # Not listed: T for Mn, Me, Cf; U otherwise (ArabicShaping.txt header).
            cat = unicodedata.category(chr(cp))
            want = "T" if cat in ("Mn", "Me", "Cf") else "U"
            if cat == "Cn":
                continue  # unassigned in CPython's older unicodedata
        assert arabic.joining_type(chr(cp)) == want, hex(cp)
        checked += 1
    assert checked > 300
    assert arabic.joining_type("\u200d") == "C"
    assert arabic.joining_type("A") == "U"


def test_bidi_class_table_matches_unicodedata() -> None:
    checked = 0
    from tools.arabic_tables import BIDI_RANGES

    for first, last in BIDI_RANGES:
        for cp in range(first, last + 1):
            want = unicodedata.bidirectional(chr(cp))
            if not want:
                continue  # unassigned in Unicode 14: the table may know better
            assert arabic.bidi_class(chr(cp)) == want, hex(cp)
            checked += 1
    assert checked > 3000
    assert arabic.bidi_class("\U0001f600") == "L"  # outside the table


def test_generated_tables_are_current() -> None:
    if not (UCD / "extracted" / "DerivedBidiClass.txt").exists():
        pytest.skip("unicode-data is not installed")
    from tools import arabic_tables

    text = arabic_tables.generate(UCD)
    committed = (Path(arabic_data.__file__)).read_text(encoding="utf-8")
    assert text == committed


# -- bidi ------------------------------------------------------------------
DOCUMENTED_CASES = [
    # (logical, direction, visual) - checked by hand against UAX #9's rules
    ("abc", None, "abc"),
    ("אבג", None, "גבא"),
    ("abc אבג def", None, "abc גבא def"),
    ("אבג abc דהו", None, "והד abc גבא"),
    ("אבג 123 דהו", None, "והד 123 גבא"),  # EN inside R stays left to right
    ("אבג 1.5 ד", None, "ד 1.5 גבא"),  # CS between EN: one number (W4)
    ("אבג 10% ד", None, "ד 10% גבא"),  # ET next to EN joins it (W5)
    ("abc 123 אבג", "rtl", "גבא abc 123"),
    ("123", "rtl", "123"),
    ("(אבג)", None, "(גבא)"),  # brackets mirrored at odd levels (L4)
    ("אבג  ", None, "  גבא"),  # trailing whitespace at paragraph level (L1)
    ("abc אבג  ", None, "abc גבא  "),
    ("\u0627\u0644 12", None, "12 \u0644\u0627"),  # EN after AL becomes AN (W2)
]


@pytest.mark.parametrize(("logical", "direction", "visual"), DOCUMENTED_CASES)
def test_documented_bidi_cases(logical: str, direction: str | None, visual: str) -> None:
    assert arabic.reorder(logical, direction) == visual


def test_marks_follow_their_base_in_rtl_runs() -> None:
    # beh + fatha + teh: logical; visual with L3: teh, beh, fatha
    text = "\u0628\u064e\u062a"
    assert arabic.reorder(text, marks_after_base=False) == "\u062a\u064e\u0628"
    assert arabic.reorder(text) == "\u062a\u0628\u064e"


def test_direction_argument_checked() -> None:
    with pytest.raises(ValueError):
        arabic.levels("abc", "up")


REMOVED_CLASSES = {"BN", "LRE", "RLE", "LRO", "RLO", "PDF"}
SUPPORTED_BRACKETS = {cp for pair in arabic.pairs(arabic_data.BRACKETS) for cp in pair}
UNSUPPORTED_CLASSES = {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI", "B"}


def _brackets() -> set[int]:
    path = UCD / "BidiBrackets.txt"
    out: set[int] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            out.add(int(line.split(";")[0], 16))
    return out


@functools.cache
def _agrees(cp: int) -> bool:
    """The table knows cp's class (as unicodedata does) and it is supported."""
    want = unicodedata.bidirectional(chr(cp))
    return bool(want) and want not in UNSUPPORTED_CLASSES and arabic.bidi_class(chr(cp)) == want


def _bidi_character_cases() -> Iterator[tuple[int, list[int], int, int, list[str], list[int]]]:
    path = UCD / "BidiCharacterTest.txt"
    brackets = _brackets()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        fields = line.split(";")
        cps = [int(x, 16) for x in fields[0].split()]
        if any(cp in brackets and cp not in SUPPORTED_BRACKETS for cp in cps):
            continue  # brackets outside the covered blocks (read as L by the table)
        if not all(_agrees(cp) for cp in cps):
            continue
        order = [int(x) for x in fields[4].split()]
        yield number, cps, int(fields[1]), int(fields[2]), fields[3].split(), order


def test_bidi_character_test_txt() -> None:
    if not (UCD / "BidiCharacterTest.txt").exists():
        pytest.skip("unicode-data is not installed")
    cases = 0
    for number, cps, direction, para, want_levels, want_order in _bidi_character_cases():
        text = "".join(chr(cp) for cp in cps)
        got, got_para = arabic.levels(text, ("ltr", "rtl", None)[direction])
        shown = ["x" if lv is None else str(lv) for lv in got]
        assert (got_para, shown) == (para, want_levels), f"line {number}"
        assert arabic.visual_order(got) == want_order, f"line {number}"
        cases += 1
    # Of the file's 91,707 cases, those with explicit formatting codes or
    # characters outside the covered blocks are left out.
    assert cases > 90000, cases


def test_bracket_table_matches_bidi_brackets_txt() -> None:
    path = UCD / "BidiBrackets.txt"
    if not path.exists():
        pytest.skip("unicode-data is not installed")
    pairs = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            fields = [f.split("#")[0].strip() for f in line.split(";")]
            cp, other = int(fields[0], 16), int(fields[1], 16)
            if fields[2] == "o" and arabic.bidi_class(chr(cp)) == "ON":
                pairs.add((cp, other))
    # every opening bracket the class table covers (and none other)
    assert set(arabic.pairs(arabic_data.BRACKETS)) == pairs
    mirrored = {cp for pair in arabic.pairs(arabic_data.MIRRORED) for cp in pair}
    assert mirrored >= SUPPORTED_BRACKETS


def test_bidi_test_txt_sample() -> None:
    path = UCD / "BidiTest.txt"
    if not path.exists():
        pytest.skip("unicode-data is not installed")
    names = arabic_data.BIDI_CLASS_NAMES
    want_levels: list[str] = []
    want_order: list[int] = []
    cases = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("@Levels:"):
            want_levels = line.split(":")[1].split()
            continue
        if line.startswith("@Reorder:"):
            want_order = [int(x) for x in line.split(":")[1].split()]
            continue
        if not line or line.startswith(("#", "@")):
            continue
        seq, bitset = line.split(";")
        classes = seq.split()
        if any(c in UNSUPPORTED_CLASSES for c in classes):
            continue
        indices = [names.index(c) for c in classes]
        for bit, para in ((1, None), (2, 0), (4, 1)):
            if int(bitset) & bit:
                got, _ = arabic.resolve_levels(indices, para)
                shown = ["x" if lv is None else str(lv) for lv in got]
                assert shown == want_levels, f"line {number} {seq} para {para}"
                assert arabic.visual_order(got) == want_order, f"line {number}"
                cases += 1
    assert cases > 10000, cases


def test_against_python_bidi_if_installed() -> None:
    bidi = pytest.importorskip("bidi")
    get_display = bidi.get_display
    lines = [
        "abc אבג def",
        "אבג 123 דהו",
        "مرحبا 12.50 JOD",
        "المجموع: 15.000",
        "Total المجموع 3",
        "رقم 0791234567 هاتف",
    ]
    for line in lines:
        assert arabic.reorder(line, marks_after_base=False) == get_display(line), line
