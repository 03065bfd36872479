"""The terminal application as the board's program, unattended:

    micropython -m firmware.app            (payterm fw run --app firmware.app)

reads ONE line of JSON on stdin (or the file named by its first argument:
``payterm fw run --app firmware.app -- SESSION.json``) -- the session: the terminal's identity
(``terminal``: tid, mid, name, name_ar, city), its TEST keys as a key
loader would inject them (``keys``: ``mac`` AES-128 MAC key, ``ik`` the
AES DUKPT initial key, ``ikid`` its 8-byte initial key ID, hex), optional
``host_timeout_ms``, ``display`` (draw the screens on the sim display),
``nfc`` / ``contact`` / ``printer`` (false: that device is absent),
``card_reader`` (``clock_hz``, ``min_wait_ms``: tests shorten the T=1
waits as tests/test_cardreader.py does),
and ``steps``: ``{"op": "sale" | "refund" | "preauth", "amount": FILS,
"card": "tap" | "insert", "pins": ["1234", ...]}``, ``{"op": "sign_on"}``,
``{"op": "echo"}``, ``{"op": "forward"}``, ``{"op": "void", "stan": S}`` (the
last approved transaction without a STAN), ``{"op": "complete", "amount":
FILS, "stan": S}`` (completion of the pre-authorisation S; the session's last
one without a STAN), ``{"op": "batch_close"}``.

The PIN digits of a step are the script's stand-in for the keypad: each is
handed to the flow as a fresh bytearray that the flow wipes.  Prints
``UI {...}`` for every screen shown and ``RESULT {...}`` per step (JSON,
the PAN masked, never a PIN) and ``TRACE {...}`` after each card
transaction (its EMV trace, masked: docs/app.md), then ``DONE``.  Stdin
keeps the keys off the command line.
"""

import json
import os
import sys

import boards
from firmware.app import trace_export
from firmware.app.batch import Batch
from firmware.app.keys import SoftKeys
from firmware.app.online import Online
from firmware.app.screens import Ui
from firmware.app.terminal import Terminal
from protocols.iso8583_specs import PAYTERM_1987

# Bytes held from boot for the receipts (Terminal.reserve_receipt_memory): a
# bilingual receipt's pieces and rasters take about 12 KB; the rest is room
# for the Arabic shaping's lists.  Taken once the firmware is loaded: the
# block then sits high in the heap, and given up it joins the free space
# above it (taken first, at the bottom, it would be a 32 KB hole alone).
RECEIPT_RESERVE = 32 * 1024

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

KEEP = ("kind", "amount", "result", "message", "code", "auth_code", "rrn", "stan", "kernel",
        "outcome", "contact_outcome", "reason", "reversed", "pan_masked", "cvm_text", "signature",
        "printer_error", "batch", "totals", "preauth_stan", "queued", "fiscal_seq",
        "fiscal_error", "upload")  # fmt: skip


def emit(kind: str, doc: "dict") -> None:
    print(kind + " " + json.dumps(doc))


class ScriptInput:
    """PIN digits from the script, one entry per PIN prompt; None (the
    cardholder cancels) when the step has no more."""

    def __init__(self) -> None:
        self.pins: "list[str]" = []

    def pin(self) -> "bytearray | None":
        if not self.pins:
            return None
        return bytearray(self.pins.pop(0).encode())


def _hex(b: "bytes") -> str:
    return "".join("%02X" % x for x in b)


def report(result: "dict") -> "dict":
    out = {}
    for k in KEEP:
        if k in result and result[k] is not None:
            out[k] = result[k]
    for k in ("tvr", "tsi"):
        if result.get(k):
            out[k] = _hex(result[k])
    return out


def emit_trace(head: "dict", trace: "Any") -> None:
    """``TRACE {...}``: a card transaction's EMV trace (firmware/app/trace_export.py)."""
    sys.stdout.write("TRACE ")
    trace_export.write(sys.stdout, head, trace)
    sys.stdout.write("\n")


def open_service(board: "Any", se: "Any", fiscal: "Any", doc: "dict") -> "Any":
    """The service port on the board's ``service`` UART: ``{"tech_key": the
    technician's P-256 public point, hex}``; exports need the journal."""
    from firmware.service.runner import make_service

    if fiscal is None or se is None:
        raise ValueError("service: the port serves the fiscal journal (session 'fiscal')")
    return make_service(board, fiscal.journal, se, bytes.fromhex(doc["tech_key"]))


