"""Keywords the Robot suites need beyond Process and OperatingSystem: the
terminal app's session file, its output lines, the runner's ready line, a
receipt's QR read by zbar, a damaged copy of a fiscal export.

Every keyword reads or writes files only; the terminal itself is reached
through the ``payterm`` command line (``payterm.resource``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

ROBOT_LIBRARY_SCOPE = "GLOBAL"

TERMINAL_ID = 1  # the seeded terminal the runner's secure element is personalised for


def write_session(
    path: str,
    steps: str | list[dict[str, Any]],
    fiscal_device: str | None = None,
    tech_key: str | None = None,
) -> str:
    """Writes a ``firmware.app`` session (docs/app.md "Running it") to
    ``path`` and returns its absolute path: the seeded terminal PT000001,
    the PIN and the MAC in the runner's secure element, the display off.
    ``steps`` is a JSON list (text or list). With ``fiscal_device`` the
    journal is made on this first run (``fiscalise``); with ``tech_key``
    (the technician's public point, hex) the app opens its service port."""
    from host_sim.acquirer import seed

    merchant = seed.seed_data()["merchant"]
    doc: dict[str, Any] = {
        "terminal": {
            "tid": seed.tid_of(TERMINAL_ID),
            "mid": merchant["mid"],
            "name": merchant["name"],
            "name_ar": "متجر بيترم",
            "city": merchant["city"],
        },
        "keys": {"se": True, "mac": ""},  # the DUKPT MAC: no static key
        "host_timeout_ms": 10000,
        "display": False,  # with the journal, the screens' font does not fit the 1M heap
        "steps": json.loads(steps) if isinstance(steps, str) else steps,
    }
    if fiscal_device:
        doc["fiscal"] = {"device_id": fiscal_device, "fiscalise": True}
    if tech_key:
        doc["service"] = {"tech_key": tech_key}
    target = Path(path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return str(target)


def output_lines(log: str, prefix: str) -> list[dict[str, Any]]:
    """The JSON documents of the app's ``PREFIX {...}`` lines in ``log`` (a
    file), in order (``RESULT``, ``TRACE``, ``FISCAL``)."""
    head = prefix + " "
    text = Path(log).read_text(encoding="utf-8")
    docs: list[dict[str, Any]] = []
    for line in text.splitlines():
        if line.startswith(head):
            doc = json.loads(line[len(head) :])
            if not isinstance(doc, dict):
                raise AssertionError(f"{prefix} line is not a JSON object: {line[:80]}")
            docs.append(doc)
    return docs


def wait_for_ready_line(stderr_file: str, timeout: float = 30.0) -> dict[str, Any]:
    """The JSON line ``payterm fw run`` writes on stderr once the firmware
    has started (docs/runner.md, step 4), read from the file its stderr goes
    to; fails after ``timeout`` seconds."""
    path = Path(stderr_file)
    deadline = time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith("{"):
                    doc = json.loads(line)
                    if isinstance(doc, dict) and "buses" in doc:
                        return doc
        time.sleep(0.05)
    raise AssertionError(f"no ready line from the runner in {timeout} s: {stderr_file}")


def card_pan(profile: str) -> str:
    """The PAN of a virtual card profile (host_sim/cards), in clear."""
    from host_sim.acquirer import seed

    return seed.card_facts(profile).pan


def read_qr_from_png(png: str) -> str:
    """The text of the one QR code zbar finds in the image."""
    from PIL import Image
    from pyzbar.pyzbar import ZBarSymbol, decode

    with Image.open(png) as image:
        symbols = decode(image, symbols=[ZBarSymbol.QRCODE])
    if len(symbols) != 1:
        raise AssertionError(f"{png}: {len(symbols)} QR codes, want 1")
    text: str = symbols[0].data.decode("utf-8")
    return text


def copy_with_a_byte_flipped_in_record(source: str, target: str, record: int | str) -> int:
    """Copies a fiscal export (PTFX, docs/fiscal.md "Export") to ``target``
    with one bit flipped in the middle of record number ``record`` (1-based,
    in export order), found by walking the frames (``len u16 | record |
    check 4``); returns the offset of the flipped byte."""
    data = bytearray(Path(source).read_bytes())
    if data[:4] != b"PTFX":
        raise AssertionError(f"{source} is not a PTFX export")
    offset = 7 + int.from_bytes(data[5:7], "big")
    for number in range(1, int(record) + 1):
        length = int.from_bytes(data[offset : offset + 2], "big")
        if length == 0 or offset + 2 + length + 4 > len(data):
            raise AssertionError(f"{source} has no record {record} (only {number - 1})")
        if number == int(record):
            flipped = offset + 2 + length // 2
            data[flipped] ^= 0x01
            Path(target).write_bytes(bytes(data))
            return flipped
        offset += 2 + length + 4
    raise AssertionError(f"record numbers start at 1, not {record}")


def files_should_not_contain(folder: str, text: str) -> int:
    """Fails when any file under ``folder`` contains ``text``; returns how
    many files were searched (at least one, or it fails)."""
    files = [p for p in sorted(Path(folder).rglob("*")) if p.is_file()]
    if not files:
        raise AssertionError(f"no files under {folder}")
    needle = text.encode("utf-8")
    found = [str(p) for p in files if needle in p.read_bytes()]
    if found:
        raise AssertionError(f"{len(found)} file(s) contain the text: {', '.join(found)}")
    return len(files)
