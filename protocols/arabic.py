"""Arabic text for a line printer or a small screen: contextual shaping to
presentation forms and bidirectional reordering of one line.

Pure and MicroPython-compatible (no ``unicodedata``: the Unicode properties
it needs are the tables in ``protocols/arabic_data.py``, generated from the
UCD by tools/arabic_tables.py, and the presentation-form table below).

Shaping (``shape``), on logical order:

- each character takes its Joining_Type (U, R, L, D, C, T) from the table;
  transparent characters (T: harakat, other combining marks) are skipped when
  looking for neighbours and are kept unchanged;
- a character joins its predecessor if it is R, D or C and the previous
  non-transparent character is D, L or C; it joins its successor if it is D,
  L or C and the next non-transparent character is R, D or C;
- joined on both sides: medial; only to the predecessor: final; only to the
  successor: initial; neither: isolated.  A letter without the wanted form in
  Unicode falls back (medial -> final, initial -> isolated, then the base
  letter itself);
- LAM followed (across transparent marks) by ALEF, ALEF WITH MADDA, HAMZA
  ABOVE or HAMZA BELOW becomes one lam-alef ligature (U+FEF5..U+FEFC),
  isolated or final after whether the lam joins its predecessor; the marks
  between follow the ligature.

Reordering (``levels``, ``reorder``, ``visual``): the Unicode Bidirectional
Algorithm (UAX #9) for one paragraph without explicit formatting characters:
P2/P3 (first strong character, or a given direction), X9 (BN and the explicit
embedding/override codes are removed and ignored), W1-W7, N1-N2, I1-I2, L1
(trailing whitespace and segment separators to the paragraph level), L2
(reversal), L3 as an option (combining marks after their base) and L4 (the
Bidi_Mirroring_Glyph pairs in ``MIRRORED``); N0 (bracket pairs, BD16) for
the Bidi_Paired_Bracket pairs in ``BRACKETS``, without canonical
equivalents (U+2329/U+232A pair only with each other).  Not implemented:
explicit embeddings, overrides and isolates (LRE, RLE, LRO, RLO, PDF, LRI,
RLI, FSI, PDI: the first five are dropped, the isolates read as ON),
paragraph separators inside the text (one line is one paragraph).
"""