def serve_port(service: "Any", clock: "Any", ms: int) -> "dict":
    """``{"op": "service", "ms": N}``: the terminal idle, serving its
    service port for up to N ms, or until a technician who logged in has
    logged out (or the session ended)."""
    if service is None:
        raise ValueError("service: no service port in this session")
    deadline = clock.ticks_ms() + ms
    was_in = False
    while clock.ticks_diff(deadline, clock.ticks_ms()) > 0:
        if not service.poll():
            clock.sleep_ms(5)
        if service.authenticated:
            was_in = True
        elif was_in:
            break
    return {"kind": "service", "served": service.served, "errors": service.errors,
            "technician": was_in}  # fmt: skip


def last_preauth(batch: "Any") -> str:
    """The STAN of the session's last pre-authorisation ("" when none)."""
    stan = ""
    for r in batch.records:
        if r["kind"] == "preauth":
            stan = r["stan"]
    return stan


def open_se(board: "Any", clock: "Any") -> "Any":
    from firmware.secure import for_board

    return for_board(board, clock)


def open_keys(se: "Any", doc: "dict") -> "Any":
    """``{"se": true, "mac": hex, "dukpt_block": TR-31 (optional)}``: the PIN
    in the secure element (the block loaded first when given, as a key loader
    does once); otherwise ``{"mac", "ik", "ikid"}`` in RAM (SoftKeys)."""
    mac = bytes.fromhex(doc["mac"])
    if doc.get("se"):
        from firmware.app.keys import SeKeys

        if doc.get("dukpt_block"):
            se.load_dukpt(doc["dukpt_block"])
        return SeKeys(se, mac)
    return SoftKeys(mac, bytes.fromhex(doc["ik"]), bytes.fromhex(doc["ikid"]))


def open_fiscal(board: "Any", clock: "Any", se: "Any", doc: "dict", tax: "Any") -> "Any":
    """The fiscal journal on the board's fiscal flash, signed by the SE:
    ``{"device_id", "fiscalise": bool, "rate_bp", "z_limit_s"}``.  With
    ``fiscalise`` (a new terminal's first run) an erased flash gets its file
    system, the SE its signing key and the flash its journal; an existing
    journal is only ever opened.  Prints ``FISCAL {"device_id",
    "public_key", "status"}``.  ``tax`` (``{"deadline_ms"}``, or None): the
    records go to the tax backend on the board's ``tax`` link as they are
    written (firmware/fiscal/uploader.py)."""
    from firmware.app.fiscal_link import FiscalLink
    from firmware.fiscal.journal import Journal

    fiscalise = bool(doc.get("fiscalise"))
    fs = board.fiscal_fs(format_if_needed=fiscalise)
    now = clock.now()
    if fiscalise:
        if "journal" not in fs.listdir():
            fs.mkdir("journal")
        if not fs.sub("journal").listdir():
            Journal.format(fs.sub("journal"), doc["device_id"], now)
        try:
            public = se.public_key()
        except Exception:  # no key in the slot yet: personalise it
            public = se.generate_key()
    else:
        public = se.public_key()
    journal = Journal.open(fs.sub("journal"), se, now, z_limit_s=doc.get("z_limit_s", 86400))
    emit("FISCAL", {"device_id": journal.device_id, "public_key": _hex(public),
                    "status": journal.status()})  # fmt: skip
    uploader = None
    if tax is not None:  # the tax backend on the board's ``tax`` link (docs/tax.md)
        from firmware.fiscal.uploader import Uploader
        from firmware.net.http import HttpClient

        dial = board.dialer("tax")
        http = HttpClient(dial, dial.authority, clock, tax.get("deadline_ms", 30000),
                          peer="tax backend")  # fmt: skip
        uploader = Uploader(http, journal, se, journal.device_id, fs)
    return FiscalLink(journal, clock, doc.get("rate_bp", 1600), uploader=uploader, fs=fs)


