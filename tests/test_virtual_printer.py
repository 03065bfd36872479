"""The virtual printer (host_sim.printer) against what python-escpos sends,
checked with zbar (pyzbar) and python-escpos's own status parsing."""

from __future__ import annotations

import argparse
import json
import random
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pyzbar import pyzbar

from host_sim.printer import PrinterServer, VirtualPrinter, render
from host_sim.printer.parser import Parser
from payterm.cli import BadInput
from payterm.commands import printer as printer_command

QR_DATA = "00020101021226370011jo.jopacc.cliq0114PAYTERM.SHOP15204599953034005802JO6304ABCD"
EAN = "4006381333931"


def python_escpos_receipt() -> bytes:
    p = Dummy()
    p.set(align="center", bold=True, double_height=True, double_width=True)
    p.textln("PAYTERM SHOP")
    p.set_with_default()
    p.set(underline=1)
    p.textln("Underlined")
    p.set(underline=0)
    p.set(font="b")
    p.textln("Font B text")
    p.set(font="a")
    p.charcode("CP864")
    p.textln("ﺷ ﺍ 12")
    p.charcode("CP1256")
    p.textln("شكرا 12")
    p.charcode("CP437")
    p.textln("Total: 12.500 JOD")
    p.image(staircase())
    p.qr(QR_DATA, size=6, native=True)
    p.barcode(EAN, "EAN13")
    p.cashdraw(2)
    p.cut()
    return bytes(p.output)


