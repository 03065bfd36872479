"""Board data and the sim board's wires, driven from CPython.

The bus tests start a real TCP server on 127.0.0.1 (port 0), run a script
under the real MicroPython unix port with the sim board's heap cap, and let
the server assert the exact bytes the board put on the wire.
"""

from __future__ import annotations

import copy
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import boards
from tools import mpytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SIM = boards.load("sim")
SIM_HEAP = SIM["memory"]["heap"]

# A PN532 HSU wake-up preamble followed by GetFirmwareVersion (UM0701-02 §6.2.2).
PN532_WAKE_GETFW = bytes.fromhex("5555000000000000000000000000000000ff02fed4022a00")


# -- board data -----------------------------------------------------------------
@pytest.mark.parametrize("name", boards.BOARD_NAMES)
def test_every_board_definition_is_sound(name: str) -> None:
    cfg = boards.load(name)
    assert cfg["name"] == name
    assert boards.validate(cfg) == []
    assert (REPO_ROOT / "boards" / name / "hal.py").exists()
    assert cfg["hal"] == f"boards.{name}.hal"
    assert boards.parse_size(cfg["memory"]["heap"]) >= 64 * 1024


def test_board_folders_and_names_agree() -> None:
    folders = sorted(p.parent.name for p in (REPO_ROOT / "boards").glob("*/board.json"))
    assert folders == sorted(boards.BOARD_NAMES)


def _partition(csv: str) -> tuple[str, int, int]:
    label, _kind, _sub, offset, size = (x.strip() for x in csv.split(","))
    return label, int(offset, 16), int(size, 16)


def test_flash_areas_fit_their_media() -> None:
    # Every littlefs area's geometry matches where it lives; the OTA area
    # (docs/boards.md): sim 2 MiB image, esp32 "ota" partition 2 MiB at
    # 0xD00000 next to "fiscal", stm32 none.
    sim = SIM["flash"]
    assert sim["ota"]["block_size"] * sim["ota"]["block_count"] == 2 * 1024 * 1024
    assert sim["ota"]["image"] != sim["fiscal"]["image"]
    assert sim["ota"]["mount"] != sim["fiscal"]["mount"]
    esp = boards.load("esp32s3_pos")["flash"]
    areas = {}
    for area in ("fiscal", "ota"):
        spec = esp[area]
        label, offset, size = _partition(spec["partition_csv"])
        assert label == spec["partition"]
        assert size == spec["block_size"] * spec["block_count"], area
        assert offset % spec["block_size"] == 0
        areas[area] = (offset, offset + size)
    assert areas["ota"] == (0xD00000, 0xF00000)
    assert areas["fiscal"][1] <= areas["ota"][0]  # no overlap
    assert areas["ota"][1] <= 16 * 1024 * 1024  # inside the N16R8's flash
    assert boards.load("stm32f4_ecr")["flash"]["ota"] is None


def test_parse_size() -> None:
    assert boards.parse_size("512K") == 512 * 1024
    assert boards.parse_size("8M") == 8 * 1024 * 1024
    assert boards.parse_size("4096") == 4096
    assert boards.parse_size(96) == 96
    for bad in ("", "K", "1.5M", "12G", "-1K"):
        with pytest.raises(ValueError):
            boards.parse_size(bad)


def _mutated(name: str, change: Callable[[dict[str, Any]], None]) -> list[str]:
    cfg = copy.deepcopy(boards.load(name))
    change(cfg)
    return boards.validate(cfg)


def test_validate_catches_pin_wired_twice() -> None:
    def clash(cfg: dict[str, Any]) -> None:
        cfg["devices"]["buzzer"]["pins"]["pin"] = cfg["buses"]["uart1"]["pins"]["tx"]

    problems = _mutated("esp32s3_pos", clash)
    assert any("wired twice" in p for p in problems), problems