from protocols.arabic_data import (
    BIDI_CLASS_NAMES,
    BIDI_CLASSES,
    BRACKETS,
    JOINING_TYPE_NAMES,
    JOINING_TYPES,
    MIRRORED,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# (base letter, isolated, final, initial, medial); 0 where Unicode has no
# presentation form.  Arabic Presentation Forms-B (U+FE80..U+FEF4) for the
# basic letters, Forms-A (U+FBxx) for alef wasla, the Persian/Urdu letters
# and the initial/medial alef maksura.
FORMS = (
    (0x0621, 0xFE80, 0, 0, 0),
    (0x0622, 0xFE81, 0xFE82, 0, 0),
    (0x0623, 0xFE83, 0xFE84, 0, 0),
    (0x0624, 0xFE85, 0xFE86, 0, 0),
    (0x0625, 0xFE87, 0xFE88, 0, 0),
    (0x0626, 0xFE89, 0xFE8A, 0xFE8B, 0xFE8C),
    (0x0627, 0xFE8D, 0xFE8E, 0, 0),
    (0x0628, 0xFE8F, 0xFE90, 0xFE91, 0xFE92),
    (0x0629, 0xFE93, 0xFE94, 0, 0),
    (0x062A, 0xFE95, 0xFE96, 0xFE97, 0xFE98),
    (0x062B, 0xFE99, 0xFE9A, 0xFE9B, 0xFE9C),
    (0x062C, 0xFE9D, 0xFE9E, 0xFE9F, 0xFEA0),
    (0x062D, 0xFEA1, 0xFEA2, 0xFEA3, 0xFEA4),
    (0x062E, 0xFEA5, 0xFEA6, 0xFEA7, 0xFEA8),
    (0x062F, 0xFEA9, 0xFEAA, 0, 0),
    (0x0630, 0xFEAB, 0xFEAC, 0, 0),
    (0x0631, 0xFEAD, 0xFEAE, 0, 0),
    (0x0632, 0xFEAF, 0xFEB0, 0, 0),
    (0x0633, 0xFEB1, 0xFEB2, 0xFEB3, 0xFEB4),
    (0x0634, 0xFEB5, 0xFEB6, 0xFEB7, 0xFEB8),
    (0x0635, 0xFEB9, 0xFEBA, 0xFEBB, 0xFEBC),
    (0x0636, 0xFEBD, 0xFEBE, 0xFEBF, 0xFEC0),
    (0x0637, 0xFEC1, 0xFEC2, 0xFEC3, 0xFEC4),
    (0x0638, 0xFEC5, 0xFEC6, 0xFEC7, 0xFEC8),
    (0x0639, 0xFEC9, 0xFECA, 0xFECB, 0xFECC),
    (0x063A, 0xFECD, 0xFECE, 0xFECF, 0xFED0),
    (0x0641, 0xFED1, 0xFED2, 0xFED3, 0xFED4),
    (0x0642, 0xFED5, 0xFED6, 0xFED7, 0xFED8),
    (0x0643, 0xFED9, 0xFEDA, 0xFEDB, 0xFEDC),
    (0x0644, 0xFEDD, 0xFEDE, 0xFEDF, 0xFEE0),
    (0x0645, 0xFEE1, 0xFEE2, 0xFEE3, 0xFEE4),
    (0x0646, 0xFEE5, 0xFEE6, 0xFEE7, 0xFEE8),
    (0x0647, 0xFEE9, 0xFEEA, 0xFEEB, 0xFEEC),
    (0x0648, 0xFEED, 0xFEEE, 0, 0),
    (0x0649, 0xFEEF, 0xFEF0, 0xFBE8, 0xFBE9),
    (0x064A, 0xFEF1, 0xFEF2, 0xFEF3, 0xFEF4),
    (0x0671, 0xFB50, 0xFB51, 0, 0),
    (0x067E, 0xFB56, 0xFB57, 0xFB58, 0xFB59),
    (0x0686, 0xFB7A, 0xFB7B, 0xFB7C, 0xFB7D),
    (0x0698, 0xFB8A, 0xFB8B, 0, 0),
    (0x06A9, 0xFB8E, 0xFB8F, 0xFB90, 0xFB91),
    (0x06AF, 0xFB92, 0xFB93, 0xFB94, 0xFB95),
    (0x06CC, 0xFBFC, 0xFBFD, 0xFBFE, 0xFBFF),
)
ISOLATED = 1
FINAL = 2
INITIAL = 3
MEDIAL = 4
FORM_NAMES = ((ISOLATED, "isolated"), (FINAL, "final"), (INITIAL, "initial"), (MEDIAL, "medial"))

LAM = 0x0644
# (alef, lam-alef isolated, lam-alef final)
LAM_ALEF = (
    (0x0622, 0xFEF5, 0xFEF6),
    (0x0623, 0xFEF7, 0xFEF8),
    (0x0625, 0xFEF9, 0xFEFA),
    (0x0627, 0xFEFB, 0xFEFC),
)

# BRACKETS (opening, closing) and MIRRORED (a, b) are flat pair tables in
# arabic_data: the Bidi_Paired_Bracket pairs N0 resolves and the
# Bidi_Mirroring_Glyph pairs L4 swaps at odd levels.
MAX_BRACKET_DEPTH = 63  # BD16

_JT_U = 0
_JT_R = 1
_JT_L = 2
_JT_D = 3
_JT_C = 4
_JT_T = 5

# Bidi class indices (positions in BIDI_CLASS_NAMES).
L = 0
R = 1
AL = 2
EN = 3
ES = 4
ET = 5
AN = 6
CS = 7
NSM = 8
BN = 9
B = 10
S = 11
WS = 12
ON = 13
_FIRST_EXPLICIT = 14  # LRE, LRO, RLE, RLO, PDF: removed by X9
_FIRST_ISOLATE = 19  # LRI, RLI, FSI, PDI: read as ON


def _lookup(table: bytes, cp: int) -> int:
    """Value of the range holding cp in a table of 4-byte records (first
    code point u24 BE, value)."""
    low = 0
    high = len(table) // 4 - 1
    while low < high:
        mid = (low + high + 1) // 2
        at = mid * 4
        if (table[at] << 16) | (table[at + 1] << 8) | table[at + 2] <= cp:
            low = mid
        else:
            high = mid - 1
    return table[low * 4 + 3]


def pairs(table: bytes) -> "list[tuple[int, int]]":
    """The (a, b) pairs of BRACKETS or MIRRORED."""
    out = []
    for i in range(0, len(table), 4):
        out.append(((table[i] << 8) | table[i + 1], (table[i + 2] << 8) | table[i + 3]))
    return out


def joining_type(ch: str) -> str:
    """Joining_Type of one character: U, R, L, D, C or T."""
    return JOINING_TYPE_NAMES[_lookup(JOINING_TYPES, ord(ch))]


def bidi_class(ch: str) -> str:
    """Bidi_Class of one character (L outside the covered blocks)."""
    return BIDI_CLASS_NAMES[_lookup(BIDI_CLASSES, ord(ch))]


def _forms_of(cp: int) -> "tuple[int, ...] | None":
    for entry in FORMS:
        if entry[0] == cp:
            return entry
    return None


def _form(entry: "tuple[int, ...]", form: int) -> int:
    if form == MEDIAL and not entry[MEDIAL]:
        form = FINAL
    if form == INITIAL and not entry[INITIAL]:
        form = ISOLATED
    return entry[form] or entry[ISOLATED] or entry[0]


def _lam_alef(alef: int, joined: bool) -> int:
    for a, isolated, final in LAM_ALEF:
        if a == alef:
            return final if joined else isolated
    return 0


def shape(text: str) -> str:
    """Replace Arabic letters by their contextual presentation forms (logical
    order kept); other characters pass through unchanged."""
    cps = [ord(c) for c in text]
    n = len(cps)
    types = [_lookup(JOINING_TYPES, cp) for cp in cps]
    out = []
    i = 0
    prev = -1  # index of the previous non-transparent character
    while i < n:
        t = types[i]
        if t == _JT_T:
            out.append(cps[i])
            i += 1
            continue
        nxt = i + 1
        while nxt < n and types[nxt] == _JT_T:
            nxt += 1
        joins_prev = (
            prev >= 0 and t in (_JT_R, _JT_D, _JT_C) and types[prev] in (_JT_D, _JT_L, _JT_C)
        )
        if cps[i] == LAM and nxt < n:
            ligature = _lam_alef(cps[nxt], joins_prev)
            if ligature:
                out.append(ligature)
                for k in range(i + 1, nxt):  # marks between lam and alef
                    out.append(cps[k])
                # the ligature ends right-joining, like the alef it ends with
                types[nxt] = _JT_R
                prev = nxt
                i = nxt + 1
                continue
        joins_next = nxt < n and t in (_JT_D, _JT_L, _JT_C) and types[nxt] in (_JT_R, _JT_D, _JT_C)
        entry = _forms_of(cps[i])
        if entry is None:
            out.append(cps[i])
        elif joins_prev and joins_next:
            out.append(_form(entry, MEDIAL))
        elif joins_prev:
            out.append(_form(entry, FINAL))
        elif joins_next:
            out.append(_form(entry, INITIAL))
        else:
            out.append(_form(entry, ISOLATED))
        prev = i
        i += 1
    return "".join(chr(c) for c in out)


# -- bidi ------------------------------------------------------------------
def _direction_level(direction: "str | None") -> "int | None":
    if direction is None or direction == "auto":
        return None
    if direction == "ltr":
        return 0
    if direction == "rtl":
        return 1
    raise ValueError("direction must be 'ltr', 'rtl' or 'auto'")


# Receipt text is mostly ASCII: its classes without a search.
_ASCII_CLASSES = bytes(_lookup(BIDI_CLASSES, cp) for cp in range(128))


def class_indices(text: str) -> "list[int]":
    ascii_classes = _ASCII_CLASSES
    out = []
    for c in text:
        cp = ord(c)
        out.append(ascii_classes[cp] if cp < 128 else _lookup(BIDI_CLASSES, cp))
    return out


def resolve_levels(
    classes: "list[int]", para_level: "int | None" = None, cps: "list[int] | None" = None
) -> "tuple[list[Any], int]":
    """Embedding levels for a paragraph given as bidi class indices (and,
    for N0, its code points).

    Returns (levels, paragraph level); characters removed by X9 get None.
    """
    kept = []  # indices of characters that take part (X9)
    for i in range(len(classes)):
        c = classes[i]
        if c != BN and not _FIRST_EXPLICIT <= c < _FIRST_ISOLATE:
            kept.append(i)
    orig = []
    for i in kept:
        c = classes[i]
        orig.append(ON if c >= _FIRST_ISOLATE else c)
    if para_level is None:  # P2, P3
        para_level = 0
        for c in orig:
            if c == L:
                break
            if c in (R, AL):
                para_level = 1
                break
    e = R if para_level & 1 else L  # embedding direction, sos and eos
    t = list(orig)
    n = len(t)
    # W1: NSM takes the type of the previous character (sos at the start).
    for i in range(n):
        if t[i] == NSM:
            t[i] = t[i - 1] if i else e
    # W2: EN after AL (looking back to the first strong type) becomes AN.
    last = e
    for i in range(n):
        c = t[i]
        if c in (L, R, AL):
            last = c
        elif c == EN and last == AL:
            t[i] = AN
    # W3: AL -> R.
    for i in range(n):
        if t[i] == AL:
            t[i] = R
    # W4: one separator between two numbers of the same type.
    for i in range(1, n - 1):
        c = t[i]
        if c == ES and t[i - 1] == EN and t[i + 1] == EN:
            t[i] = EN
        elif c == CS and t[i - 1] == t[i + 1] and (t[i - 1] == EN or t[i - 1] == AN):
            t[i] = t[i - 1]
    # W5: a sequence of ETs next to EN becomes EN.
    i = 0
    while i < n:
        if t[i] == ET:
            j = i
            while j < n and t[j] == ET:
                j += 1
            if (i > 0 and t[i - 1] == EN) or (j < n and t[j] == EN):
                for k in range(i, j):
                    t[k] = EN
            i = j
        else:
            i += 1
    # W6: remaining separators and terminators -> ON.
    for i in range(n):
        if t[i] == ES or t[i] == ET or t[i] == CS:
            t[i] = ON
    # W7: EN after L (looking back to the first strong type) becomes L.
    last = e
    for i in range(n):
        c = t[i]
        if c in (L, R):
            last = c
        elif c == EN and last == L:
            t[i] = L
    # N0: paired brackets take the direction of what they enclose.
    if cps is not None:
        _resolve_brackets(t, orig, [cps[i] for i in kept], e)
    # N1, N2: neutrals between strong types of one direction take it; others
    # take the embedding direction.  Numbers count as R.
    i = 0
    while i < n:
        if t[i] in (B, S, WS, ON):
            j = i
            while j < n and t[j] in (B, S, WS, ON):
                j += 1
            before = _strong_for_neutrals(t[i - 1]) if i > 0 else e
            after = _strong_for_neutrals(t[j]) if j < n else e
            fill = before if before == after else e
            for k in range(i, j):
                t[k] = fill
            i = j
        else:
            i += 1
    # I1, I2
    levels = []
    for c in t:
        if para_level & 1:
            levels.append(para_level + 1 if c in (L, EN, AN) else para_level)
        elif c == R:
            levels.append(para_level + 1)
        elif c in (AN, EN):
            levels.append(para_level + 2)
        else:
            levels.append(para_level)
    # L1: segment separators, paragraph separators and the whitespace before
    # them or at the end of the line go to the paragraph level.
    trailing = True
    for k in range(n - 1, -1, -1):
        c = orig[k]
        if c in (S, B):
            levels[k] = para_level
            trailing = True
        elif trailing and (c == WS or classes[kept[k]] >= _FIRST_ISOLATE):
            levels[k] = para_level
        else:
            trailing = False
    full: "list[Any]" = [None] * len(classes)
    for k in range(n):
        full[kept[k]] = levels[k]
    return full, para_level


def _bracket_pairs(orig: "list[int]", cps: "list[int]") -> "list[tuple[int, int]]":
    """BD16: (opening, closing) positions of the paired brackets, sorted."""
    found: "list[tuple[int, int]]" = []
    stack: "list[tuple[int, int]]" = []  # (closing bracket wanted, position)
    for k in range(len(cps)):
        if orig[k] != ON:
            continue
        cp = cps[k]
        for i in range(0, len(BRACKETS), 4):
            opening = (BRACKETS[i] << 8) | BRACKETS[i + 1]
            closing = (BRACKETS[i + 2] << 8) | BRACKETS[i + 3]
            if cp == opening:
                if len(stack) == MAX_BRACKET_DEPTH:
                    found.sort()
                    return found
                stack.append((closing, k))
                break
            if cp == closing:
                for s in range(len(stack) - 1, -1, -1):
                    if stack[s][0] == cp:
                        found.append((stack[s][1], k))
                        del stack[s:]
                        break
                break
    found.sort()
    return found


def _resolve_brackets(t: "list[int]", orig: "list[int]", cps: "list[int]", e: int) -> None:
    for opening, closing in _bracket_pairs(orig, cps):
        inside_e = False
        inside_other = False
        for k in range(opening + 1, closing):
            d = _strong_for_neutrals(t[k])
            if d == e:
                inside_e = True
                break
            if d >= 0:
                inside_other = True
        if inside_e:
            new = e
        elif inside_other:
            new = e  # sos, when nothing strong precedes the pair
            for k in range(opening - 1, -1, -1):
                d = _strong_for_neutrals(t[k])
                if d >= 0:
                    new = d
                    break
        else:
            continue
        for at in (opening, closing):
            t[at] = new
            k = at + 1
            while k < len(t) and orig[k] == NSM:  # marks on a bracket follow it
                t[k] = new
                k += 1


def _strong_for_neutrals(c: int) -> int:
    if c == L:
        return L
    if c in (R, EN, AN):
        return R
    return -1  # a neutral


def levels(text: str, direction: "str | None" = None) -> "tuple[list[Any], int]":
    """Resolved embedding levels of a line; ``direction`` "ltr", "rtl" or
    None/"auto" (first strong character).  Returns (levels, paragraph level)."""
    return resolve_levels(class_indices(text), _direction_level(direction), [ord(c) for c in text])


def visual_order(levels_: "list[Any]") -> "list[int]":
    """L2: logical indices in visual (left to right) order; characters whose
    level is None (removed by X9) are left out."""
    order = [i for i in range(len(levels_)) if levels_[i] is not None]
    lv = [levels_[i] for i in order]
    if not lv:
        return order
    highest = max(lv)
    lowest_odd = min(lv)
    if not lowest_odd & 1:
        lowest_odd += 1
    level = highest
    while level >= lowest_odd:
        i = 0
        n = len(order)
        while i < n:
            if lv[i] >= level:
                j = i
                while j < n and lv[j] >= level:
                    j += 1
                order[i:j] = order[i:j][::-1]
                lv[i:j] = lv[i:j][::-1]
                i = j
            else:
                i += 1
        level -= 1
    return order


def _mirror(cp: int) -> int:
    if cp < 0x28:
        return cp
    table = MIRRORED
    for i in range(0, len(table), 4):
        a = (table[i] << 8) | table[i + 1]
        b = (table[i + 2] << 8) | table[i + 3]
        if cp == a:
            return b
        if cp == b:
            return a
    return cp


def reorder(text: str, direction: "str | None" = None, marks_after_base: bool = True) -> str:
    """The line in display order, left to right (L1-L4).  With
    ``marks_after_base`` (L3) a combining mark of a right-to-left run follows
    its base character, as a renderer that overlays marks on the glyph drawn
    just before wants it."""
    classes = class_indices(text)
    cps = [ord(c) for c in text]
    lv, _ = resolve_levels(classes, _direction_level(direction), cps)
    order = visual_order(lv)
    if marks_after_base:
        k = 0
        while k < len(order):
            if classes[order[k]] == NSM and lv[order[k]] & 1:
                j = k
                while j < len(order) and classes[order[j]] == NSM and lv[order[j]] & 1:
                    j += 1
                if j < len(order):  # the base, drawn right after the marks
                    order[k : j + 1] = [order[j]] + order[k:j][::-1]
                k = j + 1
            else:
                k += 1
    out = []
    for i in order:
        cp = cps[i]
        out.append(chr(_mirror(cp) if lv[i] & 1 else cp))
    return "".join(out)


def visual(text: str, direction: "str | None" = None) -> str:
    """Shape, then reorder: the glyph sequence to draw left to right."""
    return reorder(shape(text), direction)
