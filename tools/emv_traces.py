"""The EMV traces a terminal exported, out of its output.

``firmware.app`` writes one ``TRACE {...}`` line after each card
transaction (firmware/app/trace_export.py, docs/app.md "EMV trace"):
``{"kind", "interface", "stan", "result", ["kernel",] "apdus": [{"dir":
"C" | "R", "hex", "ms"}], "notes": [...]}``, the PAN already masked by the
terminal.  ``extract`` reads them from the firmware's output (what ``payterm
fw run`` prints, or the demo's app.log) and checks their shape; ``write``
puts each in a file of its own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

PREFIX = "TRACE "
HEX = re.compile(r"^[0-9A-F*]*$")
DIRECTIONS = ("C", "R")


class TraceError(ValueError):
    """A TRACE line that is not a trace; names the line."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def _check(doc: Any, line: int) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise TraceError(line, "not a JSON object")
    apdus = doc.get("apdus")
    if not isinstance(apdus, list) or not isinstance(doc.get("notes"), list):
        raise TraceError(line, "no apdus / notes lists")
    for i, apdu in enumerate(apdus):
        if not isinstance(apdu, dict) or apdu.get("dir") not in DIRECTIONS:
            raise TraceError(line, f"apdu {i}: no direction C or R")
        text = apdu.get("hex")
        if not isinstance(text, str) or not HEX.match(text) or len(text) % 2:
            raise TraceError(line, f"apdu {i}: hex is not upper-case hex (masked with *)")
        ms = apdu.get("ms")
        if ms is not None and (not isinstance(ms, int) or isinstance(ms, bool) or ms < 0):
            raise TraceError(line, f"apdu {i}: ms is not a count of milliseconds")
    return doc


def extract(text: str) -> list[dict[str, Any]]:
    """Every trace in the firmware output ``text``, in order."""
    traces = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith(PREFIX):
            continue
        try:
            doc = json.loads(line[len(PREFIX) :])
        except ValueError as exc:
            raise TraceError(number, f"not JSON: {exc}") from None
        traces.append(_check(doc, number))
    return traces


def file_name(index: int, trace: dict[str, Any]) -> str:
    stan = str(trace.get("stan") or "nostan")
    interface = str(trace.get("interface") or "card")
    safe = re.sub(r"[^0-9A-Za-z_-]", "_", f"{stan}-{interface}")
    return f"{index:03d}-{safe}.json"


def write(traces: list[dict[str, Any]], folder: Path) -> list[Path]:
    """Each trace as ``NNN-STAN-INTERFACE.json`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, trace in enumerate(traces, 1):
        path = folder / file_name(index, trace)
        path.write_text(json.dumps(trace, indent=1) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def summary(trace: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: trace[k] for k in ("stan", "kind", "interface", "kernel", "result") if k in trace
    }
    out["apdus"] = len(trace["apdus"]) // 2
    return out
