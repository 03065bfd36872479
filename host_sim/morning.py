"""A morning of card sales on the sim board, for ``payterm demo``.

The terminal application (``firmware.app``) runs under the real MicroPython
unix port through the board runner (host_sim/runner): the PN532 emulator,
the contact card reader, the virtual printer, the display endpoint, and the
runner's bank — the HSM with the TEST keys imported, the acquirer host on a
seeded SQLite file, the secure element holding the terminal's DUKPT key.

The cardholders are this module: the RF field starts empty; when the
terminal shows *present card* for a tap, the sale's card is put in the
field, and it leaves with the result.  A contact card waits in the slot
before its sale starts (the terminal does not wait for an insert), and is
swapped for the next contact card when its result comes.  The terminal
exports the EMV trace of each card transaction (``TRACE`` lines); every APDU
a card answers is also traced at the card, the PAN masked, so the demo can
check that the terminal's trace is what the card saw.

The terminal is fiscalised on its first run (``fiscal`` in the session):
every approved sale and refund is a record of the fiscal journal on the sim
board's flash (``WORKDIR/fiscal.img``), signed by the secure element; the
batch close makes the Z report.

The sales: a contactless Visa-like approval (Kernel 3, ARQC online), a
contactless Mastercard-like sale (Kernel 2, CDA), a contact sale with the
offline plaintext PIN, a refund by tap, a contact sale with a wrong online
PIN (the PIN block from the secure element; the host says 55), then the
batch close.  ``run_morning`` returns what happened; demo.py checks it
against the host's database.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_sim.acquirer import seed
from host_sim.runner import Emulators, RunOptions, run_async

TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Sale:
    label: str
    op: str  # sale | refund
    amount: int  # fils
    card: str  # profile
    interface: str  # tap | insert
    pins: tuple[str, ...] = ()


MORNING = (
    Sale("contactless Visa-like", "sale", 30000, "visa_qvsdc", "tap"),
    Sale("contactless Mastercard-like (CDA)", "sale", 30000, "mastercard_cda", "tap"),
    Sale("contact, offline PIN", "sale", 60000, "contact_offline_pin", "insert", ("1234",)),
    Sale("refund by tap", "refund", 5000, "visa_qvsdc", "tap"),
    Sale("contact, wrong online PIN", "sale", 25000, "contact_online_pin", "insert", ("9999",)),
)


def terminal_identity() -> dict[str, str]:
    merchant = seed.seed_data()["merchant"]
    return {
        "tid": seed.tid_of(1),
        "mid": merchant["mid"],
        "name": merchant["name"],
        "name_ar": "متجر بيترم",
        "city": merchant["city"],
    }


FISCAL_DEVICE = "PT-DEMO-0001"  # the fiscal device ID (the tax authority's)


def session(sales: tuple[Sale, ...], tax: bool = False) -> dict[str, Any]:
    """The app's session: the MAC key as a key loader injects it, the PIN
    in the secure element (the runner's SE holds terminal 1's DUKPT key),
    the fiscal journal made on this first run (its records uploaded to
    the tax backend on the board's tax link with ``tax``)."""
    steps: list[dict[str, Any]] = [{"op": "sign_on"}]
    for sale in sales:
        step: dict[str, Any] = {"op": sale.op, "amount": sale.amount, "card": sale.interface}
        if sale.pins:
            step["pins"] = list(sale.pins)
        steps.append(step)
    steps.append({"op": "batch_close"})
    doc: dict[str, Any] = {
        "terminal": terminal_identity(),
        "keys": {"se": True, "mac": seed.terminal_mac_key(seed.tid_of(1)).hex()},
        "host_timeout_ms": 10000,
        "display": False,  # drawn, the screens' font does not fit the 1M heap (docs/cli.md)
        "fiscal": {"device_id": FISCAL_DEVICE, "fiscalise": True},
        "steps": steps,
    }
    if tax:
        doc["tax"] = {"deadline_ms": 10000}
    return doc


def mask_pan(text: str, pan: str) -> str:
    return text.replace(pan, pan[:6] + "*" * (len(pan) - 10) + pan[-4:])


class Tracer:
    """Wraps a virtual card's ``transmit``: every command and response, hex,
    the PAN masked wherever it appears (5A, 57, the track data)."""

    def __init__(self, profile: str, card: Any) -> None:
        self.pan = seed.card_facts(profile).pan
        self.lines: list[str] = []
        inner = card.transmit

        def transmit(apdu: bytes) -> bytes:
            response = bytes(inner(apdu))
            self.lines.append("C-APDU " + self._hex(apdu))
            self.lines.append("R-APDU " + self._hex(response))
            return response

        card.transmit = transmit

    def _hex(self, data: bytes) -> str:
        return mask_pan(data.hex().upper(), self.pan)


@dataclass
class Morning:
    code: int = -1
    stdout: str = ""
    stderr: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)
    screens: list[dict[str, Any]] = field(default_factory=list)
    receipts: list[Any] = field(default_factory=list)
    traces: list[list[str]] = field(default_factory=list)  # per sale, at the card
    app_traces: list[dict[str, Any]] = field(default_factory=list)  # the terminal's TRACE lines
    fiscal: dict[str, Any] = field(default_factory=dict)  # the terminal's FISCAL line
    ready: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # the cardholders' own faults


