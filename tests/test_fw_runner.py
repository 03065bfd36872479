"""The board runner (host_sim/runner) and ``payterm fw run``: every emulator
the sim board's data names started on a free loopback port, the firmware
under the real MicroPython unix port with the board's heap, wired together
through ``PAYTERM_SIM_<BUS>``; clean shutdown whatever ends the run.

Proves: behind the acquirer link stand a real HSM (TEST keys imported with
A6) and the acquirer host on a seeded SQLite file, and the secure-element
emulator holds the terminal's DUKPT key on i2c0, so ``payterm fw run --app
firmware.app --card PROFILE -- SESSION.json`` authorises card payments for
real (ARQCs and an online PIN from the SE verified through the HSM, posted
and settled in the database); firmware.demo runs to success (self-test, sign-on to the acquirer);
a firmware touching every bus reaches every emulator (PN532 + contactless
card, contact card reader, printer, display, status, acquirer) and each
emulator saw what it sent; a crash is a non-zero exit, a hang is stopped by
--timeout (124), SIGTERM/SIGINT to the runner stop everything (143/130); after
each run the MicroPython process is gone and no emulator port accepts a
connection; bad arguments exit 2.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from host_sim.runner import EXIT_TIMEOUT, Emulators, RunOptions, run
from payterm import cli
from protocols import escpos
from tools.mpytest import REPO_ROOT

FW_MODULE = (sys.executable, "-m", "payterm", "fw")
HANG_APP = "import time\nprint('hanging')\nwhile True:\n    time.sleep(0.05)\n"
CRASH_APP = """
import boards
board = boards.open_board("sim")
board.bus_for("acquirer")
raise RuntimeError("firmware fault 42")
"""
WIRING_APP = """
import json
import boards
from firmware.drivers.iso7816 import CardReader
from firmware.drivers.pn532 import for_board
from protocols import escpos
board = boards.open_board("sim")
r = {}
nfc = for_board(board)
nfc.start()
card = nfc.activate()
r["nfc_uid"] = card.uid.hex()
r["ppse"] = card.exchange_apdu(bytes.fromhex("00A404000E325041592E5359532E444446303100")).hex()
nfc.release()
reader = CardReader(board.bus_for("card_reader"))
r["atr"] = reader.power_on().raw.hex()
r["pse"] = reader.exchange_apdu(bytes.fromhex("00A404000E315041592E5359532E444446303100")).hex()
reader.power_off()
printer = board.bus_for("printer")
printer.write(b"\\x1b@WIRED\\n\\x1dV\\x00")
printer.write(b"\\x10\\x04\\x01")
printer.init(timeout=2000)
r["printer_status"] = printer.read(1).hex()
board.display().push(0, 0, 2, 1, b"\\xf8\\x00\\xf8\\x00")
board.status().beep(1000, 20)
from firmware.hostlink import HostLink
from protocols.iso8583_specs import PAYTERM_1987
link = HostLink(board.bus_for("acquirer"), PAYTERM_1987)
r["echo"] = link.exchange({"t": "0800", "11": "000777", "41": "PT000001", "70": "301"}).get("39")
board.deinit()
print(json.dumps(r))
"""


def _app(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "apps"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(text)
    return folder


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # only a zombie left


def _closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def _ports(info: dict[str, Any]) -> list[int]:
    """Every emulator's port, and the HSM's behind the acquirer host."""
    ports = [b["port"] for b in info["buses"].values() if b.get("emulator")]
    hsm = info["buses"].get("net0", {}).get("hsm")
    return ports + ([int(hsm.rsplit(":", 1)[1])] if hsm else [])


def _ready_line(err: str) -> dict[str, Any]:
    for line in err.splitlines():
        if line.startswith("{") and '"buses"' in line:
            parsed: dict[str, Any] = json.loads(line)
            return parsed
    raise AssertionError("no emulator line on stderr: " + err[-500:])


def test_demo_runs_with_every_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["fw", "run", "--board", "sim", "--timeout", "60"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    info = _ready_line(captured.err)
    buses = info["buses"]
    assert {b: buses[b]["emulator"] for b in buses} == {
        "uart0": None,  # the service port: the board listens
        "uart1": "pn532",
        "uart2": "escpos-printer",
        "uart3": "card-reader",
        "i2c0": "secure-element",
        "display": "panel",
        "keypad": "panel",
        "status": "panel",
        "net0": "acquirer",
    }
    assert buses["i2c0"]["serial"] == "PTSE-SIM-0001" and buses["i2c0"]["addr"] == 0x60
    assert buses["net0"]["seeded"] is True and buses["net0"]["hsm"].startswith("127.0.0.1:")
    assert buses["uart0"]["connect"].startswith("socket://127.0.0.1:")
    assert buses["uart1"]["cards"] == ["visa_qvsdc"]
    assert buses["uart3"]["card"] == "contact_offline_pin"
    assert len({b["port"] for b in buses.values() if "port" in b}) == 9  # all distinct
    assert info["firmware"]["cmd"][1:4] == ["-X", "heapsize=1M", "-m"]
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert report["selftest"] and all(t["ok"] for t in report["selftest"])
    assert report["sign_on"]["response_code"] == "00"
    assert _gone(info["firmware"]["pid"])
    assert all(_closed(p) for p in _ports(info))  # the HSM's included
    assert not Path(buses["net0"]["db"]).exists()  # the run folder is gone


TERMINAL = {
    "tid": "PT000001",
    "mid": "000000000123456",
    "name": "PAYTERM TEST SHOP",
    "name_ar": "متجر بيترم",
    "city": "AMMAN",
}


def _session(tmp_path: Path, steps: list[dict[str, Any]]) -> Path:
    """The session a key loader and a script would give the app: the MAC key
    in RAM, the PIN in the secure element (the runner's SE holds the key)."""
    from host_sim.acquirer import seed

    path = tmp_path / "session.json"
    keys = {"se": True, "mac": seed.terminal_mac_key("PT000001").hex()}
    doc = {"terminal": TERMINAL, "keys": keys, "host_timeout_ms": 10000, "steps": steps}
    path.write_text(json.dumps(doc))
    return path


def _results(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(x[7:]) for x in stdout.splitlines() if x.startswith("RESULT ")]


def test_fw_run_authorises_card_payments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``payterm fw run --app firmware.app --card mastercard_cda
    --contact-card contact_online_pin -- SESSION.json``: a CDA tap approved
    online (the HSM verified its ARQC), an inserted card whose PIN block the
    SE made, approved online (the HSM verified the PIN), a wrong PIN: 55;
    the batch closes with the host (0510 00)."""
    session = _session(
        tmp_path,
        [
            {"op": "sign_on"},
            {"op": "sale", "amount": 30000, "card": "tap"},
            {"op": "sale", "amount": 20000, "card": "insert", "pins": ["1234"]},
            {"op": "sale", "amount": 10000, "card": "insert", "pins": ["9999"]},
            {"op": "batch_close"},
        ],
    )
    argv = ["fw", "run", "--app", "firmware.app", "--card", "mastercard_cda"]
    argv += ["--contact-card", "contact_online_pin", "--timeout", "120", "--", str(session)]
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    sign_on, tap, insert, wrong, close = _results(captured.out)
    assert sign_on["code"] == "00"
    assert (tap["result"], tap["code"], tap["kernel"], tap["outcome"]) == (
        "approved",
        "00",
        2,
        "online request",
    )
    assert len(tap["auth_code"]) == 6 and tap["auth_code"] != "Y1"
    assert (insert["code"], insert["cvm_text"]) == ("00", "PIN VERIFIED ONLINE")
    assert (wrong["code"], wrong["message"]) == ("55", "incorrect_pin")
    assert close == {"kind": "batch_close", "batch": "000001", "totals": [2, 50000, 0, 0],
                     "code": "00"}  # fmt: skip
    assert "1234" not in captured.out and "9999" not in captured.out
    info = _ready_line(captured.err)
    assert _gone(info["firmware"]["pid"])
    assert all(_closed(p) for p in _ports(info))


def test_the_host_database_is_kept_and_continued(tmp_path: Path) -> None:
    """``db_path``: the host's SQLite file outlives the run; it holds what
    the firmware did (rows, balances, the batch), read back independently;
    a second run opens it as it is (not seeded again) and adds to it."""
    import sqlite3

    from host_sim.acquirer import seed
    from host_sim.acquirer.db import HostDb

    db_path = tmp_path / "kept.db"
    session = _session(
        tmp_path,
        [
            {"op": "sale", "amount": 30000, "card": "tap"},
            {"op": "sale", "amount": 60000, "card": "insert", "pins": ["1234"]},
            {"op": "refund", "amount": 5000, "card": "tap"},
            {"op": "batch_close"},
        ],
    )
    infos: list[dict[str, Any]] = []
    out: list[str] = []
    err: list[str] = []
    options = RunOptions(
        app="firmware.app",
        app_args=(str(session),),
        nfc_cards=["visa_qvsdc"],
        contact_card="contact_offline_pin",
        timeout=120,
        db_path=db_path,
    )
    code = run(options, on_ready=infos.append, out=out.append, err=err.append)
    assert code == 0, "".join(out) + "".join(err)
    tap, insert, refund, close = _results("".join(out))
    assert (tap["code"], insert["code"], refund["code"], close["code"]) == ("00",) * 4
    assert insert["cvm_text"] == "PIN VERIFIED"  # offline PIN, checked by the card
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute(
            "SELECT stan, mti, processing_code, amount, response_code, auth_code, status"
            " FROM transactions WHERE tid = 'PT000001' ORDER BY id"
        ).fetchall()
        batches = conn.execute(
            "SELECT batch_number, response_code, sales_count, sales_amount, refunds_count,"
            " refunds_amount FROM batches WHERE tid = 'PT000001'"
        ).fetchall()
    finally:
        conn.close()
    assert [(r[0], r[1], r[3], r[4], r[5]) for r in rows] == [
        (tap["stan"], "0200", 30000, "00", tap["auth_code"]),
        (insert["stan"], "0200", 60000, "00", insert["auth_code"]),
        (refund["stan"], "0200", 5000, "00", refund["auth_code"]),
    ]
    assert rows[2][2].startswith("20")  # the refund's processing code
    assert batches == [("000001", "00", 2, 90000, 1, 5000)]
    assert close["totals"] == [2, 90000, 1, 5000]
    db = HostDb(db_path)
    try:
        balances = {p: db.account_by_pan(seed.card_facts(p).pan) for p in ("visa_qvsdc",)}
        visa = balances["visa_qvsdc"]
        assert visa is not None
        start = seed.seed_data()["accounts"]["visa_qvsdc"]["balance"]
        assert visa.balance == start - 30000 + 5000
    finally:
        db.close()
    assert infos[0]["buses"]["net0"]["seeded"] is True
    again = _session(tmp_path, [{"op": "echo"}])
    out.clear()
    code = run(
        RunOptions(app="firmware.app", app_args=(str(again),), timeout=60, db_path=db_path),
        on_ready=infos.append,
        out=out.append,
        err=err.append,
    )
    assert code == 0 and _results("".join(out)) == [{"code": "00", "kind": "echo"}]
    assert infos[1]["buses"]["net0"]["seeded"] is False
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM transactions").fetchone() == (3,)
    finally:
        conn.close()


def test_without_a_bank_the_host_is_bare_and_i2c0_unconnected() -> None:
    """``RunOptions(bank=False)``: no HSM, no database, no SE; the bare
    acquirer host still answers the demo's sign-on."""
    infos: list[dict[str, Any]] = []
    out: list[str] = []
    err: list[str] = []
    code = run(RunOptions(bank=False, timeout=60), on_ready=infos.append, out=out.append,
               err=err.append)  # fmt: skip
    assert code == 0, "".join(err)
    buses = infos[0]["buses"]
    assert buses["i2c0"]["emulator"] is None and "no bank" in buses["i2c0"]["note"]
    assert buses["net0"]["emulator"] == "acquirer" and "hsm" not in buses["net0"]
    report = json.loads("".join(out).strip().splitlines()[-1])
    assert report["sign_on"]["response_code"] == "00"


def test_every_bus_reaches_its_emulator(tmp_path: Path) -> None:
    apps = _app(tmp_path, "wiring_app", WIRING_APP)
    seen: list[Emulators] = []
    out: list[str] = []
    err: list[str] = []
    code = run(
        RunOptions(app="wiring_app", extra_path=(apps,), timeout=60),
        out=out.append,
        err=err.append,
        on_emulators=seen.append,
    )
    assert code == 0, "".join(err)
    r = json.loads("".join(out).strip().splitlines()[-1])
    emus = seen[0].objects
    nfc_card = emus["uart1"].emulator.field.cards()[0]
    assert r["nfc_uid"] == nfc_card.uid.hex()
    assert r["ppse"].endswith("9000") and "325041592e5359532e4444463031" in r["ppse"]
    slot = emus["uart3"].slot
    assert r["atr"] == slot.card.atr.hex()
    assert r["pse"].endswith("9000") and "315041592e5359532e4444463031" in r["pse"]
    assert slot.log == ["insert", "cold", "off"]
    printer = emus["uart2"].printer
    assert [rc.text.strip() for rc in printer.receipts] == ["WIRED"]
    status = escpos.decode_status(1, bytes.fromhex(r["printer_status"]))  # DLE EOT 1
    assert status["offline"] is False
    panel = emus["display"]
    assert panel.rects == 1 and panel.last_rect == (0, 0, 2, 1)
    assert ("buzzer", 1000, 20) in panel.status_log
    acquirer = emus["net0"]
    assert r["echo"] == "00"
    assert [(e.mti, e.stan) for e in acquirer.journal] == [("0800", "000777")]


def test_crash_is_a_non_zero_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    apps = _app(tmp_path, "crash_app", CRASH_APP)
    code = cli.main(["fw", "run", "--app", "crash_app", "--path", str(apps), "--timeout", "30"])
    captured = capsys.readouterr()
    assert code == 1
    assert "RuntimeError: firmware fault 42" in captured.err
    info = _ready_line(captured.err)
    assert _gone(info["firmware"]["pid"])
    assert all(_closed(p) for p in _ports(info))
    assert _processes_using(apps) == []


def test_hang_is_stopped_by_the_timeout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    apps = _app(tmp_path, "hang_app", HANG_APP)
    started = time.monotonic()
    code = cli.main(["fw", "run", "--app", "hang_app", "--path", str(apps), "--timeout", "1"])
    took = time.monotonic() - started
    captured = capsys.readouterr()
    assert code == EXIT_TIMEOUT
    assert "did not finish in 1 s" in captured.err
    assert 1.0 <= took < 10
    info = _ready_line(captured.err)
    assert _gone(info["firmware"]["pid"])
    assert all(_closed(p) for p in _ports(info))
    assert _processes_using(apps) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_the_runner_stops_everything(tmp_path: Path, signum: int) -> None:
    apps = _app(tmp_path, "hang_app", HANG_APP)
    runner = subprocess.Popen(
        [*FW_MODULE, "run", "--app", "hang_app", "--path", str(apps)],
        cwd=str(REPO_ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the signal goes to the runner alone
    )
    try:
        assert runner.stderr is not None and runner.stdout is not None
        info = json.loads(runner.stderr.readline())
        assert runner.stdout.readline().strip() == "hanging"  # the firmware runs
        runner.send_signal(signum)
        code = runner.wait(20)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    assert code == 128 + signum
    assert _gone(info["firmware"]["pid"])
    assert all(_closed(p) for p in _ports(info))
    assert _processes_using(apps) == []


def _processes_using(folder: Path) -> list[str]:
    """Processes whose command line or environment (MICROPYPATH) names ``folder``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            text = (proc / "cmdline").read_bytes() + b"\0" + (proc / "environ").read_bytes()
        except OSError:
            continue
        if str(folder).encode() in text:
            found.append(proc.name)
    return found


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--board", "nosuch"],
        ["run", "--board", "esp32s3_pos"],
        ["run", "--card", "nosuch"],
        ["run", "--contact-card", "nosuch"],
        ["run", "--timeout", "0"],
        ["run", "--protocol", "T=2"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["fw", *argv]) == 2
    assert capsys.readouterr().out == ""


def test_db_option_keeps_the_seeded_host_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "kept" / "host.db"
    db.parent.mkdir()
    assert cli.main(["fw", "run", "--board", "sim", "--timeout", "60", "--db", str(db)]) == 0
    capsys.readouterr()
    with sqlite3.connect(db) as conn:
        terminals = conn.execute("SELECT count(*) FROM terminals").fetchone()[0]
        accounts = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
    assert terminals >= 1 and accounts >= 1
