"""End to end: the firmware's printer driver under the real MicroPython unix
port on the sim board, printing over uart2 (TCP on loopback) to the virtual
printer; zbar reads the QR back from the rendered PNG, and the Arabic line is
compared dot for dot with the same glyphs drawn straight from the TrueType
font by Pillow on the host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont
from pyzbar import pyzbar

import boards
from host_sim.printer import PrinterServer, VirtualPrinter
from tools import fontgen, mpytest

SIM_HEAP = boards.load("sim")["memory"]["heap"]
PAYLOAD = "00020101021226370011jo.jopacc.cliq0114PAYTERM.SHOP5204599953034005802JO6304B0C1"
ARABIC = "شكراً لزيارتكم 123"
# The line in display order, left to right: "123", then the words right to
# left, each letter in its contextual form (tests/test_arabic.py checks the
# forms against unicodedata; the order is UAX #9's for an RTL paragraph).
ARABIC_VISUAL = [
    0x0031, 0x0032, 0x0033, 0x0020,
    0xFEE2, 0xFEDC, 0xFE97, 0xFEAD, 0xFE8E, 0xFEF3, 0xFEB0, 0xFEDF,
    0x0020, 0xFE8D, 0x064B, 0xFEAE, 0xFEDC, 0xFEB7,
]  # fmt: skip

SCRIPT = """
import json
import boards
from firmware.drivers.printer import Printer, PrinterError, for_board
board = boards.open_board("sim")
uart = board.bus_for("printer")
profile = %(profile)r or for_board(board.device("printer"))
p = Printer(uart, profile=profile, clock=board.rtc())
r = p.receipt()
r.header("PAYTERM SHOP", ["Amman, Jordan"])
r.item("Tea", "1.500", 2)
r.item("Cardamom coffee with a long name", "2.250")
r.separator()
r.total("TOTAL JOD", "5.250")
r.arabic(%(arabic)r)
r.qr_code(%(payload)r)
r.footer(["Thank you"])
r.finish()
try:
    n = p.print(r)
    print("OUT " + json.dumps({"sent": n, "status": p.last_status}))
except PrinterError as e:
    print("OUT " + json.dumps({"error": e.reason, "status": e.status}))
board.deinit()
"""


def run_firmware(tmp_path: Path, port: int, profile: str | None) -> dict[str, Any]:
    script = tmp_path / "print_receipt.py"
    script.write_text(SCRIPT % {"profile": profile, "arabic": ARABIC, "payload": PAYLOAD})
    proc = mpytest.run_script(script, SIM_HEAP, env={"PAYTERM_SIM_UART2": f"127.0.0.1:{port}"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = mpytest.json_lines(proc.stdout)
    assert len(lines) == 1, proc.stdout + proc.stderr
    result: dict[str, Any] = lines[0]
    return result


def reference_line(width: int) -> Image.Image:
    """The Arabic line drawn from DejaVuSans.ttf with Pillow: each glyph's
    ink at the pen (advance rounded to whole dots), harakat centred over the
    glyph before, the whole right-aligned; black = 0."""
    font = ImageFont.truetype(
        str(fontgen.FONT_PATH), fontgen.PIXEL_SIZE, layout_engine=ImageFont.Layout.BASIC
    )
    ascent, descent = font.getmetrics()
    height = ascent + descent
    placed: list[tuple[str, int]] = []
    pen = prev_x = prev_adv = 0
    for cp in ARABIC_VISUAL:
        ch = chr(cp)
        left, _, right, _ = font.getbbox(ch)
        if 0x064B <= cp <= 0x0652:
            ink = Image.new("L", (int(right - left), height), 0)
            ImageDraw.Draw(ink).text((-left, 0), ch, font=font, fill=255)
            box = ink.point(lambda v: 255 if v >= 128 else 0).getbbox()
            assert box is not None
            x = prev_x + (prev_adv - (box[2] - box[0])) // 2 - box[0] - int(left)
            placed.append((ch, x))
            continue
        placed.append((ch, pen))
        prev_x, prev_adv = pen, round(font.getlength(ch))
        pen += prev_adv
    canvas = Image.new("L", (width + 64, height), 0)
    for ch, x in placed:
        glyph = Image.new("L", (64, height), 0)
        left = int(font.getbbox(ch)[0])
        ImageDraw.Draw(glyph).text((32 - left, 0), ch, font=font, fill=255)
        glyph = glyph.point(lambda v: 255 if v >= 128 else 0)
        canvas.paste(255, (0, 0), _shift(glyph, x + left - 32 + 32))
    box = canvas.getbbox()
    assert box is not None
    right_edge = max(box[2], pen + 32)
    line = Image.new("L", (width, height), 255)
    line.paste(0, (width - right_edge, 0), canvas.crop((0, 0, right_edge, height)))
    return line


def _shift(glyph: Image.Image, x: int) -> Image.Image:
    mask = Image.new("L", (glyph.width + 4096, glyph.height), 0)
    mask.paste(glyph, (x, 0))
    return mask


@pytest.mark.parametrize(("profile", "dots"), [(None, 576), ("58mm", 384)])
def test_firmware_prints_arabic_and_qr_on_the_virtual_printer(
    tmp_path: Path, profile: str | None, dots: int
) -> None:
    vp = VirtualPrinter(dots=dots)
    with PrinterServer(vp) as server:
        result = run_firmware(tmp_path, server.port, profile)
        receipts = server.wait_receipts(1)
    assert "error" not in result, result
    assert result["status"]["paper_end"] is False
    assert vp.warnings == []
    assert len(receipts) == 1 and receipts[0].cut
    receipt = receipts[0]
    png = tmp_path / "receipt.png"
    receipt.save_png(png)
    image = Image.open(png)
    assert image.width == dots
    # the whole stream arrived: status queries + the receipt
    assert vp.bytes_received == 9 + result["sent"]
    columns = 48 if dots == 576 else 32
    assert "PAYTERM SHOP" in receipt.lines
    assert "2 x Tea" + " " * (columns - 12) + "1.500" in receipt.lines
    assert any(line.startswith("TOTAL JOD") and line.endswith("5.250") for line in receipt.lines)
    assert "-" * columns in receipt.lines
    # native GS ( k on 80 mm, raster fallback on 58 mm: zbar reads both
    qr_spans = receipt.find("[QR ") if profile is None else receipt.find("[raster")[1:]
    assert len(qr_spans) == 1
    assert [d.data.decode() for d in pyzbar.decode(image)] == [PAYLOAD]
    # the Arabic line: a raster of the paper width, the shaped glyphs
    top, rows, text = receipt.find("[raster")[0]
    assert text == f"[raster {dots}x29]" and rows == 29
    got = receipt.bitmap().crop((0, top, dots, top + rows)).convert("L")
    want = reference_line(dots)
    assert got.tobytes() == want.tobytes()


def test_paper_out_prints_nothing(tmp_path: Path) -> None:
    vp = VirtualPrinter(paper_out=True)
    with PrinterServer(vp) as server:
        result = run_firmware(tmp_path, server.port, None)
    assert result["error"] == "paper_end"
    assert result["status"]["offline"] is True
    assert vp.bytes_received == 9  # DLE EOT 1, 2, 4 and nothing else
    assert vp.warnings == [] and vp.receipts == []


def test_font_regenerates_to_the_committed_module() -> None:
    if not fontgen.FONT_PATH.exists():
        pytest.skip(f"{fontgen.FONT_PACKAGE} is not installed")
    assert fontgen.generate() == fontgen.OUT.read_text(encoding="utf-8")