class Cardholders:
    """Puts each sale's card in front of the terminal when it asks."""

    def __init__(self, sales: tuple[Sale, ...], morning: Morning) -> None:
        self.sales = sales
        self.morning = morning
        self.emus: Emulators | None = None
        self.prompts = 0  # present-card screens seen
        self.done = 0  # sale results seen
        self.buffer = ""

    def attach(self, emus: Emulators) -> None:
        self.emus = emus
        self._load_slot(0)

    def _next_insert(self, start: int) -> int | None:
        for i in range(start, len(self.sales)):
            if self.sales[i].interface == "insert":
                return i
        return None

    def _load_slot(self, start: int) -> None:
        from host_sim.cards import load_profile

        assert self.emus is not None
        slot = self.emus.objects["uart3"].slot
        if slot.present:
            slot.remove()
        index = self._next_insert(start)
        if index is not None:
            card = load_profile(self.sales[index].card)
            self.morning.traces[index] = Tracer(self.sales[index].card, card).lines
            slot.insert(card)

    def _tap(self, index: int) -> None:
        from host_sim.nfc.profiles import load_card

        assert self.emus is not None
        sale = self.sales[index]
        card = load_card(sale.card)
        self.morning.traces[index] = Tracer(sale.card, card).lines
        self.emus.objects["uart1"].emulator.field.insert(card)

    def write(self, text: str) -> None:
        self.morning.stdout += text
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            try:
                self._line(line)
            except Exception as exc:  # reported; the firmware's output keeps flowing
                self.morning.errors.append(f"{type(exc).__name__}: {exc} (after {line[:80]!r})")

    def _line(self, line: str) -> None:
        if line.startswith("UI "):
            screen = json.loads(line[3:])
            self.morning.screens.append(screen)
            if screen.get("message") == "present_card" and self.prompts < len(self.sales):
                index = self.prompts
                self.prompts += 1
                if self.sales[index].interface == "tap":
                    self._tap(index)
        elif line.startswith("TRACE "):
            self.morning.app_traces.append(json.loads(line[6:]))
        elif line.startswith("FISCAL "):
            self.morning.fiscal = json.loads(line[7:])
        elif line.startswith("RESULT "):
            result = json.loads(line[7:])
            self.morning.results.append(result)
            if result.get("kind") in ("sale", "refund") and self.done < len(self.sales):
                index = self.done
                self.done += 1
                assert self.emus is not None
                self.emus.objects["uart1"].emulator.field.clear()
                if self.sales[index].interface == "insert":
                    self._load_slot(index + 1)


async def run_morning(
    db_path: Path,
    sales: tuple[Sale, ...] | None = None,
    workdir: Path | None = None,
    tax_endpoint: str | None = None,
) -> Morning:
    """The whole morning (``MORNING`` unless ``sales``) in one firmware run;
    the host's database at ``db_path`` (replaced: a fresh seed); the tax
    backend at ``tax_endpoint`` ("host:port") when given."""
    sales = MORNING if sales is None else sales
    morning = Morning(traces=[[] for _ in sales])
    holders = Cardholders(sales, morning)
    for stale in (db_path, db_path.with_name(db_path.name + "-wal"),
                  db_path.with_name(db_path.name + "-shm")):  # fmt: skip
        stale.unlink(missing_ok=True)
    folder = tempfile.TemporaryDirectory(prefix="payterm-morning-")
    session_path = Path(folder.name) / "session.json"  # it holds the TEST MAC key: not kept
    text = json.dumps(session(sales, tax=tax_endpoint is not None), ensure_ascii=False)
    session_path.write_text(text, encoding="utf-8")
    printers: list[Any] = []

    def on_emulators(emus: Emulators) -> None:
        holders.attach(emus)
        printers.append(emus.objects["uart2"].printer)

    def err(text: str) -> None:
        morning.stderr += text

    options = RunOptions(
        app="firmware.app",
        app_args=(str(session_path),),
        nfc_cards=[],
        contact_card=None,
        timeout=TIMEOUT_S,
        db_path=db_path,
        workdir=workdir,
        handle_signals=False,
        endpoints={"net2": tax_endpoint} if tax_endpoint else {},
    )
    ready: Callable[[dict[str, Any]], None] = morning.ready.update
    try:
        morning.code = await run_async(options, ready, holders.write, err, on_emulators)
    finally:
        folder.cleanup()
    if printers:
        morning.receipts = list(printers[0].receipts)
    return morning


__all__ = ["FISCAL_DEVICE", "MORNING", "Morning", "Sale", "mask_pan", "run_morning", "session"]
