"""The display/keypad endpoint (host_sim/display) end to end with the firmware
under the real MicroPython unix port: the sim board draws the QR-to-pay
screen through its display channel, zbar reads the payload off the
endpoint's PNG, and keys injected by the endpoint reach the keypad driver.
Also: the endpoint's pixel conversion against a reference, its preview, and
that it keeps serving after garbage."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import boards
from host_sim.display import EndpointThread, FrameBuffer, PanelEndpoint, RectError
from host_sim.display.preview import ansi, ascii_art, rich_text
from tools import mpytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SIM_HEAP = boards.load("sim")["memory"]["heap"]
VECTORS = json.loads((REPO_ROOT / "tests" / "vectors" / "emvqr_cliq.json").read_text())
PAYLOAD = VECTORS["built"][1]["payload"]  # a CliQ merchant QR, 12.500 JOD

SCRIPT = """
import json, boards
from firmware.drivers.display import Screen, screens
from firmware.drivers.keypad import Keypad
board = boards.open_board("sim")
def out(**kw):
    print("OUT " + json.dumps(kw))
screen = Screen(board.display())
box = screens.qr_to_pay(screen, %(payload)r, "12.500", "JOD")
out(box=list(box), pushes=screen.pushes)
kp = Keypad(board.keypad(), board.rtc())
out(first=kp.wait_for(("ENTER", "CANCEL"), 20000))
before = screen.pushes
fields = screens.render(screen, "pin", {"amount": "12.500", "currency": "JOD"})
def shown(n):
    screens.show_pin_digits(screen, fields["pin"], n)
status, pin = kp.read_pin(lambda buf, n: bytes(buf[:n]).decode(), on_change=shown,
                          first_key_ms=20000, inter_key_ms=20000, total_ms=60000)