def test_validate_catches_undeclared_bus_bad_address_and_geometry() -> None:
    def breakage(cfg: dict[str, Any]) -> None:
        cfg["devices"]["nfc"]["bus"] = "uart9"
        cfg["devices"]["secure_element"]["addr"] = 0x80
        cfg["devices"]["display"]["width"] = 0
        cfg["buses"]["uart2"]["parity"] = 2
        cfg["buses"]["i2c0"]["endpoint"] = "localhost"
        del cfg["devices"]["keypad"]

    problems = _mutated("sim", breakage)
    text = "; ".join(problems)
    for expected in (
        "device nfc: bus 'uart9' not declared",
        "device secure_element: addr",
        "device display: width",
        "bus uart2: parity",
        "bus i2c0: endpoint",
        "device keypad missing",
    ):
        assert expected in text, text


def test_load_rejects_unknown_and_path_like_names() -> None:
    for bad in ("nope", "../sim", "sim/board"):
        with pytest.raises(ValueError):
            boards.load(bad)


# -- a loopback peer ------------------------------------------------------------
class Peer:
    """A one-connection TCP server on 127.0.0.1 running ``handler(conn)`` in a
    thread; whatever the handler returns or raises is kept for the test."""

    def __init__(self, handler: Callable[[socket.socket], Any]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.port: int = self.sock.getsockname()[1]
        self.handler = handler
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self) -> None:
        try:
            conn, _ = self.sock.accept()
            conn.settimeout(20)
            with conn:
                self.result = self.handler(conn)
        except BaseException as e:  # reported by finish()
            self.error = e
        finally:
            self.sock.close()

    def finish(self) -> Any:
        self.thread.join(30)
        assert not self.thread.is_alive(), "peer still running"
        if self.error is not None:
            raise self.error
        return self.result


def recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError(f"peer closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def run_mpy(tmp_path: Path, script: str, heap: str = SIM_HEAP) -> list[Any]:
    """Run ``script`` under MicroPython; return its JSON result lines."""
    path = tmp_path / "board_script.py"
    path.write_text(script)
    proc = mpytest.run_script(path, heap, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return mpytest.json_lines(proc.stdout)


# -- UART over TCP --------------------------------------------------------------
UART_SCRIPT = """
import json, time, errno
import boards
board = boards.open_board("sim", endpoints={"uart1": "%(ep)s"})
u = board.bus_for("nfc")
u.init(timeout=400, timeout_char=60)
def out(**kw):
    print("OUT " + json.dumps(kw))
out(repr=repr(u), baud=u.baudrate)
frame = bytes.fromhex("%(frame)s")
out(wrote=u.write(frame))
echo = u.read(len(frame))
out(echo=echo.hex())
# the peer now sends 3 bytes and goes quiet: read(10) returns them
t0 = time.ticks_ms()
part = u.read(10)
out(part=part.hex(), part_ms=time.ticks_diff(time.ticks_ms(), t0))
# nothing at all: read returns None after the timeout, no hang
u.write(b"Q")
t0 = time.ticks_ms()
none = u.read(4)
out(none=none, none_ms=time.ticks_diff(time.ticks_ms(), t0))
u.write(b"A")
t0 = time.ticks_ms()
while u.any() < 5 and time.ticks_diff(time.ticks_ms(), t0) < 2000:
    time.sleep_ms(5)
n_any = u.any()
buf = bytearray(8)
n = u.readinto(buf)
out(any=n_any, readinto=n, got=bytes(buf[:n]).hex())
u.write(b"L")
out(line=u.readline().decode(), rest=u.readline().decode())
u.write(b"C")
try:
    u.read(1)
    out(closed="no error")
except OSError as e:
    out(closed=e.args[0] == errno.ECONNRESET)
board.deinit()
"""


def test_sim_uart_over_tcp_echo_and_timeouts(tmp_path: Path) -> None:
    def peer(conn: socket.socket) -> dict[str, Any]:
        got = recv_exact(conn, len(PN532_WAKE_GETFW))
        # echo in two pieces, 20 ms apart (< timeout_char): read() joins them
        conn.sendall(got[:10])
        time.sleep(0.02)
        conn.sendall(got[10:])
        conn.sendall(b"\x00\xff\x06")  # then silence
        assert recv_exact(conn, 1) == b"Q"  # the board's read(4) times out
        assert recv_exact(conn, 1) == b"A"
        conn.sendall(b"\x01\x02\x03\x04\x05")
        assert recv_exact(conn, 1) == b"L"
        conn.sendall(b"OK 1\nOK")
        assert recv_exact(conn, 1) == b"C"
        return {"received": got}

    server = Peer(peer)
    out = run_mpy(tmp_path, UART_SCRIPT % {"ep": server.endpoint, "frame": PN532_WAKE_GETFW.hex()})
    result = server.finish()
    assert result["received"] == PN532_WAKE_GETFW  # exact bytes on the wire
    res: dict[str, Any] = {}
    for line in out:
        res.update(line)
    assert res["baud"] == 115200
    assert f"127.0.0.1:{server.port}" in res["repr"]
    assert res["wrote"] == len(PN532_WAKE_GETFW)
    assert res["echo"] == PN532_WAKE_GETFW.hex()
    assert res["part"] == "00ff06"
    assert 40 <= res["part_ms"] < 1000  # ended by timeout_char (60 ms), not a hang
    assert res["none"] is None
    assert 350 <= res["none_ms"] < 2000  # the 400 ms timeout
    assert res["any"] == 5 and res["readinto"] == 5 and res["got"] == "0102030405"
    assert res["line"] == "OK 1\n" and res["rest"] == "OK"
    assert res["closed"] is True


def test_sim_uart_connect_gives_up_when_nobody_listens(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = f"""
import json, time, boards
board = boards.open_board("sim", endpoints={{"uart2": "127.0.0.1:{port}"}}, connect_timeout_ms=300)
t0 = time.ticks_ms()
try:
    board.bus_for("printer")
    print("OUT " + json.dumps({{"err": None}}))
except OSError as e:
    print("OUT " + json.dumps({{"err": e.args[0], "ms": time.ticks_diff(time.ticks_ms(), t0)}}))
"""
    (res,) = run_mpy(tmp_path, script)
    assert res["err"] is not None
    assert 250 <= res["ms"] < 3000


# -- I2C-like channel (secure element) -------------------------------------------
I2C_SCRIPT = """
import json, errno, boards
board = boards.open_board("sim", endpoints={"i2c0": "%(ep)s"})
se = board.bus_for("secure_element")
addr = board.device("secure_element")["addr"]
def out(**kw):
    print("OUT " + json.dumps(kw))
out(acked=se.writeto(addr, b"\\x03\\x07\\x30\\x00\\x00\\x00\\x03\\x5d"))
out(read=se.readfrom(addr, 4).hex())
buf = bytearray(2)
se.readfrom_into(addr, buf)
out(into=bytes(buf).hex())
out(mem=se.readfrom_mem(addr, 0x1234, 3, addrsize=16).hex())
try:
    se.writeto(0x61, b"\\x00")
    out(nack="no error")
except OSError as e:
    out(nack=e.args[0] == errno.ENODEV)
out(scan=se.scan())
board.deinit()
"""


def test_sim_i2c_channel_framing(tmp_path: Path) -> None:
    def peer(conn: socket.socket) -> list[bytes]:
        seen = []

        def req() -> tuple[int, int, int, bytes]:
            op, addr, flags, n = struct.unpack(">BBBH", recv_exact(conn, 5))
            payload = recv_exact(conn, n) if op == 0x57 else b""
            seen.append(bytes([op, addr, flags]) + n.to_bytes(2, "big") + payload)
            return op, addr, n, payload

        _op, _addr, n, _payload = req()
        conn.sendall(struct.pack(">BH", 0, n))  # write ACKed
        op, addr, n, _ = req()
        assert (op, addr, n) == (0x52, 0x60, 4)
        conn.sendall(struct.pack(">BH", 0, 4) + bytes.fromhex("04110033"))
        req()
        conn.sendall(struct.pack(">BH", 0, 2) + b"\xa5\x5a")
        req()  # memory address write, no STOP
        conn.sendall(struct.pack(">BH", 0, 2))
        req()
        conn.sendall(struct.pack(">BH", 0, 3) + b"xyz")
        req()  # write to 0x61: nobody there
        conn.sendall(struct.pack(">BH", 1, 0))
        op, _, _, _ = req()
        assert op == 0x53
        conn.sendall(struct.pack(">BH", 0, 1) + b"\x60")
        return seen

    server = Peer(peer)
    out = run_mpy(tmp_path, I2C_SCRIPT % {"ep": server.endpoint})
    seen = server.finish()
    assert seen == [
        bytes.fromhex("5760010008") + bytes.fromhex("030730000000035d"),
        bytes.fromhex("5260010004"),
        bytes.fromhex("5260010002"),
        bytes.fromhex("57600000021234"),
        bytes.fromhex("5260010003"),
        bytes.fromhex("576101000100"),
        bytes.fromhex("5300000000"),
    ]
    res: dict[str, Any] = {}
    for line in out:
        res.update(line)
    assert res == {
        "acked": 8,
        "read": "04110033",
        "into": "a55a",
        "mem": "78797a",
        "nack": True,
        "scan": [0x60],
    }


# -- display, keypad and status channels -------------------------------------------
def read_msg(conn: socket.socket) -> tuple[int, bytes]:
    (n,) = struct.unpack(">I", recv_exact(conn, 4))
    body = recv_exact(conn, n)
    return body[0], body[1:]


def send_msg(conn: socket.socket, mtype: int, payload: bytes) -> None:
    conn.sendall(struct.pack(">IB", len(payload) + 1, mtype) + payload)


CHANNEL_SCRIPT = """
import json, boards
board = boards.open_board("sim", endpoints={"display": "%(disp)s", "keypad": "%(keys)s",
                                            "status": "%(status)s"})
def out(**kw):
    print("OUT " + json.dumps(kw))
d = board.display()
out(geometry=[d.width, d.height, d.format])
rect = bytearray(4 * 2 * 2)
for i in range(len(rect)):
    rect[i] = i
d.push(10, 20, 4, 2, rect)
try:
    d.push(318, 0, 4, 2, rect)
    out(outside="accepted")
except ValueError:
    out(outside="rejected")
d.backlight(250)
k = board.keypad()
out(keys=[k.read_key(2000), k.read_key(2000), k.read_key(150)])
s = board.status()
s.beep(2700, 120)
s.led("green", True)
out(leds=s.leds["green"], log=[list(e) for e in s.log])
board.deinit()
"""


def test_sim_display_keypad_status_channels(tmp_path: Path) -> None:
    def display_peer(conn: socket.socket) -> list[tuple[int, bytes]]:
        return [read_msg(conn) for _ in range(3)]

    def keypad_peer(conn: socket.socket) -> tuple[int, bytes]:
        hello = read_msg(conn)
        send_msg(conn, ord("K"), b"5")
        send_msg(conn, ord("X"), b"ignored")
        send_msg(conn, ord("K"), b"NOKEY")
        send_msg(conn, ord("K"), b"ENTER")
        time.sleep(1.0)  # then nothing: read_key times out
        return hello

    def status_peer(conn: socket.socket) -> list[tuple[int, bytes]]:
        return [read_msg(conn) for _ in range(3)]

    disp, keys, status = Peer(display_peer), Peer(keypad_peer), Peer(status_peer)
    script = CHANNEL_SCRIPT % {
        "disp": disp.endpoint,
        "keys": keys.endpoint,
        "status": status.endpoint,
    }
    out = run_mpy(tmp_path, script)
    res: dict[str, Any] = {}
    for line in out:
        res.update(line)

    hello, push, backlight = disp.finish()
    assert hello[0] == ord("H")
    assert json.loads(hello[1]) == {
        "board": "sim",
        "channel": "display",
        "width": 320,
        "height": 240,
        "format": "RGB565",
    }
    assert push == (ord("P"), struct.pack(">HHHH", 10, 20, 4, 2) + bytes(range(16)))
    assert backlight == (ord("B"), b"\x64")  # clamped to 100
    assert res["geometry"] == [320, 240, "RGB565"]
    assert res["outside"] == "rejected"

    khello = keys.finish()
    assert khello[0] == ord("H") and json.loads(khello[1])["channel"] == "keypad"
    assert res["keys"] == ["5", "ENTER", None]

    shello, beep, led = status.finish()
    assert json.loads(shello[1])["leds"] == ["blue", "yellow", "green", "red"]
    assert beep == (ord("Z"), struct.pack(">HH", 2700, 120))
    assert led == (ord("L"), b"\x01green")
    assert res["leds"] is True
    assert res["log"] == [["buzzer", 2700, 120], ["led", "green", True]]


# -- flash and clock on the sim board ------------------------------------------------
def test_sim_board_mounts_fiscal_flash_and_sets_clock(tmp_path: Path) -> None:
    script = """
import json, os, boards
board = boards.open_board("sim", flash_path="fiscal.img", clock_start=1767225600)
where = board.mount_fiscal()
with open(where + "/z.txt", "w") as f:
    f.write("Z1")
os.umount(where)
board.deinit()
board = boards.open_board("sim", flash_path="fiscal.img")
where = board.mount_fiscal(format_if_needed=False)
print("OUT " + json.dumps({"text": open(where + "/z.txt").read(),
                            "stat": os.statvfs(where)[:3]}))
os.umount(where)
"""
    start = """
import json, boards
r = boards.open_board("sim", clock_start=1767225600).rtc()
print("OUT " + json.dumps({"now": r.now(), "dt": r.datetime()}))
"""
    (res,) = run_mpy(tmp_path, script)
    fiscal = SIM["flash"]["fiscal"]
    assert res["text"] == "Z1"
    assert res["stat"][0] == fiscal["block_size"] and res["stat"][2] == fiscal["block_count"]
    assert (tmp_path / "fiscal.img").stat().st_size == fiscal["block_size"] * fiscal["block_count"]
    (clock,) = run_mpy(tmp_path, start)
    assert 1767225600 <= clock["now"] <= 1767225600 + 5
    assert clock["dt"][:4] == [2026, 1, 1, 3]  # 2026-01-01 was a Thursday


# -- service port: the board listens, pyserial connects -----------------------------
SERVICE_SCRIPT = """
import json, time, boards
board = boards.open_board("sim", endpoints={"uart0": "listen:127.0.0.1:%(port)d"})
svc = board.bus_for("service")
svc.init(timeout=200, timeout_char=50)
print("OUT " + json.dumps({"listening": repr(svc)}))
served = []
t0 = time.ticks_ms()
while len(served) < 3 and time.ticks_diff(time.ticks_ms(), t0) < 20000:
    line = svc.readline()
    if line is None or not line.endswith(b"\\n"):
        continue
    served.append(line.decode().strip())
    svc.write(b"PONG " + line[5:])
print("OUT " + json.dumps({"served": served, "peers": svc.peers}))
board.deinit()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _open_serial(url: str) -> Any:
    import serial

    deadline = time.monotonic() + 10
    while True:
        try:
            return serial.serial_for_url(url, timeout=5)
        except serial.SerialException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_sim_service_port_reached_by_pyserial_socket_url(tmp_path: Path) -> None:
    port = _free_port()
    results: dict[str, Any] = {}

    def board() -> None:
        results["out"] = run_mpy(tmp_path, SERVICE_SCRIPT % {"port": port})

    t = threading.Thread(target=board)
    t.start()
    url = f"socket://127.0.0.1:{port}"
    replies = []
    link = _open_serial(url)
    link.write(b"PING 1\n")
    replies.append(link.readline())
    link.write(b"PING 2\n")
    replies.append(link.readline())
    link.close()  # unplug; the board keeps serving the next peer
    link = _open_serial(url)
    link.write(b"PING 3\n")
    replies.append(link.readline())
    link.close()
    t.join(60)
    assert replies == [b"PONG 1\n", b"PONG 2\n", b"PONG 3\n"]
    out: dict[str, Any] = {}
    for line in results["out"]:
        out.update(line)
    assert "ListeningUart uart0" in out["listening"]
    assert out["served"] == ["PING 1", "PING 2", "PING 3"]
    assert out["peers"] == 2


# -- heap: the sim HAL inside the tightest board budget ---------------------------------
HEAP_SCRIPT = """
import gc, json, boards
gc.collect()
before = gc.mem_alloc()
board = boards.open_board("sim", endpoints={"uart1": "%(ep)s"})
u = board.bus_for("nfc")
u.init(timeout=1000)
u.write(b"\\x55" * 64)
echo = u.read(64)
gc.collect()
print("OUT " + json.dumps({"ok": echo == b"\\x55" * 64, "hal_bytes": gc.mem_alloc() - before}))
board.deinit()
"""


def test_sim_hal_fits_the_tightest_board_heap(tmp_path: Path) -> None:
    heap = boards.load("stm32f4_ecr")["memory"]["heap"]

    def peer(conn: socket.socket) -> None:
        conn.sendall(recv_exact(conn, 64))

    server = Peer(peer)
    (res,) = run_mpy(tmp_path, HEAP_SCRIPT % {"ep": server.endpoint}, heap=heap)
    server.finish()
    assert res["ok"] is True
    # what the board layer keeps alive (loader, board data, HAL modules, one UART)
    assert res["hal_bytes"] < boards.parse_size(heap) // 2, res


FRAME_SCRIPT = """
import framebuf, gc, hashlib, json, boards
board = boards.open_board("sim", endpoints={"display": "%(ep)s"})
d = board.display()
buf = bytearray(d.width * d.height * 2)
fb = framebuf.FrameBuffer(buf, d.width, d.height, framebuf.RGB565)
swap = lambda c: ((c >> 8) | (c << 8)) & 0xFFFF
fb.fill(swap(0x001F))
fb.text("PAYTERM 12.500 JOD", 8, 8, swap(0xFFFF))
fb.rect(0, 0, d.width, d.height, swap(0xF800))
gc.collect()
free = gc.mem_free()
d.push_frame(buf)
print("OUT " + json.dumps({"sha": hashlib.sha256(buf).digest().hex(), "free": free,
                            "px0": buf[(20 * d.width + 20) * 2:(20 * d.width + 20) * 2 + 2].hex()}))
board.deinit()
"""


def test_sim_display_full_frame_inside_the_heap(tmp_path: Path) -> None:
    import hashlib

    def peer(conn: socket.socket) -> tuple[int, bytes]:
        read_msg(conn)  # hello
        return read_msg(conn)

    server = Peer(peer)
    (res,) = run_mpy(tmp_path, FRAME_SCRIPT % {"ep": server.endpoint})
    mtype, body = server.finish()
    assert mtype == ord("P")
    assert body[:8] == struct.pack(">HHHH", 0, 0, 320, 240)
    pixels = body[8:]
    assert len(pixels) == 320 * 240 * 2
    assert hashlib.sha256(pixels).hexdigest() == res["sha"]
    assert res["px0"] == "001f"  # pure blue, big-endian on the wire
    assert pixels[(20 * 320 + 20) * 2 : (20 * 320 + 20) * 2 + 2] == b"\x00\x1f"


BULK_SCRIPT = """
import hashlib, json, boards
board = boards.open_board("sim", endpoints={"uart2": "%(ep)s"})
u = board.bus_for("printer")
u.init(timeout=2000, timeout_char=200)
first = u.read()
rest = u.read(%(total)d - len(first))
h = hashlib.sha256(first + rest).digest().hex()
u.write(h.encode())
print("OUT " + json.dumps({"first": len(first), "rest": len(rest), "sha": h}))
board.deinit()
"""


def test_sim_uart_bulk_is_exact_and_read_all_is_bounded(tmp_path: Path) -> None:
    import hashlib

    total = 50000
    data = bytes((i * 31 + (i >> 8)) & 0xFF for i in range(total))

    def peer(conn: socket.socket) -> bytes:
        conn.sendall(data)
        return recv_exact(conn, 64)

    server = Peer(peer)
    (res,) = run_mpy(tmp_path, BULK_SCRIPT % {"ep": server.endpoint, "total": total})
    echoed_sha = server.finish()
    want = hashlib.sha256(data).hexdigest()
    assert res["first"] == SIM["buses"]["uart2"].get("rxbuf", 1024)  # read() stops at rxbuf
    assert res["first"] + res["rest"] == total
    assert res["sha"] == want and echoed_sha == want.encode()