def open_owed(fiscal: "Any", se: "Any") -> "Any":
    """What the terminal owes the host, sealed by the SE on the fiscal
    flash (firmware/app/owed.py); None without the flash."""
    if fiscal is None or se is None:
        return None
    from firmware.app.owed import OwedStore

    fs = fiscal.fs
    if "owed" not in fs.listdir():
        fs.mkdir("owed")
    return OwedStore(fs.sub("owed"), se)


def main() -> int:
    if len(sys.argv) > 1:  # a session file (payterm fw run closes stdin)
        with open(sys.argv[1]) as f:
            session = json.load(f)
    else:
        line = sys.stdin.readline()
        if not line.strip():
            print("firmware.app: no session (one JSON line on stdin, or a file argument)")
            return 2
        session = json.loads(line)
    board = boards.open_board("sim")
    clock = board.rtc()
    try:
        se = None
        if session["keys"].get("se") or session.get("fiscal"):
            se = open_se(board, clock)
        keys = open_keys(se, session["keys"])
        fiscal = None
        if session.get("fiscal"):
            fiscal = open_fiscal(board, clock, se, session["fiscal"], session.get("tax"))
        online = Online(board.bus_for("acquirer"), PAYTERM_1987, keys, clock,
                        session.get("host_timeout_ms", 15000))  # fmt: skip
        screen = None
        if session.get("display"):
            from firmware.drivers.display import Screen

            screen = Screen(board.display())
        nfc = contact = printer = None
        if session.get("nfc", True):
            from firmware.drivers.pn532 import for_board

            nfc = for_board(board, clock)
            nfc.start()
        if session.get("contact", True):
            from firmware.drivers.iso7816 import CardReader

            timing = session.get("card_reader", {})  # tests: a faster clock, shorter waits
            clock_hz = timing.get("clock_hz", board.device("card_reader")["clock_hz"])
            contact = CardReader(board.bus_for("card_reader"), clock_hz=clock_hz,
                                 min_wait_ms=timing.get("min_wait_ms", 200))  # fmt: skip
        if session.get("printer", True):
            from firmware.drivers.printer import Printer, for_board

            printer = Printer(board.bus_for("printer"), profile=for_board(board.device("printer")),
                              clock=clock)  # fmt: skip
            # now, while the heap is whole: the font is one 11 KB block that a
            # heap fragmented by the first sale may no longer have
            printer.load_font()
        inputs = ScriptInput()
        ui = Ui(screen, emit)
        owed = open_owed(fiscal, se)
        batch = Batch(session.get("batch", 1), owed)
        if owed is not None:
            emit("OWED", {"reversals": len(batch.reversals), "advices": len(batch.advices),
                          "stan": batch._stan, "unreadable": owed.unreadable})  # fmt: skip
        terminal = Terminal(session["terminal"], online, keys, ui, inputs, clock, os.urandom, batch,
                            nfc, contact, printer)  # fmt: skip
        terminal.fiscal = fiscal
        service = None
        if session.get("service"):  # the technician's port (docs/service.md)
            service = open_service(board, se, fiscal, session["service"])
        if printer is not None:
            terminal.reserve_receipt_memory(RECEIPT_RESERVE)
        if session.get("traces", True):
            terminal.trace_sink = emit_trace
        for step in session["steps"]:
            op = step["op"]
            inputs.pins = list(step.get("pins", ()))
            if op in ("sale", "refund", "preauth"):
                result = terminal.sale(step["amount"], step.get("card", "tap"), op)
            elif op == "sign_on":
                result = terminal.sign_on()
            elif op == "echo":
                result = terminal.echo()
            elif op == "forward":
                result = terminal.forward()
                result["kind"] = "forward"
            elif op == "complete":
                result = terminal.complete(step.get("stan") or last_preauth(batch), step["amount"])
            elif op == "void":
                result = terminal.void(step.get("stan"))
            elif op == "batch_close":
                result = terminal.batch_close()
            elif op == "service":
                result = serve_port(service, clock, step.get("ms", 60000))
            else:
                raise ValueError("unknown step %r" % op)
            inputs.pins = []
            emit("RESULT", report(result) if op in ("sale", "refund", "preauth", "complete")
                 else result)  # fmt: skip
    finally:
        board.deinit()
    print("DONE")
    return 0


sys.exit(main())
