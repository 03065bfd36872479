"""End to end: `payterm fiscal export --port` against the firmware's service
loop (``micropython -m firmware.service``) on the sim board, under real
MicroPython, its journal signed by the secure-element emulator over the
sim I2C channel.  The technician authenticates with a key made by
`payterm fiscal tech-key`; the export arrives with the SE-signed trailer and
`payterm fiscal verify` accepts it.  Another technician key is refused, an
unauthenticated EXPORT and malformed frames get protocol errors and the
service keeps serving.  The flash image of the same journal, exported on
the host, is the same bytes up to the trailer."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from se_support import SeServer

import boards
from payterm import cli
from protocols import p256
from protocols import service_frame as sf
from tools import fiscal_export as fe
from tools import mpytest

SIM_HEAP = boards.load("sim")["memory"]["heap"]
DEV = "PT-SIM-0099"
G_HEX = "04" + f"{p256.GX:064x}{p256.GY:064x}"  # a valid point (P-256's generator)

SETUP = """
import boards
from firmware.fiscal.journal import Journal
from firmware.service.runner import secure_element
import fiscal_scenario as S

board = boards.open_board("sim", flash_path=IMAGE)
fs = board.fiscal_fs("/fisc")
fs.mkdir("journal")
jfs = fs.sub("journal")
se = secure_element(board)
print("PUBLIC " + se.generate_key().hex())
Journal.format(jfs, DEV, S.T0)
j = Journal.open(jfs, se, S.T0)
S.representative(j, S.T0)
S.ack(j.sale([S.MILK, S.TEA], S.T0 + 110, 1))
fs.umount()
board.deinit()
print("DONE")
"""


def term_version() -> str:
    """firmware/service/runner.py's VERSION, read as text (host code does not
    import firmware/)."""
    src = (mpytest.REPO_ROOT / "firmware" / "service" / "runner.py").read_text()
    return src.split('VERSION = "', 1)[1].split('"', 1)[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = cli.main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


class Terminal:
    """The service loop under MicroPython, started as a technician finds it."""

    def __init__(self, image: Path, se_port: int, tech_hex: str, cwd: Path) -> None:
        self.port = _free_port()
        env = dict(os.environ)
        env.update(
            {
                "MICROPYPATH": str(mpytest.REPO_ROOT),
                "PAYTERM_SIM_FLASH": str(image),
                "PAYTERM_SIM_I2C0": f"127.0.0.1:{se_port}",
                "PAYTERM_SIM_UART0": f"listen:127.0.0.1:{self.port}",
                "PAYTERM_SERVICE_TECH_KEY": tech_hex,
            }
        )
        self.proc = subprocess.Popen(
            [mpytest.micropython_binary(), "-X", "heapsize=" + SIM_HEAP, "-m", "firmware.service"],
            cwd=str(cwd),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("SERVICE "):
            self.close()
            raise AssertionError(f"service did not start: {line!r} {self.stderr}")
        self.banner = line.split()

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr = self.proc.stderr.read() if self.proc.stderr else ""
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()


class Raw:
    """A bare TCP client on the service port, frames by hand."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.deframer = sf.Deframer()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self) -> tuple[int, bytes]:
        while True:
            got = self.deframer.next()
            if got is not None:
                return got
            chunk = self.sock.recv(4096)
            assert chunk, "service closed the line"
            self.deframer.feed(chunk)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def se(tmp_path: Path) -> Iterator[SeServer]:
    srv = SeServer(tmp_path / "se.json")
    yield srv
    srv.close()