out(status=status, pin=pin, band=list(fields["pin"][:2]), pin_pushes=screen.pushes - before)
board.deinit()
"""


def _zbar(image: Image.Image) -> list[bytes]:
    zbar = pytest.importorskip("pyzbar.pyzbar")
    return [r.data for r in zbar.decode(image, symbols=[zbar.ZBarSymbol.QRCODE])]


def _start_mpy(tmp_path: Path, script: str, env_extra: dict[str, str]) -> subprocess.Popen[str]:
    path = tmp_path / "panel_script.py"
    path.write_text(script)
    env = dict(os.environ)
    env["MICROPYPATH"] = str(REPO_ROOT)
    env.update(env_extra)
    return subprocess.Popen(
        [mpytest.micropython_binary(), "-X", "heapsize=" + SIM_HEAP, str(path)],
        cwd=str(tmp_path),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _results(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    res: dict[str, Any] = {}
    for line in out.splitlines():
        if line.startswith("OUT "):
            res.update(json.loads(line[4:]))
    return res


def test_qr_to_pay_reaches_the_png_and_keys_reach_the_pin_entry(tmp_path: Path) -> None:
    png = tmp_path / "display.png"
    ep = EndpointThread(PanelEndpoint(png_path=str(png)))
    (port,) = ep.start()
    endpoint = f"127.0.0.1:{port}"
    proc = _start_mpy(
        tmp_path,
        SCRIPT % {"payload": PAYLOAD},
        {"PAYTERM_SIM_DISPLAY": endpoint, "PAYTERM_SIM_KEYPAD": endpoint},
    )
    try:
        panel = ep.endpoint
        assert ep.wait_until(lambda: panel.rects >= 1 and panel.keypad_connected(), 30)
        assert panel.display_hello is not None
        assert panel.display_hello["width"] == 320 and panel.display_hello["format"] == "RGB565"
        assert panel.last_rect == (0, 0, 320, 240)
        # zbar reads the payload off the PNG the endpoint wrote
        assert _zbar(Image.open(png)) == [PAYLOAD.encode()]
        # keys in: ENTER leaves the QR, then the PIN 4 7 1 1, a CLEAR, 1 2 3 4
        for key in ["5", "ENTER", "4", "7", "1", "1", "CLEAR", "1", "2", "3", "4", "ENTER"]:
            assert ep.press(key) == 1
        with pytest.raises(ValueError):
            ep.press("F13")
        res = _results(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        ep.stop()
    assert res["pushes"] == 1
    x, y, side, module = res["box"]
    assert module >= 3 and x >= 0 and y >= 0 and side <= 240
    assert res["first"] == "ENTER"
    assert (res["status"], res["pin"]) == ("ok", "1234")
    # one full frame for the PIN screen, then only the masked band per change:
    # 4 digits, CLEAR, 4 digits
    assert res["pin_pushes"] == 1 + 9
    band_y, band_h = res["band"]
    assert panel.last_rect == (0, band_y, 320, band_h)
    # the PNG now shows the PIN screen with four asterisks, dark on light
    img = Image.open(png).convert("L")
    band = img.crop((0, band_y, 320, band_y + band_h))
    dark = sum(band.histogram()[:128])
    assert dark > 0
    assert panel.errors == []


MONO_SCRIPT = """
import json
from boards.sim.channel import DisplayChannel
from firmware.drivers.display import Screen, screens
panel = DisplayChannel("127.0.0.1", %(port)d, 128, 64, "MONO_VLSB", "stm32f4_ecr")
screen = Screen(panel)
box = screens.qr_to_pay(screen, %(payload)r, "12.500", "JOD")
print("OUT " + json.dumps({"box": list(box)}))
panel.deinit()
"""


def test_mono_128x64_qr_to_pay_reads_back(tmp_path: Path) -> None:
    """The stm32f4_ecr geometry: one pixel a module, the amount beside it."""
    png = tmp_path / "mono.png"
    ep = EndpointThread(PanelEndpoint(png_path=str(png), png_scale=4))
    (port,) = ep.start()
    # a shorter dynamic payload: version 6 or less fits 64 rows with its quiet zone
    payload = VECTORS["built"][0]["payload"]
    proc = _start_mpy(tmp_path, MONO_SCRIPT % {"port": port, "payload": payload}, {})
    try:
        res = _results(proc)
        assert ep.wait_until(lambda: ep.endpoint.rects >= 1, 10)
    finally:
        ep.stop()
    assert res["box"][3] == 1
    assert ep.endpoint.frame is not None and ep.endpoint.frame.format == "MONO_VLSB"
    assert _zbar(Image.open(png)) == [payload.encode()]


# -- the endpoint alone ----------------------------------------------------------------


def _rgb565_reference(be: bytes) -> list[tuple[int, int, int]]:
    out = []
    for i in range(0, len(be), 2):
        c = (be[i] << 8) | be[i + 1]
        r, g, b = c >> 11, (c >> 5) & 0x3F, c & 0x1F
        out.append((round(r * 255 / 31), round(g * 255 / 63), round(b * 255 / 31)))
    return out


def test_rgb565_rectangles_convert_like_the_reference() -> None:
    fb = FrameBuffer(8, 4, "RGB565")
    colours = [0xF800, 0x07E0, 0x001F, 0xFFFF, 0x0000, 0x8410, 0x1234, 0xABCD]
    data = b"".join(struct.pack(">H", c) for c in colours)
    fb.apply(0, 1, 8, 1, data)
    want = _rgb565_reference(data)
    for x in range(8):
        got = fb.pixel(x, 1)
        assert all(abs(a - b) <= 1 for a, b in zip(got, want[x], strict=True)), (x, got, want[x])
    assert fb.pixel(0, 0) == (0, 0, 0)  # untouched


def test_mono_formats_and_rect_errors() -> None:
    fb = FrameBuffer(16, 16, "MONO_VLSB")
    fb.apply(2, 8, 2, 8, bytes([0x81, 0x01]))  # column 2: rows 8 and 15; column 3: row 8
    assert fb.pixel(2, 8) == (0, 0, 0) and fb.pixel(2, 15) == (0, 0, 0)
    assert fb.pixel(3, 8) == (0, 0, 0) and fb.pixel(3, 9) == (255, 255, 255)
    hl = FrameBuffer(16, 2, "MONO_HLSB")
    hl.apply(0, 0, 16, 1, bytes([0x80, 0x01]))
    assert hl.pixel(0, 0) == (0, 0, 0) and hl.pixel(15, 0) == (0, 0, 0)
    assert hl.pixel(1, 0) == (255, 255, 255)
    for bad in ((15, 8, 2, 8, bytes(2)), (0, 3, 2, 8, bytes(2)), (0, 0, 2, 8, bytes(3))):
        with pytest.raises(RectError):
            fb.apply(*bad)
    with pytest.raises(RectError):
        FrameBuffer(16, 16, "RGB888")


def test_preview_shows_the_frame() -> None:
    fb = FrameBuffer(8, 4, "GS8")
    fb.apply(0, 0, 8, 4, bytes([255] * 32))
    fb.apply(2, 0, 2, 4, bytes(8))  # a dark bar in columns 2-3
    assert ascii_art(fb, 8) == "  ##\n  ##"
    text = ansi(fb, 8)
    assert text.count("\u2580") == 16 and "\x1b[38;2;0;0;0m" in text
    assert rich_text(fb, 8).plain == "\u2580" * 8 + "\n" + "\u2580" * 8


def _frame(mtype: int, payload: bytes) -> bytes:
    return struct.pack(">IB", len(payload) + 1, mtype) + payload


def _hello(**kw: Any) -> bytes:
    return _frame(0x48, json.dumps(kw).encode())


def test_endpoint_keeps_serving_after_garbage() -> None:
    ep = EndpointThread()
    (port,) = ep.start()
    panel = ep.endpoint
    try:
        # 1. an absurd length: that connection is closed
        with socket.create_connection(("127.0.0.1", port), 5) as s:
            s.sendall(b"\xff\xff\xff\xff garbage")
            s.settimeout(5)
            assert s.recv(10) == b""
        # 2. no hello first: closed
        with socket.create_connection(("127.0.0.1", port), 5) as s:
            s.sendall(_frame(0x50, bytes(8)))
            s.settimeout(5)
            assert s.recv(10) == b""
        # 3. a display that sends bad rectangles, unknown types, then a good one
        with socket.create_connection(("127.0.0.1", port), 5) as s:
            s.sendall(_hello(board="t", channel="display", width=4, height=2, format="GS8"))
            s.sendall(_frame(0x50, struct.pack(">HHHH", 3, 0, 4, 2) + bytes(8)))  # outside
            s.sendall(_frame(0x50, struct.pack(">HHHH", 0, 0, 4, 2) + bytes(7)))  # short
            s.sendall(_frame(0x50, b"\x00"))
            s.sendall(_frame(0x7A, b"what"))
            s.sendall(_frame(0x50, struct.pack(">HHHH", 0, 0, 4, 2) + bytes(range(8))))
            s.sendall(_frame(0x42, b"\x32"))
            assert ep.wait_until(lambda: panel.backlight == 50, 5)
        assert panel.rects == 1 and panel.frame is not None
        assert panel.frame.pixel(3, 1) == (7, 7, 7)
        assert len(panel.errors) == 6, panel.errors
        # 4. still serving: a keypad connects and receives a key
        with socket.create_connection(("127.0.0.1", port), 5) as s:
            s.sendall(_hello(board="t", channel="keypad", keys=["1", "ENTER"]))
            assert ep.wait_until(panel.keypad_connected, 5)
            assert ep.press("ENTER") == 1
            s.settimeout(5)
            got = b""
            while len(got) < 10:
                chunk = s.recv(10 - len(got))
                assert chunk
                got += chunk
            assert got == _frame(0x4B, b"ENTER")
        deadline = time.monotonic() + 5
        while panel.keypad_connected() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ep.press("1") == 0  # nobody listening any more
    finally:
        ep.stop()
