"""The SE channel driver on the sim board's real I2C-over-TCP bus: MicroPython
runs firmware/drivers/se over boards/sim/i2c.py; on the other end a minimal
secure element written here from docs/se.md (ECHO, RANDOM, RESEND; busy for
the first polls; one damaged response; address NACK while busy) answers
through the I2C framing of docs/boards.md.  It checks the contract of
docs/se.md end to end, which the SE emulator (hsm_sim/se) will implement."""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path
from typing import Any

import boards
from protocols import se_frame
from tools import mpytest

SIM_HEAP = boards.load("sim")["memory"]["heap"]


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


class MiniSE:
    """docs/se.md on the I2C framing, one connection, in a thread."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.response = b""
        self.pointer = 0
        self.busy_polls = 0
        self.damage_next = False
        self.nack_writes = 0
        self.requests: list[bytes] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _answer(self, request: bytes) -> None:
        cmd, payload = se_frame.decode(request)
        self.requests.append(request)
        if cmd == se_frame.CMD_RESEND:
            self.pointer = 0
            return
        if cmd == se_frame.CMD_ECHO:
            self.response = se_frame.encode_response(se_frame.ST_OK, payload)
        elif cmd == se_frame.CMD_RANDOM:
            self.response = se_frame.encode_response(se_frame.ST_OK, bytes(range(payload[0])))
        else:
            self.response = se_frame.encode_response(se_frame.ST_UNKNOWN_COMMAND)
        self.pointer = 0

    def _read(self, n: int) -> bytes:
        if self.busy_polls:
            self.busy_polls -= 1
            return se_frame.encode_response(se_frame.ST_BUSY)[:n].ljust(n, b"\x00")
        if n == se_frame.HEADER:
            self.pointer = 0
        out = self.response[self.pointer : self.pointer + n]
        self.pointer += n
        if self.damage_next and n > se_frame.HEADER:
            self.damage_next = False
            out = bytes([out[0] ^ 0x01]) + out[1:]
        return out

    def _run(self) -> None:
        try:
            conn, _ = self.sock.accept()
            conn.settimeout(20)
            with conn:
                while True:
                    try:
                        op, addr, _flags, length = struct.unpack(">BBBH", _recv_exact(conn, 5))
                    except EOFError:
                        return
                    if addr != 0x60:
                        conn.sendall(b"\x01\x00\x00")  # address NACK
                        if op == 0x57:
                            _recv_exact(conn, length)
                        continue
                    if op == 0x57:
                        data = _recv_exact(conn, length)
                        if self.nack_writes:
                            self.nack_writes -= 1
                            conn.sendall(b"\x01\x00\x00")
                            continue
                        self._answer(data)
                        conn.sendall(b"\x00" + struct.pack(">H", length))
                    elif op == 0x52:
                        out = self._read(length)
                        conn.sendall(b"\x00" + struct.pack(">H", len(out)) + out)
                    else:
                        conn.sendall(b"\x00\x00\x01\x60")  # scan: 0x60
        except BaseException as e:  # reported by finish()
            self.error = e

    def finish(self) -> None:
        self.thread.join(30)
        self.sock.close()
        if self.error is not None:
            raise self.error


SCRIPT = """
import json, boards
from firmware.drivers.se import SecureElement, SeStatusError
board = boards.open_board("sim")
se = SecureElement(board.bus_for("secure_element"), board.device("secure_element")["addr"],
                   board.rtc())
out = {"echo": se.echo(b"payterm").decode(), "random": se.random(5).hex()}
try:
    se.request(0x42)
except SeStatusError as e:
    out["status"] = [e.status, e.name]
out["stats"] = se.stats
print("OUT " + json.dumps(out))
board.deinit()
"""


def test_driver_over_the_sim_i2c_channel(tmp_path: Path) -> None:
    se = MiniSE()
    se.busy_polls = 2
    se.nack_writes = 1
    se.damage_next = True
    path = tmp_path / "se_script.py"
    path.write_text(SCRIPT)
    env = {"PAYTERM_SIM_I2C0": f"127.0.0.1:{se.port}"}
    proc = mpytest.run_script(path, SIM_HEAP, env=env, timeout=60)
    se.finish()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res: dict[str, Any] = {}
    for out in mpytest.json_lines(proc.stdout):
        res.update(out)
    assert res["echo"] == "payterm"
    assert res["random"] == "0001020304"
    assert res["status"] == [se_frame.ST_UNKNOWN_COMMAND, "UNKNOWN_COMMAND"]
    assert res["stats"] == {"nacks": 1, "busy": 2, "resends": 1, "retransmits": 0}
    # on the wire: ECHO (after one NACKed try), RESEND for the damaged answer,
    # RANDOM 5, the unknown command
    assert se.requests == [
        se_frame.encode_request(se_frame.CMD_ECHO, b"payterm"),
        se_frame.encode_request(se_frame.CMD_RESEND),
        se_frame.encode_request(se_frame.CMD_RANDOM, b"\x05"),
        se_frame.encode_request(0x42),
    ]