def test_export_over_the_service_port(
    se: SeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    img = tmp_path / "fiscal.img"
    # the terminal's journal, signed by the SE
    script = tmp_path / "setup.py"
    script.write_text(f"IMAGE = {str(img)!r}\nDEV = {DEV!r}\n" + SETUP)
    proc = mpytest.run_script(
        script,
        SIM_HEAP,
        env={"PAYTERM_SIM_I2C0": f"127.0.0.1:{se.port}"},
        extra_path=[mpytest.MPY_TEST_DIR],
    )
    assert proc.returncode == 0 and "DONE" in proc.stdout, proc.stdout + proc.stderr
    device_pub = tmp_path / "device.hex"
    device_pub.write_text(next(ln[7:] for ln in proc.stdout.splitlines() if ln[:7] == "PUBLIC "))
    # two technicians; the terminal trusts the first
    tech, other = tmp_path / "tech.pem", tmp_path / "other.pem"
    code, doc = _cli(capsys, "fiscal", "tech-key", "--out", str(tech))
    assert code == 0 and len(str(doc["public_key_hex"])) == 130
    assert tech.stat().st_mode & 0o077 == 0
    tech_hex = str(doc["public_key_hex"])
    assert _cli(capsys, "fiscal", "tech-key", "--out", str(other))[0] == 0
    assert _cli(capsys, "fiscal", "tech-key", "--out", str(other))[0] == 2  # never overwritten

    term = Terminal(img, se.port, tech_hex, tmp_path)
    try:
        assert term.banner[1] == DEV
        out = tmp_path / "port.exp"
        t0 = time.monotonic()
        code, doc = _cli(
            capsys, "fiscal", "export", "--port", term.url, "--key", str(tech), "--out", str(out)
        )
        took = time.monotonic() - t0
        assert code == 0, doc
        assert doc["ok"] is True and doc["source"] == "port" and doc["device_id"] == DEV
        assert doc["signed_trailer"] is True and doc["bytes"] == out.stat().st_size
        with capsys.disabled():
            print(f"\nexport over the service port: {doc['bytes']} bytes in {took:.2f} s")
        code, res = _cli(capsys, "fiscal", "verify", str(out), "--pubkey", str(device_pub))
        assert code == 0, res
        assert res["valid"] is True and res["signed_trailer"] is True
        assert res["records"] == 11 and res["device_id"] == DEV

        # another technician's key is refused; nothing is written
        bad_out = tmp_path / "other.exp"
        code, doc = _cli(
            capsys,
            "fiscal",
            "export",
            "--port",
            term.url,
            "--key",
            str(other),
            "--out",
            str(bad_out),
        )
        assert code == 1 and "AUTH_FAILED" in str(doc["error"]) and not bad_out.exists()

        # by hand: open commands, refusals, malformed frames; the loop keeps serving
        raw = Raw(term.port)
        try:
            raw.send(sf.encode(sf.CMD_EXPORT))
            status, body = raw.answer()
            assert status == sf.ST_NOT_AUTHENTICATED and body == b"EXPORT needs AUTH"
            raw.send(b"AT+GARBAGE\r\n")
            status, body = raw.answer()
            assert status == sf.ST_BAD_FRAME and b"12 bytes outside a frame" in body
            broken = bytearray(sf.encode(sf.CMD_STATUS))
            broken[-1] ^= 0xFF
            raw.send(bytes(broken))
            assert raw.answer()[0] == sf.ST_BAD_FRAME
            raw.send(sf.encode(0x7E))
            assert raw.answer()[0] == sf.ST_UNKNOWN_COMMAND
            raw.send(sf.encode(sf.CMD_AUTH, bytes(64)))
            assert raw.answer() == (sf.ST_AUTH_FAILED, b"no challenge outstanding")
            raw.send(sf.encode(sf.CMD_STATUS))
            status, body = raw.answer()
            st = sf.decode_json(body)
            assert status == sf.ST_OK and st["device_id"] == DEV and st["seq"] == 11
            assert st["authenticated"] is False and st["locked"] is False
        finally:
            raw.close()
        # `payterm fiscal status`: open to anyone on the cable
        code, doc = _cli(capsys, "fiscal", "status", "--port", term.url)
        assert code == 0 and doc["device_id"] == DEV and doc["seq"] == 11
        assert doc["version"] == term_version() and doc["z_number"] == 1
        # the library client, a fresh session: HELLO then a full export again
        port = fe.open_port(term.url)
        try:
            client = fe.ServiceClient(port)
            hello = client.hello()
            assert hello["device_id"] == DEV and hello["protocol"] == 1
            assert hello["authenticated"] is False
            with pytest.raises(fe.ServiceError, match="NOT_AUTHENTICATED"):
                client.export()
            client.authenticate(fe.load_tech_key(tech.read_bytes()), DEV)
            data, signed, frames = client.export()
            assert signed and frames == -(-(len(data)) // 512)
        finally:
            port.close()
        assert term.alive()
    finally:
        term.close()

    port_export = out.read_bytes()
    # the same journal from its flash image: the same bytes up to the trailer
    img_out = tmp_path / "image.exp"
    code, doc = _cli(capsys, "fiscal", "export", "--image", str(img), "--out", str(img_out))
    assert code == 0, doc
    data = img_out.read_bytes()
    assert port_export[: len(data)] == data
    assert port_export[len(data) : len(data) + 7] == b"\x00\x00PTFE" + bytes([len(DEV)])
    code, res = _cli(
        capsys, "fiscal", "verify", str(img_out), "--pubkey", str(device_pub), "--no-trailer"
    )
    assert code == 0 and res["records"] == 11


def test_service_refuses_to_start_without_a_journal(se: SeServer, tmp_path: Path) -> None:
    """An unformatted flash is never formatted by the service loop."""
    img = tmp_path / "blank.img"
    with pytest.raises(AssertionError, match="service did not start"):
        Terminal(img, se.port, G_HEX, tmp_path)
    assert img.read_bytes().strip(b"\xff") == b""


def test_port_export_reports_a_silent_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listening: exit 1 with a JSON error."""
    tech = tmp_path / "tech.pem"
    assert _cli(capsys, "fiscal", "tech-key", "--out", str(tech))[0] == 0
    code, doc = _cli(
        capsys,
        "fiscal",
        "export",
        "--port",
        f"socket://127.0.0.1:{_free_port()}",
        "--key",
        str(tech),
        "--out",
        str(tmp_path / "x.exp"),
    )
    assert code == 1 and doc["ok"] is False and "cannot open" in str(doc["error"])
    code, doc = _cli(
        capsys,
        "fiscal",
        "export",
        "--port",
        "socket://127.0.0.1:1",
        "--key",
        str(tmp_path / "missing.pem"),
        "--out",
        str(tmp_path / "x.exp"),
    )
    assert code == 2
