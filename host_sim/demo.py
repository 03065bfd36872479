"""``payterm demo``: the whole terminal as far as it exists, headless, on loopback.

Part 1, the firmware's demo path.  The host half starts the acquirer host on
a free loopback port, runs the firmware's demo path (firmware/demo.py) under
the real MicroPython unix port with the sim board's heap cap and its network
link pointed at that host, and
then checks everything the terminal produced with host-side code:
the power-on self-test, the sign-on the host journalled, the CliQ QR payload
(decoded and profile-checked), the QR symbol (rendered to PNG and read back by
zbar), and the receipt (printed on the virtual printer, its QR read back).

Part 2, a morning of card sales (host_sim/morning.py): the terminal
application under MicroPython through the board runner, with the HSM, the
HSM-backed acquirer host on ``DIR/host.db`` and the secure element; every
sale, receipt and the batch close checked against the host's database.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boards
from host_sim.acquirer.server import AcquirerHost
from host_sim.printer import render
from payterm.qr_png import matrix_to_image
from protocols import emvqr
from protocols.emvqr_cliq import parse_cliq
from tools.mpytest import REPO_ROOT, micropython_binary

FIRMWARE_TIMEOUT_S = 60.0
TERMINAL_ID = "PT000001"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class DemoResult:
    checks: list[Check] = field(default_factory=list)
    artefacts: dict[str, Any] = field(default_factory=dict)
    firmware: dict[str, Any] = field(default_factory=dict)
    sales: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "artefacts": self.artefacts,
            "sales": self.sales,
        }


async def _run_firmware(port: int, amount: str, stan: str, heap: str) -> tuple[int, str, str]:
    env = dict(os.environ)
    env["MICROPYPATH"] = str(REPO_ROOT)
    env["PAYTERM_SIM_NET0"] = f"127.0.0.1:{port}"
    proc = await asyncio.create_subprocess_exec(
        micropython_binary(),
        "-X",
        "heapsize=" + heap,
        "-m",
        "firmware.demo",
        amount,
        stan,
        cwd=str(REPO_ROOT),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), FIRMWARE_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -1, "", f"firmware did not finish in {FIRMWARE_TIMEOUT_S:.0f} s"
    return proc.returncode or 0, out.decode(), err.decode()


async def _run(out_dir: Path, amount: str, stan: str) -> DemoResult:
    result = DemoResult()
    heap = boards.load("sim")["memory"]["heap"]
    host = AcquirerHost()
    server = await host.start("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        rc, out, err = await _run_firmware(port, amount, stan, heap)
    finally:
        server.close()
        await server.wait_closed()
    result.add(
        "firmware", rc == 0, f"MicroPython, heap {heap}, exit {rc}" + (f": {err}" if rc else "")
    )
    try:
        report = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except json.JSONDecodeError:
        result.add("firmware report", False, "not JSON: " + out[-300:])
        return result
    result.firmware = report
    _check_selftest(result, report)
    _check_sign_on(result, report, host, stan)
    if "qr" in report:
        _check_qr(result, report["qr"], amount, out_dir)
    if "receipt" in report:
        _check_receipt(result, bytes.fromhex(report["receipt"]), out_dir)
    await _morning_of_sales(result, out_dir)
    return result


def jod(fils: int) -> str:
    return f"{fils // 1000}.{fils % 1000:03d}"


async def _morning_of_sales(result: DemoResult, out_dir: Path) -> None:
    from host_sim.morning import run_morning

    db_path = out_dir / "host.db"
    terminal_dir = out_dir / "terminal"  # the board's run folder: fiscal.img, se.json
    terminal_dir.mkdir(exist_ok=True)
    for stale in ("fiscal.img", "se.json"):  # a new terminal, fiscalised by this run
        (terminal_dir / stale).unlink(missing_ok=True)
    tax = await Authorities.start(out_dir, terminal_dir)
    try:
        morning = await run_morning(
            db_path, workdir=terminal_dir, tax_endpoint=f"127.0.0.1:{tax.port}"
        )
        _check_morning(result, morning, out_dir, terminal_dir)
        _check_enrolment(result, morning, tax)
        _check_tax(result, morning, tax)
    finally:
        tax.stop()


def _check_morning(result: DemoResult, morning: Any, out_dir: Path, terminal_dir: Path) -> None:
    from host_sim.morning import MORNING

    db_path = out_dir / "host.db"
    results = [r for r in morning.results if r.get("kind") in ("sale", "refund")]
    others = {r["kind"]: r for r in morning.results if r.get("kind") not in ("sale", "refund")}
    done = morning.code == 0 and "DONE" in morning.stdout and not morning.errors
    result.add(
        "morning: firmware.app under the runner",
        done and len(results) == len(MORNING),
        f"exit {morning.code}, {len(results)} sales of {len(MORNING)}"
        + (f"; {morning.errors}" if morning.errors else "")
        + ("" if morning.code == 0 else ": " + morning.stderr[-400:]),
    )
    (out_dir / "app.log").write_text(morning.stdout, encoding="utf-8")
    result.artefacts["host_db"] = str(db_path)
    result.artefacts["app_log"] = str(out_dir / "app.log")
    sign_on = others.get("sign_on", {})
    result.add(
        "morning: sign-on to the HSM-backed host",
        sign_on.get("code") == "00",
        f"0810 39={sign_on.get('code')}",
    )
    if not db_path.exists():
        result.add("morning: host database", False, f"{db_path} missing")
        return
    _write_receipts(result, morning, results, out_dir)
    _write_traces(result, morning, out_dir)
    conn = sqlite3.connect(db_path)
    try:
        _check_sales(result, conn, results, db_path)
        _check_batch(result, conn, others.get("batch_close", {}))
    finally:
        conn.close()
    _check_fiscal(result, morning, results, others.get("batch_close", {}), terminal_dir, out_dir)


def _write_receipts(
    result: DemoResult, morning: Any, results: list[dict[str, Any]], out_dir: Path
) -> None:
    """Each receipt to PNG, named after its sale (the STAN it prints)."""
    from host_sim.acquirer import seed
    from host_sim.morning import MORNING

    folder = out_dir / "receipts"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    pans = [seed.card_facts(s.card).pan for s in MORNING]
    leaks = []
    paths: list[str] = []
    for index, (sale, got) in enumerate(zip(MORNING, results, strict=False)):
        stan = got.get("stan")
        mine = [r for r in morning.receipts if stan and f"STAN {stan}\n" in r.text]
        pngs: list[str] = []
        row: dict[str, Any] = {
            "kind": got.get("kind"),
            "label": sale.label,
            "card": sale.card,
            "interface": sale.interface,
            "amount": jod(int(got.get("amount", 0))),
            "result": got.get("result"),
            "response_code": got.get("code"),
            "auth_code": got.get("auth_code"),
            "stan": got.get("stan"),
            "rrn": got.get("rrn"),
            "pan_masked": got.get("pan_masked"),
            "receipt_png": pngs,
        }
        for receipt in mine:
            copy = "merchant" if "MERCHANT COPY" in receipt.text else "customer"
            png = folder / f"{index + 1}-{got.get('stan')}-{copy}.png"
            receipt.save_png(png)
            pngs.append(str(png))
            paths.append(str(png))
            if any(pan in receipt.text for pan in pans):
                leaks.append(png.name)
        result.sales.append(row)
    # merchant and customer copies of an approval; a customer copy of a
    # decline once the card was read (docs/app.md, "Receipts"); none otherwise
    want = [2 if r.get("result") == "approved" else int("pan_masked" in r) for r in results]
    got_counts = [len(row["receipt_png"]) for row in result.sales]
    result.artefacts["receipts"] = paths
    result.add(
        "morning: receipts printed on the virtual printer",
        got_counts == want and len(paths) == len(morning.receipts) and not leaks,
        f"{len(paths)} PNGs (per sale {got_counts}, want {want})"
        + (f"; full PAN on {leaks}" if leaks else "; PAN masked on every one"),
    )


def _write_traces(result: DemoResult, morning: Any, out_dir: Path) -> None:
    """The EMV trace the terminal exported for each sale (its ``TRACE``
    lines: tools/emv_traces.py), one JSON file per sale; checked against
    what the card saw (traced at the virtual card): the same commands in the
    same order (a VERIFY's PIN masked by the terminal) and the same answers
    (PAN masked on both sides)."""
    from host_sim.acquirer import seed
    from host_sim.morning import MORNING
    from tools import emv_traces

    folder = out_dir / "emv"
    folder.mkdir(exist_ok=True)
    for old in [*folder.glob("*.txt"), *folder.glob("*.json")]:
        old.unlink()
    paths = []
    leaks = []
    differ = []
    traces = morning.app_traces
    for index, (sale, card_lines) in enumerate(zip(MORNING, morning.traces, strict=True)):
        if index >= len(traces):
            break
        trace = traces[index]
        path = folder / f"{index + 1}-{sale.card}.json"
        path.write_text(json.dumps(trace, indent=1) + "\n", encoding="utf-8")
        paths.append(str(path))
        if seed.card_facts(sale.card).pan in path.read_text():
            leaks.append(path.name)
        if not _same_apdus(trace, card_lines):
            differ.append(path.name)
        if index < len(result.sales):
            result.sales[index]["emv_trace"] = str(path)
    result.artefacts["emv_traces"] = paths
    counts = [emv_traces.summary(t)["apdus"] for t in traces]
    result.add(
        "morning: EMV traces exported by the terminal",
        len(traces) == len(MORNING) and all(counts) and not leaks and not differ,
        f"{len(traces)} traces, APDUs per sale {counts}"
        + (f"; PAN in clear in {leaks}" if leaks else "; PAN masked")
        + (f"; differ from the card's in {differ}" if differ else "; equal to what the cards saw"),
    )


def _same_apdus(trace: dict[str, Any], card_lines: list[str]) -> bool:
    """The terminal's trace against the card's: every character equal
    except where the terminal masked (``*``)."""
    card = [line[7:] for line in card_lines]
    mine = [a["hex"] for a in trace["apdus"]]
    if len(card) != len(mine):
        return False
    for theirs, ours in zip(card, mine, strict=True):
        if len(theirs) != len(ours):
            return False
        if any(a != b and b != "*" and a != "*" for a, b in zip(theirs, ours, strict=True)):
            return False
    return True


def _host_row(conn: sqlite3.Connection, stan: str) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(
        "SELECT mti, processing_code, amount, response_code, auth_code, status"
        " FROM transactions WHERE tid = ? AND stan = ? AND mti = '0200'",
        (TERMINAL_ID, stan),
    ).fetchone()
    return row


def _apdus(trace: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    """(command, response) pairs of a terminal's trace whose command starts with ``prefix``."""
    apdus = trace.get("apdus", [])
    pairs = zip(apdus[0::2], apdus[1::2], strict=False)
    return [(c["hex"], r["hex"]) for c, r in pairs if c["hex"].startswith(prefix)]


def _check_sales(
    result: DemoResult, conn: sqlite3.Connection, results: list[Any], db_path: Path
) -> None:
    from host_sim.acquirer import seed
    from host_sim.acquirer.db import HostDb
    from host_sim.morning import MORNING

    moved: dict[str, int] = {}
    for index, (sale, got) in enumerate(zip(MORNING, results, strict=False)):
        row = _host_row(conn, str(got.get("stan")))
        trace = result_traces(result, index)
        code = got.get("code")
        if sale.label.startswith("contact, wrong"):
            ok = (
                code == "55"
                and got.get("result") == "declined"
                and row is not None
                and row[3:] == ("55", "", "declined")
            )
            detail = f"55 {got.get('message')}, the PIN block from the SE, host row {row}"
        else:
            want_pcode = "20" if sale.op == "refund" else "00"
            ok = (
                code == "00"
                and got.get("result") == "approved"
                and row is not None
                and row[0] == "0200"
                and str(row[1]).startswith(want_pcode)
                and row[2] == sale.amount
                and row[3:] == ("00", got.get("auth_code"), "approved")
            )
            detail = f"{jod(sale.amount)} JOD, 00, auth {got.get('auth_code')}"
            if sale.card == "visa_qvsdc" and sale.op == "sale":
                ok = ok and got.get("kernel") == 3 and got.get("outcome") == "online request"
                detail += ", Kernel 3, ARQC verified by the HSM"
            if sale.card == "mastercard_cda":
                cda = [c for c, _ in _apdus(trace, "80AE") if int(c[4:6], 16) & 0x10]
                ok = ok and got.get("kernel") == 2 and bool(cda)
                detail += f", Kernel 2, GENERATE AC with CDA requested ({len(cda)})"
            if sale.interface == "insert":
                verify = _apdus(trace, "00200080")
                ok = (
                    ok
                    and got.get("cvm_text") == "PIN VERIFIED"
                    and [r for _, r in verify] == ["9000"]
                )
                detail += ", offline plaintext PIN VERIFY 9000, ARPC and TC"
            if sale.op == "refund":
                detail += ", processing code 20"
            if code == "00":
                sign = 1 if sale.op == "refund" else -1
                moved[sale.card] = moved.get(sale.card, 0) + sign * sale.amount
        result.add(f"morning: {sale.label}", ok, detail)
    db = HostDb(db_path)
    try:
        wrong = []
        for profile, delta in sorted(moved.items()):
            account = db.account_by_pan(seed.card_facts(profile).pan)
            start = int(seed.seed_data()["accounts"][profile]["balance"])
            if account is None or account.balance != start + delta:
                wrong.append(profile)
        result.add(
            "morning: balances moved by exactly the approved amounts",
            not wrong and bool(moved),
            ", ".join(f"{p} {'-' if d < 0 else '+'}{jod(abs(d))} JOD" for p, d in moved.items())
            + (f"; wrong: {wrong}" if wrong else ""),
        )
    finally:
        db.close()


def result_traces(result: DemoResult, index: int) -> dict[str, Any]:
    path = result.sales[index].get("emv_trace") if index < len(result.sales) else None
    if not path:
        return {}
    doc: dict[str, Any] = json.loads(Path(path).read_text())
    return doc


def _check_batch(result: DemoResult, conn: sqlite3.Connection, close: dict[str, Any]) -> None:
    rows = conn.execute(
        "SELECT batch_number, response_code, sales_count, sales_amount, refunds_count,"
        " refunds_amount FROM batches WHERE tid = ?",
        (TERMINAL_ID,),
    ).fetchall()
    host = conn.execute(
        "SELECT processing_code, amount FROM transactions WHERE tid = ? AND mti = '0200'"
        " AND status = 'approved'",
        (TERMINAL_ID,),
    ).fetchall()
    sales = [a for p, a in host if not str(p).startswith("20")]
    refunds = [a for p, a in host if str(p).startswith("20")]
    from_rows = [len(sales), sum(sales), len(refunds), sum(refunds)]
    summary = [r for r in result.sales if r.get("response_code") == "00"]
    from_summary = [
        sum(1 for r in summary if r["kind"] == "sale"),
        sum(_fils(r["amount"]) for r in summary if r["kind"] == "sale"),
        sum(1 for r in summary if r["kind"] == "refund"),
        sum(_fils(r["amount"]) for r in summary if r["kind"] == "refund"),
    ]
    totals = close.get("totals")
    ok = (
        close.get("code") == "00"
        and len(rows) == 1
        and list(rows[0][2:]) == totals == from_rows == from_summary
        and rows[0][1] == "00"
    )
    result.artefacts["batch"] = {
        "batch": close.get("batch"),
        "totals": totals,
        "code": close.get("code"),
    }
    result.add(
        "morning: batch closed, totals equal the host's",
        ok,
        f"0500 batch {close.get('batch')} totals {totals} -> 39={close.get('code')};"
        f" host batches row {list(rows[0][2:]) if rows else None},"
        f" host transactions {from_rows}",
    )


def _check_fiscal(
    result: DemoResult,
    morning: Any,
    results: list[dict[str, Any]],
    close: dict[str, Any],
    terminal_dir: Path,
    out_dir: Path,
) -> None:
    """The fiscal side of the morning: a signed record per approved sale and
    refund, its QR on the receipts verifying offline, the Z report at the
    batch close; the journal exported from the board's flash image
    (``DIR/fiscal/journal.ptfx``) and verified with the SE's public key."""
    from tools import fiscal_export, fiscal_verify

    folder = out_dir / "fiscal"
    folder.mkdir(exist_ok=True)
    device = morning.fiscal.get("device_id")
    point = morning.fiscal.get("public_key", "")
    approved = [r for r in results if r.get("result") == "approved"]
    seqs = [r.get("fiscal_seq") for r in approved]
    unrecorded = [r.get("stan") for r in results if r.get("result") != "approved"
                  and r.get("fiscal_seq") is not None]  # fmt: skip
    z = close.get("z_report") or {}
    result.add(
        "fiscal: a signed record per approved sale and refund, Z report at the batch close",
        bool(device)
        and seqs == list(range(1, len(approved) + 1))
        and not unrecorded
        and z.get("seq") == len(approved) + 1
        and z.get("z_number") == 1,
        f"device {device}, records {seqs}, Z report {z or close.get('z_error')}",
    )
    if not point:
        return
    (folder / "se-public-key.hex").write_text(point + "\n")
    key = fiscal_verify.load_public_key(point.encode())
    # the receipts' QR codes, read by zbar from the printed PNGs
    checked = []
    for row in result.sales:
        for png in row.get("receipt_png", []):
            text = _zbar(Path(png))
            if text and text.startswith("PTF1:"):
                try:
                    fields = fiscal_verify.verify_receipt(text, key)
                    checked.append(int(str(fields.get("seq"))))
                except ValueError as exc:
                    checked.append(-1)
                    result.add("fiscal: receipt QR", False, f"{png}: {exc}")
    result.add(
        "fiscal: receipt QR codes read by zbar verify offline",
        sorted(set(checked)) == seqs and -1 not in checked,
        f"{len(checked)} receipt QR codes, records {sorted(set(checked))}",
    )
    try:
        exported = fiscal_export.export_image(terminal_dir / "fiscal.img")
    except Exception as exc:  # ImageError: reported as a failed check
        result.add("fiscal: journal exported from the flash image", False, str(exc))
        return
    path = folder / "journal.ptfx"
    path.write_bytes(exported.data)
    verdict = fiscal_verify.verify(exported.data, key, require_trailer=False)
    result.artefacts["fiscal"] = {
        "device_id": device,
        "public_key": str(folder / "se-public-key.hex"),
        "export": str(path),
        "flash_image": str(terminal_dir / "fiscal.img"),
        "records": verdict.records,
        "z_reports": verdict.z_reports,
    }
    result.add(
        "fiscal: journal exported from the flash image verifies",
        verdict.ok and verdict.records == len(approved) + 1 and verdict.z_reports == 1,
        f"{path.name}: {verdict.records} records, types {verdict.types},"
        f" {verdict.signatures_checked} signatures"
        + ("" if verdict.ok else f"; {verdict.problem}"),
    )


@dataclass
class Authorities:
    """The authorities of the demo, on loopback: the TSM (hsm_sim/tsm, SQLite
    at ``DIR/tsm.sqlite``) and the tax backend (host_sim/tax, SQLite at
    ``DIR/tax.sqlite``), which trusts the TSM's CA and asks it for device
    status.  At the "factory" the terminal enrols: its secure element makes
    its signing key and the TSM certifies it (``firmware.ota.enrol`` under
    MicroPython through the board runner); the tax authority then registers
    the device with that certificate."""

    store: Any
    running: Any
    client: Any
    tsm_store: Any
    tsm: Any
    public_key: str
    enrolment: dict[str, Any]
    folder: Path

    @classmethod
    async def start(cls, folder: Path, terminal_dir: Path) -> Authorities:
        import secrets

        from host_sim.morning import FISCAL_DEVICE
        from host_sim.tax.app import Config, create_app
        from host_sim.tax.client import TaxClient
        from host_sim.tax.server import Running
        from host_sim.tax.store import TaxStore
        from hsm_sim.tsm import app as tsm_app
        from hsm_sim.tsm.keys import TsmKeys
        from hsm_sim.tsm.status_client import TsmStatusClient
        from hsm_sim.tsm.store import TsmStore

        for name in ("tax.sqlite", "tsm.sqlite"):
            db = folder / name
            for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
                stale.unlink(missing_ok=True)
        keys = TsmKeys.generate()
        tsm_store = TsmStore(str(folder / "tsm.sqlite"))
        tsm = Running(tsm_app.create_app(tsm_store, keys, tsm_app.Config(secrets.token_hex(16))))
        store: Any = None
        running: Any = None
        try:
            enrolment = await _enrol(terminal_dir, FISCAL_DEVICE, tsm.port)
            token = secrets.token_urlsafe(16)
            store = TaxStore(str(folder / "tax.sqlite"))
            config = Config(token, ca=keys.ca_cert, tsm=TsmStatusClient(tsm.url))
            running = Running(create_app(store, config))
            client = TaxClient(running.url, token)
            answer = client.register(
                FISCAL_DEVICE, enrolment["public_key"], certificate=enrolment["certificate"]
            )
            if answer.status != 201:
                raise RuntimeError(f"tax backend refused the registration: {answer!r}")
        except BaseException:
            for server in (running, tsm):
                if server is not None:
                    server.stop()
            for opened in (store, tsm_store):
                if opened is not None:
                    opened.close()
            raise
        return cls(
            store, running, client, tsm_store, tsm, enrolment["public_key"], enrolment, folder
        )

    @property
    def port(self) -> int:
        return int(self.running.port)

    def stop(self) -> None:
        self.running.stop()
        self.store.close()
        self.tsm.stop()
        self.tsm_store.close()


async def _enrol(terminal_dir: Path, serial: str, tsm_port: int) -> dict[str, Any]:
    """The factory step: ``firmware.ota.enrol SERIAL`` on the sim board with
    its secure element (the runner's bank) and its ``tsm`` link."""
    import tempfile

    from host_sim.runner import RunOptions, run_async

    out: list[str] = []
    err: list[str] = []
    with tempfile.TemporaryDirectory(prefix="payterm-factory-") as tmp:
        options = RunOptions(
            app="firmware.ota.enrol",
            app_args=(serial,),
            nfc_cards=[],
            contact_card=None,
            timeout=60.0,
            db_path=Path(tmp) / "host.db",
            workdir=terminal_dir,
            handle_signals=False,
            endpoints={"net1": f"127.0.0.1:{tsm_port}"},
        )
        code = await run_async(options, None, out.append, err.append)
    lines = [x for x in "".join(out).splitlines() if x.startswith("ENROLLED ")]
    if code != 0 or not lines:
        raise RuntimeError(
            f"enrolment failed (exit {code}): {''.join(out)[-400:]}{''.join(err)[-400:]}"
        )
    doc: dict[str, Any] = json.loads(lines[0][9:])
    return doc


def _check_enrolment(result: DemoResult, morning: Any, tax: Authorities) -> None:
    """The device's lifecycle so far: the TSM certified the secure element's
    key (X.509 from its CA), the tax authority registered the device with
    that certificate, the TSM says it is active, and the key that signed the
    day's records is the certified one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from host_sim.morning import FISCAL_DEVICE
    from hsm_sim.tsm.status_client import TsmStatusClient

    enrol = tax.enrolment
    cert = x509.load_pem_x509_certificate(str(enrol["certificate"]).encode())
    point = cert.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    device = tax.client.device(FISCAL_DEVICE).json()
    status = TsmStatusClient(tax.tsm.url).device(FISCAL_DEVICE, fresh=True)
    signing = str(morning.fiscal.get("public_key", "")).lower()
    pem = tax.folder / "device-cert.pem"
    pem.write_text(str(enrol["certificate"]))
    result.artefacts["device_certificate"] = str(pem)
    result.add(
        "tsm: the secure element's key certified, the device registered with its certificate",
        point.hex() == str(enrol["public_key"]).lower() == signing
        and FISCAL_DEVICE in str(device.get("certificate_subject"))
        and status.status == "active",
        f"certificate {enrol.get('cert_serial')} for {cert.subject.rfc4514_string()},"
        f" TSM status {status.status}, tax registration {device.get('status')}",
    )


def _check_tax(result: DemoResult, morning: Any, tax: Authorities) -> None:
    """What the tax backend holds after the morning: every record the
    terminal wrote (each upload's answer in its RESULT), once, verified
    (chain, signatures, counters, the Z report's root), no alert, the audit
    log's chain intact."""
    from host_sim.morning import FISCAL_DEVICE

    uploads = [r["upload"] for r in morning.results if r.get("upload") is not None]
    seqs = [u.get("last_seq") for u in uploads]
    accepted = sum(int(u.get("accepted", 0)) for u in uploads)
    device = tax.client.device(FISCAL_DEVICE).json()
    alerts = tax.client.alerts(FISCAL_DEVICE)
    audit = tax.client.admin("GET", "/v1/audit/verify").json()
    errors = [u["error"] for u in uploads if u.get("error")]
    result.artefacts["tax_db"] = str(tax.store.path)
    result.add(
        "tax: every record uploaded as it was written, verified, no alert",
        bool(uploads)
        and not errors
        and seqs == list(range(1, len(uploads) + 1))
        and accepted == device.get("records") == device.get("last_seq") == len(uploads)
        and str(morning.fiscal.get("public_key", "")).lower() == tax.public_key.lower()
        and alerts == []
        and bool(audit.get("valid", audit.get("ok"))),
        f"{len(uploads)} uploads (records {seqs}), backend holds {device.get('records')}"
        f" (last seq {device.get('last_seq')}), alerts {len(alerts)}, audit {audit}"
        + (f"; errors {errors}" if errors else ""),
    )


def _fils(amount: str) -> int:
    whole, _, frac = amount.partition(".")
    return int(whole) * 1000 + int(frac)


def _check_receipt(result: DemoResult, escpos: bytes, out_dir: Path) -> None:
    """Print the terminal's ESC/POS bytes on the virtual printer; the printed
    QR must read back as the same CliQ payload."""
    path = out_dir / "receipt.escpos"
    path.write_bytes(escpos)
    result.artefacts["receipt"] = str(path)
    printer = render(escpos)
    if len(printer.receipts) != 1:
        result.add("receipt printed", False, f"{len(printer.receipts)} receipts, want 1")
        return
    png = out_dir / "receipt.png"
    printer.receipts[0].save_png(png)
    result.artefacts["receipt_png"] = str(png)
    read_back = _zbar(png)
    want = result.artefacts.get("qr_payload")
    warnings = [str(w) for w in printer.warnings]
    result.add(
        "receipt printed, its QR read back by zbar",
        read_back is not None and read_back == want and not warnings,
        f"{len(printer.receipts[0].lines)} lines"
        + (f"; warnings {warnings}" if warnings else "")
        + ("" if read_back == want else f"; zbar read {read_back!r}"),
    )


def _check_selftest(result: DemoResult, report: dict[str, Any]) -> None:
    tests = report.get("selftest", [])
    failed = [t["name"] for t in tests if not t["ok"]]
    names = ", ".join(t["name"] for t in tests)
    result.add(
        "power-on self-test", bool(tests) and not failed, f"failed: {failed}" if failed else names
    )


def _check_sign_on(
    result: DemoResult, report: dict[str, Any], host: AcquirerHost, stan: str
) -> None:
    sign_on = report.get("sign_on", {})
    journalled = [e for e in host.journal if e.mti == "0800" and e.stan == stan]
    ok = sign_on.get("response_code") == "00" and len(journalled) == 1
    result.add(
        "sign-on to acquirer",
        ok,
        f"0800 stan {stan} -> 39={sign_on.get('response_code')}, journalled {len(journalled)}",
    )


def _check_qr(result: DemoResult, qr_report: dict[str, Any], amount: str, out_dir: Path) -> None:
    payload = qr_report["payload"]
    try:
        decoded = emvqr.decode(payload)
        cliq = parse_cliq(payload)
        ok = decoded.crc_ok() and cliq.amount == amount and cliq.dynamic
        result.add(
            "CliQ QR payload",
            ok,
            f"CRC {decoded.crc}, alias {cliq.alias}, amount {cliq.amount} JOD",
        )
    except ValueError as exc:
        result.add("CliQ QR payload", False, str(exc))
        return
    matrix = [bytes.fromhex(row) for row in qr_report["rows"]]
    png = out_dir / "cliq-qr.png"
    matrix_to_image(matrix).save(png)
    result.artefacts["qr_png"] = str(png)
    result.artefacts["qr_payload"] = payload
    read_back = _zbar(png)
    result.add(
        "QR symbol read back by zbar",
        read_back == payload,
        f"version {qr_report['version']}-{qr_report['ecc']} mask {qr_report['mask']}"
        + ("" if read_back == payload else f"; zbar read {read_back!r}"),
    )


def _zbar(png: Path) -> str | None:
    from PIL import Image
    from pyzbar import pyzbar

    with Image.open(png) as image:
        symbols = pyzbar.decode(image)
    return symbols[0].data.decode("utf-8") if symbols else None


def run(out_dir: Path, amount: str = "12.500", stan: str = "000001") -> DemoResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_run(out_dir, amount, stan))


if __name__ == "__main__":
    res = run(Path(sys.argv[1] if len(sys.argv) > 1 else "out/demo"))
    print(json.dumps(res.to_json(), indent=2))
