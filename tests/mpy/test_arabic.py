# protocols.arabic under MicroPython: the same results as under CPython
# (tests/test_arabic.py checks them against the Unicode data).
from mpyunit import eq

from protocols import arabic


def hexes(s):
    return " ".join("%04X" % ord(c) for c in s)


def test_thanks_line_shaped():
    eq(
        hexes(arabic.shape("شكراً لزيارتكم 123")),
        "FEB7 FEDC FEAE FE8D 064B 0020 FEDF FEB0 FEF3 FE8E FEAD FE97 FEDC FEE2 0020 0031 0032 0033",
    )


def test_thanks_line_visual():
    eq(
        hexes(arabic.visual("شكراً لزيارتكم 123")),
        "0031 0032 0033 0020 FEE2 FEDC FE97 FEAD FE8E FEF3 FEB0 FEDF 0020 FE8D 064B FEAE FEDC FEB7",
    )


def test_lam_alef():
    eq(hexes(arabic.shape("\u0644\u0627")), "FEFB")
    eq(hexes(arabic.shape("\u0628\u0644\u0623")), "FE91 FEF8")
    eq(hexes(arabic.shape("\u0644\u064e\u0625")), "FEF9 064E")


def test_every_letter_alone_is_isolated():
    for entry in arabic.FORMS:
        eq(ord(arabic.shape(chr(entry[0]))), entry[1], "%04X" % entry[0])


def test_bidi_cases():
    cases = (
        ("abc \u05d0\u05d1\u05d2 def", None, "abc \u05d2\u05d1\u05d0 def"),
        ("\u05d0\u05d1\u05d2 1.5 \u05d3", None, "\u05d3 1.5 \u05d2\u05d1\u05d0"),
        ("\u05d0\u05d1\u05d2 10% \u05d3", None, "\u05d3 10% \u05d2\u05d1\u05d0"),
        ("abc 123 \u05d0\u05d1\u05d2", "rtl", "\u05d2\u05d1\u05d0 abc 123"),
        ("(\u05d0\u05d1\u05d2)", None, "(\u05d2\u05d1\u05d0)"),
        ("\u0627\u0644 12", None, "12 \u0644\u0627"),
    )
    for logical, direction, visual in cases:
        eq(arabic.reorder(logical, direction), visual, logical)


def test_levels_and_classes():
    eq(arabic.levels("abc \u05e9 12 d"), ([0, 0, 0, 0, 1, 1, 2, 2, 0, 0], 0))
    eq(arabic.levels("\u0627 12"), ([1, 1, 2, 2], 1))
    eq(arabic.bidi_class("\u0660"), "AN")
    eq(arabic.joining_type("\u0640"), "C")
    eq(arabic.joining_type("\u064b"), "T")


def test_odd_input_does_not_raise():
    for text in ("", "\u064e", "\u0644", "\u0644\u064e", "\x00\ufeff\u202e", "\U0001f600\u0628"):
        arabic.visual(text)
        arabic.visual(text, "rtl")
