"""``payterm demo``: the whole terminal as far as it exists, headless, on loopback.

The host half starts the acquirer host on a free loopback port, runs the
firmware's demo path (firmware/demo.py) under the real MicroPython unix port
with the sim board's heap cap and its network link pointed at that host, and
then checks everything the terminal produced with host-side code:
the power-on self-test, the sign-on the host journalled, the CliQ QR payload
(decoded and profile-checked), the QR symbol (rendered to PNG and read back by
zbar), and the receipt (printed on the virtual printer, its QR read back).
"""

from __future__ import annotations

import asyncio
import json
import os
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


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class DemoResult:
    checks: list[Check] = field(default_factory=list)
    artefacts: dict[str, str] = field(default_factory=dict)
    firmware: dict[str, Any] = field(default_factory=dict)

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
    return result


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
