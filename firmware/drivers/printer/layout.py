"""Receipt layout on a fixed number of character columns (pure).

Everything here works on text and column counts; the printer profiles in
``profiles.py`` say how many columns a paper width has.
"""


def wrap(text: str, columns: int) -> "list[str]":
    """Word-wrap to lines of at most `columns` characters (long words are cut)."""
    if columns < 1:
        raise ValueError("columns must be at least 1")
    lines = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            while len(word) > columns:
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:columns])
                word = word[columns:]
            if not line:
                line = word
            elif len(line) + 1 + len(word) <= columns:
                line = line + " " + word
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def two_columns(left: str, right: str, columns: int) -> "list[str]":
    """`left` flush left and `right` flush right on one line; a left text too
    long for that wraps, with `right` on its last line (or a line of its own)."""
    if len(right) > columns:
        raise ValueError("right column wider than the line")
    room = columns - len(right) - 1 if right else columns
    if room >= 1 and len(left) <= room:
        return [left + " " * (columns - len(left) - len(right)) + right]
    lines = wrap(left, columns)
    last = lines[-1]
    if right and len(last) + 1 + len(right) <= columns:
        lines[-1] = last + " " * (columns - len(last) - len(right)) + right
    elif right:
        lines.append(" " * (columns - len(right)) + right)
    return lines


def center(text: str, columns: int) -> str:
    pad = max(columns - len(text), 0)
    return " " * (pad // 2) + text


def money(minor: int, exponent: int = 3, currency: str = "") -> str:
    """Minor units as a decimal amount: money(12500) -> "12.500" (JOD has
    3 decimals); with a currency code, "12.500 JOD"."""
    if not isinstance(minor, int) or isinstance(minor, bool):
        raise ValueError("amount must be an int of minor units")
    sign = "-" if minor < 0 else ""
    minor = -minor if minor < 0 else minor
    if exponent:
        scale = 10**exponent
        text = "%s%d.%0*d" % (sign, minor // scale, exponent, minor % scale)
    else:
        text = "%s%d" % (sign, minor)
    return text + " " + currency if currency else text