def staircase() -> Image.Image:
    img = Image.new("1", (64, 32), 1)
    for x in range(64):
        for y in range(x // 2, min(x // 2 + 3, 32)):
            img.putpixel((x, y), 0)
    return img


def ink_box(image: Image.Image, top: int, rows: int) -> tuple[int, int, int, int] | None:
    """Bounding box of black dots in a band of the receipt."""
    band = image.crop((0, top, image.width, top + rows)).point(lambda v: 255 - v)
    return band.getbbox()


# -- python-escpos output --------------------------------------------------------
def test_python_escpos_receipt_renders_and_zbar_reads_it(tmp_path: Path) -> None:
    vp = render(python_escpos_receipt())
    assert vp.warnings == []
    assert len(vp.receipts) == 1
    receipt = vp.receipts[0]
    assert receipt.cut
    png = tmp_path / "receipt.png"
    receipt.save_png(png)
    assert png.exists()
    image = Image.open(png)
    assert image.width == 576 and image.mode == "1"
    for line in ("PAYTERM SHOP", "Underlined", "Font B text", "Total: 12.500 JOD"):
        assert line in receipt.lines
    # python-escpos encoded these in CP864 and CP1256; they come back
    assert "ﺷ ﺍ 12" in receipt.lines
    assert "شكرا 12" in receipt.lines
    decoded = {(d.type, d.data.decode()) for d in pyzbar.decode(image)}
    assert ("QRCODE", QR_DATA) in decoded
    assert ("EAN13", EAN) in decoded
    assert vp.events == [{"event": "drawer", "offset": vp.events[0]["offset"], "pin": 0}]


def test_styles_show_on_paper() -> None:
    receipt = render(python_escpos_receipt()).receipts[0]
    gray = receipt.image
    top, rows, _ = receipt.find("PAYTERM SHOP")[0]
    box = ink_box(gray, top, rows)
    assert box is not None
    # double width and height: 12 characters of 24 x 48 dots, centred
    assert rows == 48 and box[3] - box[1] >= 28  # capitals are 15 dots tall in font A
    assert 250 < box[2] - box[0] <= 12 * 24
    assert abs((box[0] + box[2]) / 2 - 288) < 16
    # underline: one black run across the whole word at the cell bottom
    top, rows, _ = receipt.find("Underlined")[0]
    bottom_row = gray.crop((0, top + 23, 10 * 12, top + 24)).tobytes()
    assert all(v < 128 for v in bottom_row)
    # font B is smaller than font A
    top_b, rows_b, _ = receipt.find("Font B text")[0]
    box_b = ink_box(gray, top_b, rows_b)
    box_a = ink_box(gray, *receipt.find("Total: 12.500 JOD")[0][:2])
    assert box_a is not None and box_b is not None
    assert (box_b[3] - box_b[1]) < (box_a[3] - box_a[1])


def test_raster_image_dots_are_the_pictures() -> None:
    p = Dummy()
    p.image(staircase())
    receipt = render(bytes(p.output)).receipts[0]
    top, rows, text = receipt.find("[raster")[0]
    assert text == "[raster 64x32]" and rows == 32
    got = receipt.bitmap().crop((0, top, 64, top + 32))
    assert got.tobytes() == staircase().convert("1").tobytes()


def test_graphics_and_column_images_of_python_escpos() -> None:
    # GS ( L (impl="graphics"): a block like GS v 0
    p = Dummy()
    p.image(staircase(), impl="graphics")
    receipt = render(bytes(p.output)).receipts[0]
    top, rows, text = receipt.find("[graphic")[0]
    assert rows == 32
    assert text == "[graphic 64x32]"
    got = receipt.bitmap().crop((0, top, 64, top + 32))
    assert got.tobytes() == staircase().convert("1").tobytes()
    # ESC * 33 (impl="bitImageColumn"): 24-dot bands on text lines
    p = Dummy()
    p.image(staircase(), impl="bitImageColumn")
    vp = render(bytes(p.output))
    assert vp.warnings == []
    image = vp.receipts[0].bitmap()
    assert image.crop((0, 0, 64, 32)).tobytes() == staircase().convert("1").tobytes()


def test_double_density_modes_scale_the_raster() -> None:
    p = Dummy()
    p.image(staircase(), high_density_vertical=False, high_density_horizontal=False)
    receipt = render(bytes(p.output)).receipts[0]
    assert receipt.find("[raster")[0][2] == "[raster 128x64]"


def test_native_qr_sizes_and_levels_decode() -> None:
    for size, ec in ((3, 0), (8, 3)):
        p = Dummy()
        p.qr("HELLO 123", ec=ec, size=size, native=True)
        receipt = render(bytes(p.output)).receipts[0]
        data = [d.data for d in pyzbar.decode(receipt.bitmap())]
        assert data == [b"HELLO 123"]


@pytest.mark.parametrize(
    ("code", "bc", "want"),
    [
        ("PAYTERM-39", "CODE39", ("CODE39", "PAYTERM-39")),
        ("ABCDEFGHIJKLM", "CODE39", ("CODE39", "ABCDEFGHIJKLM")),
        ("NOPQRSTUVWXYZ", "CODE39", ("CODE39", "NOPQRSTUVWXYZ")),
        ("0123456789", "CODE39", ("CODE39", "0123456789")),
        (" $%+-./", "CODE39", ("CODE39", " $%+-./")),
        ("0123456789", "ITF", ("I25", "0123456789")),
        ("98765432109876", "ITF", ("I25", "98765432109876")),
        ("01234565", "EAN8", ("EAN8", "01234565")),
        ("0123456", "EAN8", ("EAN8", "01234565")),  # check digit added
        # zbar reports UPC-A as EAN-13 with a leading zero
        ("04210000526", "UPC-A", ("EAN13", "0042100005264")),
    ],
)
def test_barcodes_drawn_as_bars_are_read_by_zbar(code: str, bc: str, want: tuple[str, str]) -> None:
    p = Dummy()
    p.barcode(code, bc, width=2)
    vp = render(bytes(p.output))
    assert vp.warnings == []
    image = vp.receipts[0].bitmap()
    assert [(d.type, d.data.decode()) for d in pyzbar.decode(image)] == [want]


def test_barcode_wider_than_the_paper_is_cut_with_a_warning() -> None:
    p = Dummy()
    p.barcode("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "CODE39", width=2)
    vp = render(bytes(p.output))
    # 28 characters of 16 modules less the last gap, 10-module quiet zones, 2 dots
    assert [w["message"] for w in vp.warnings] == ["barcode 934 dots wide, paper 576: cut"]


def test_code128_is_a_labelled_frame_with_hri() -> None:
    p = Dummy()
    p.barcode("{BPAYTERM1", "CODE128", function_type="B")
    receipt = render(bytes(p.output)).receipts[0]
    assert "[BARCODE CODE128 {BPAYTERM1]" in receipt.lines
    assert "{BPAYTERM1" in receipt.lines  # HRI below


# -- status ----------------------------------------------------------------------
class WiredDummy(Dummy):  # type: ignore[misc]
    """python-escpos talking to the virtual printer: what it writes goes in,
    what the printer answers is what python-escpos reads."""

    def __init__(self, vp: VirtualPrinter) -> None:
        super().__init__()
        self.vp = vp
        self.answer = b""

    def _raw(self, msg: bytes) -> None:
        self.answer += self.vp.feed(bytes(msg))

    def _read(self) -> list[int]:
        answer, self.answer = self.answer, b""
        return list(answer)


@pytest.mark.parametrize(
    ("state", "online", "paper"),
    [
        ({}, True, 2),
        ({"near_end": True}, True, 1),
        ({"paper_out": True}, False, 0),
        ({"cover_open": True}, False, 2),
    ],
)
def test_status_answers_read_by_python_escpos(
    state: dict[str, Any], online: bool, paper: int
) -> None:
    vp = VirtualPrinter(**state)
    wired = WiredDummy(vp)
    assert wired.is_online() is online
    assert wired.paper_status() == paper


def test_status_bytes() -> None:
    vp = VirtualPrinter(cover_open=True)
    assert vp.feed(b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04") == bytes(
        (0x1A, 0x16, 0x12, 0x12)
    )
    vp = VirtualPrinter(paper_out=True, drawer_open=True)
    assert vp.feed(b"\x10\x04\x01\x10\x04\x02\x10\x04\x04") == bytes((0x1E, 0x32, 0x72))
    assert vp.feed(b"\x1dr\x01\x1dr\x02\x1dr1") == bytes((0x0C, 0x01, 0x0C))
    assert vp.feed(b"\x10\x04\x07") == b""
    assert vp.warnings[-1]["message"] == "DLE EOT 7: no such status"


def test_paper_out_discards_print_data_with_warnings() -> None:
    vp = VirtualPrinter(paper_out=True)
    assert vp.feed(b"\x10\x04\x04Hello\n\x1dV\x00") == b"\x72"
    vp.finish()
    assert vp.receipts == []
    assert [w["message"] for w in vp.warnings] == [
        "offline (paper out): text discarded",
        "offline (paper out): LF discarded",
        "offline (paper out): cut discarded",
    ]
    assert vp.warnings[0]["offset"] == 3


# -- bad input -------------------------------------------------------------------
def test_unknown_and_malformed_bytes_are_warnings_with_offsets() -> None:
    stream = b"ok\n\x1b\x7f\x01\x02 after\n\x1dk\x63AB\x00\x1dV\x07\x1dv0\x00\x10\x00\x01\x00AB"
    vp = render(stream)
    got = [(w["offset"], w["message"]) for w in vp.warnings]
    assert got == [
        (3, "unknown command ESC 0x7f"),
        (5, "unexpected control byte 0x01"),
        (6, "unexpected control byte 0x02"),
        (14, "GS k: unknown barcode system 99"),
        (19, "unexpected control byte 0x00"),
        (20, "GS V: unknown cut mode 7"),
        (23, "stream ends inside a command (10 bytes: 1d 76 30 00 10 00 01 00 ...)"),
    ]
    assert vp.receipts[0].lines[:2] == ["ok", " after"]
    assert not vp.receipts[0].cut


@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    vp = render(data, dots=384)
    for w in vp.warnings:
        assert 0 <= w["offset"] < max(len(data), 1)
    for r in vp.receipts:
        assert r.image.width == 384


@settings(max_examples=40)
@given(st.lists(st.integers(0, 60), max_size=8), st.randoms())
def test_chunking_does_not_change_the_result(cuts: list[int], rnd: random.Random) -> None:
    data = python_escpos_receipt() + b"\x1b\x7f tail \x1dv0\x00\x01"
    points = sorted({min(c * 37 + rnd.randint(0, 36), len(data)) for c in cuts})
    whole = render(data)
    vp = VirtualPrinter()
    previous = 0
    for point in [*points, len(data)]:
        vp.feed(data[previous:point])
        previous = point
    vp.finish()
    assert vp.warnings == whole.warnings
    assert [r.lines for r in vp.receipts] == [r.lines for r in whole.receipts]
    assert [r.image.tobytes() for r in vp.receipts] == [r.image.tobytes() for r in whole.receipts]


def test_parser_holds_back_a_split_command() -> None:
    parser = Parser()
    assert parser.feed(b"AB\x1b") and parser.pending == 1
    assert parser.feed(b"c") == [] and parser.pending == 2
    got = parser.feed(b"5\x01")
    assert [(c.name, c.offset, c.args) for c in got] == [("panel_buttons", 2, {"params": [1]})]


# -- TCP -------------------------------------------------------------------------
def test_tcp_server_answers_status_and_cuts_receipts() -> None:
    vp = VirtualPrinter(near_end=True)
    with PrinterServer(vp) as server, socket.create_connection((server.host, server.port)) as s:
        s.settimeout(5)
        s.sendall(b"\x10\x04\x04")
        assert s.recv(1) == b"\x1e"
        s.sendall(python_escpos_receipt()[:100])
        s.sendall(python_escpos_receipt()[100:])
        receipts = server.wait_receipts(1)
        assert len(receipts) == 1 and "PAYTERM SHOP" in receipts[0].lines
        s.sendall(b"\x1b\x7fgarbage")  # the server keeps serving
        s.sendall(b"\x10\x04\x01")
        assert s.recv(1) == b"\x12"
    assert server.connections == 1


# -- payterm printer render ----------------------------------------------------------
def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    printer_command.register(sub)
    args = parser.parse_args(argv)
    code = args.func(args)
    return code, json.loads(capsys.readouterr().out)


def test_cli_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stream = tmp_path / "in.bin"
    stream.write_bytes(python_escpos_receipt() + b"second\n\x1dV\x00\x1b\x7f")
    capsys.readouterr()  # python-escpos prints notes
    png = tmp_path / "out.png"
    txt = tmp_path / "out.txt"
    code, out = run_cli(
        ["printer", "render", str(stream), "--png", str(png), "--text", str(txt)], capsys
    )
    assert code == 0
    assert out["receipts"] == 2
    assert out["png"] == [str(tmp_path / "out-1.png"), str(tmp_path / "out-2.png")]
    assert out["warnings"] == [
        {"offset": len(python_escpos_receipt()) + 10, "message": "unknown command ESC 0x7f"}
    ]
    assert all(Path(p).exists() for p in out["png"])
    text = txt.read_text("utf-8")
    assert "PAYTERM SHOP" in text and "second" in text
    first = Image.open(out["png"][0])
    assert QR_DATA.encode() in [d.data for d in pyzbar.decode(first)]


def test_cli_render_bad_input(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    printer_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["printer", "render", str(tmp_path / "nope.bin"), "--png", "x.png"])
    with pytest.raises(BadInput):
        args.func(args)
    args = parser.parse_args(["printer", "render", "-", "--png", "x.png", "--dots", "100"])
    with pytest.raises(BadInput):
        args.func(args)


CLI_MAIN = (
    "import argparse, sys\n"
    "from payterm.commands import printer\n"
    "p = argparse.ArgumentParser()\n"
    "printer.register(p.add_subparsers(dest='command'))\n"
    "a = p.parse_args(sys.argv[1:])\n"
    "sys.exit(a.func(a))\n"
)


def test_cli_serve(tmp_path: Path) -> None:
    argv = ["printer", "serve", "--port", "0", "--out", str(tmp_path), "--paper-out"]
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI_MAIN, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    try:
        assert proc.stdout is not None
        listening = json.loads(proc.stdout.readline())["listening"]
        host, port = listening.rsplit(":", 1)
        assert host == "127.0.0.1"
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"\x10\x04\x04")  # started with --paper-out
            assert s.recv(1) == b"\x72"
        receipt = python_escpos_receipt()
        # a second printer session on the same server: paper still out, the
        # receipt is discarded; nothing is written
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(receipt)
            s.sendall(b"\x10\x04\x01")
            assert s.recv(1) == b"\x1a"  # offline
        assert list(tmp_path.iterdir()) == []
    finally:
        proc.terminate()
        proc.wait(10)


def test_cli_serve_writes_receipts(tmp_path: Path) -> None:
    argv = ["printer", "serve", "--port", "0", "--out", str(tmp_path)]
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI_MAIN, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    try:
        assert proc.stdout is not None
        host, port = json.loads(proc.stdout.readline())["listening"].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(python_escpos_receipt())
            line = json.loads(proc.stdout.readline())
        assert line["receipt"] == 1 and line["warnings"] == []
        image = Image.open(line["png"])
        assert QR_DATA.encode() in [d.data for d in pyzbar.decode(image)]
        assert "PAYTERM SHOP" in Path(line["text"]).read_text("utf-8")
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_paper_roll_runs_out() -> None:
    vp = VirtualPrinter(roll_dots=3000)
    answer = vp.feed(b"\n" * 150 + b"\x10\x04\x04" + b"more\n")
    vp.finish()
    # 30 dots a line: line 101 passes 3000 dots; the rest is discarded
    assert answer == b"\x72"
    assert vp.paper_out
    assert vp.warnings[0] == {"offset": 100, "message": "paper roll used up (3000 dots): paper out"}
    assert len(vp.receipts) == 1 and vp.receipts[0].image.height == 3030
    assert vp.warnings[-1]["message"] == "offline (paper out): LF discarded"


def test_warnings_are_capped_and_counted() -> None:
    vp = render(b"\x01" * 1500)
    assert len(vp.warnings) == 1001
    assert vp.warnings[999] == {"offset": 999, "message": "unexpected control byte 0x01"}
    assert vp.warnings[-1] == {"offset": 1499, "message": "500 more warnings not listed"}


def test_payterm_printer_render_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from payterm.cli import main

    stream = tmp_path / "in.bin"
    stream.write_bytes(python_escpos_receipt())
    capsys.readouterr()
    png = tmp_path / "r.png"
    assert main(["printer", "render", str(stream), "--png", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["receipts"] == 1 and out["png"] == [str(png)] and png.exists()
    assert main(["printer", "render", str(tmp_path / "missing.bin"), "--png", str(png)]) == 2
    assert "cannot read" in capsys.readouterr().err
