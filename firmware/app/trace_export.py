"""The EMV trace of the terminal's last card transaction, written out as one
JSON object (docs/app.md, "EMV trace").

Both kernels keep a trace of masked APDUs (firmware/emv/contact/trace.py:
``(">" | "<", hex)`` and notes; firmware/emv/contactless/trace.py:
``("C" | "R", hex, ms)`` and events).  ``write`` puts either on a stream
piece by piece, one APDU at a time, so no text as large as the whole trace
is ever built: the heap of a small board has free memory, not large
blocks."""

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

DIRECTIONS = {">": "C", "<": "R", "C": "C", "R": "R"}


def apdus(trace: "Any") -> "Iterator[tuple[str, str, Any]]":
    """(direction "C" | "R", masked hex, ms since the start or None)."""
    for entry in trace.entries:
        yield DIRECTIONS[entry[0]], entry[1], entry[2] if len(entry) > 2 else None


def notes(trace: "Any") -> "list[str]":
    events = getattr(trace, "events", None)
    return events if events is not None else getattr(trace, "notes", [])


def write(out: "Any", head: "dict", trace: "Any") -> None:
    """``{<head's keys, sorted>, "apdus": [{"dir", "hex", "ms"}, ...],
    "notes": [...]}`` on ``out`` (anything with ``write(str)``)."""
    out.write("{")
    for key in sorted(head):
        out.write(json.dumps(key) + ": " + json.dumps(head[key]) + ", ")
    out.write('"apdus": [')
    sep = ""
    for direction, text, ms in apdus(trace):
        out.write('%s{"dir": "%s", "hex": "%s", "ms": %s}'
                  % (sep, direction, text, "null" if ms is None else "%d" % ms))  # fmt: skip
        sep = ", "
    out.write('], "notes": [')
    sep = ""
    for line in notes(trace):
        out.write(sep + json.dumps(line))
        sep = ", "
    out.write("]}")
