"""`payterm qr` end to end: decode -> encode gives back every published
payload byte for byte, CRC and conformance failures exit 2, and render
writes a PNG that a real QR decoder (zbar, through pyzbar) reads back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pyzbar.pyzbar import ZBarSymbol
from pyzbar.pyzbar import decode as zbar_decode

from payterm.cli import main

VECTOR_DIR = Path(__file__).parent / "vectors"
PAYLOADS = json.loads((VECTOR_DIR / "emvqr_payloads.json").read_text(encoding="utf-8"))
CLIQ = json.loads((VECTOR_DIR / "emvqr_cliq.json").read_text(encoding="utf-8"))
VALID = PAYLOADS["valid"]
EMVCO_EXAMPLE = VALID[0]["payload"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["qr", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _flags(row: dict[str, Any]) -> list[str]:
    return [] if row["conforms"] else ["--lenient"]


def _ids_in_order(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["id"] for entry in entries]


@pytest.mark.parametrize("row", VALID, ids=[r["name"] for r in VALID])
def test_decode_then_encode_gives_the_payload_back(
    row: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "decode", row["payload"], *_flags(row))
    assert code == 0
    decoded = json.loads(out)
    assert decoded["crc_ok"] is True
    assert decoded["payload"] == row["payload"]
    document = tmp_path / "decoded.json"
    document.write_text(out, encoding="utf-8")
    code, out, _ = run(capsys, "encode", str(document), *_flags(row))
    assert code == 0
    assert json.loads(out)["payload"].encode() == row["payload"].encode()
    code, out, _ = run(capsys, "encode", "--raw", str(document), *_flags(row))
    assert (code, out) == (0, row["payload"] + "\n")


def test_decode_json_shape_keeps_order_and_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "decode", EMVCO_EXAMPLE)
    assert code == 0
    decoded = json.loads(out)
    objects = decoded["objects"]
    assert _ids_in_order(objects) == (
        ["00", "01", "29", "31", "52", "58", "59", "60", "64", "54", "53", "55", "62", "91", "63"]
    )
    assert objects[2] == {
        "id": "29",
        "name": "Merchant Account Information",
        "objects": [
            {"id": "00", "name": "Globally Unique Identifier", "value": "D15600000000"},
            {"id": "05", "name": "Payment Network Specific", "value": "A93FO3230Q"},
        ],
    }
    language = objects[8]
    assert language["objects"][1] == {
        "id": "01",
        "name": "Merchant Name - Alternate Language",
        "value": "最佳运输",
    }
    assert objects[12]["objects"][3]["name"] == "Additional Consumer Data Request"
    assert objects[-1] == {"id": "63", "name": "CRC", "value": "A13A"}
    assert decoded["crc"] == {"found": "A13A", "computed": "A13A"}
    assert decoded["problems"] == []


def test_sgqr_payment_system_template_inside_62(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "decode", VALID[1]["payload"])
    assert code == 0
    additional = next(o for o in json.loads(out)["objects"] if o["id"] == "62")
    assert additional["objects"][2]["name"] == "Payment System Specific Template"
    assert additional["objects"][2]["objects"][0]["value"] == "SG.COM.DASH.WWW"


def test_non_conforming_payload_exits_2_unless_lenient(
    capsys: pytest.CaptureFixture[str],
) -> None:
    promptpay = next(r for r in VALID if not r["conforms"])
    code, out, err = run(capsys, "decode", promptpay["payload"])
    assert (code, out) == (2, "")
    assert "Merchant Category Code is missing" in err and "tag 52" in err
    code, out, _ = run(capsys, "decode", "--lenient", promptpay["payload"])
    assert code == 0
    paths = [p["path"] for p in json.loads(out)["problems"]]
    assert paths == promptpay["problems"]


@pytest.mark.parametrize("row", PAYLOADS["invalid"], ids=[r["name"] for r in PAYLOADS["invalid"]])
def test_invalid_payload_exits_2(row: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "decode", row["payload"], "--lenient")
    assert (code, out) == (2, "")
    assert err.startswith("payterm qr: ")
    if row["error"] == "crc":
        assert row["computed_crc"] in err and row["payload"][-4:] in err


def test_wrong_crc_with_no_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tampered = EMVCO_EXAMPLE[:-4] + "0000"
    code, out, _ = run(capsys, "decode", "--no-verify", tampered)
    assert code == 0
    decoded = json.loads(out)
    assert decoded["crc_ok"] is False
    assert decoded["crc"] == {"found": "0000", "computed": "A13A"}
    document = tmp_path / "tampered.json"
    document.write_text(out, encoding="utf-8")
    code, out, _ = run(capsys, "encode", "--raw", str(document))
    assert (code, out) == (0, EMVCO_EXAMPLE + "\n")  # encode writes the right CRC


def test_encode_after_editing_recomputes_crc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "decode", EMVCO_EXAMPLE)
    decoded = json.loads(out)
    decoded["objects"][6]["value"] = "BETTER TRANSPORT"
    document = tmp_path / "edited.json"
    document.write_text(json.dumps(decoded, ensure_ascii=False), encoding="utf-8")
    code, out, _ = run(capsys, "encode", str(document))
    assert code == 0
    payload = json.loads(out)["payload"]
    assert "5916BETTER TRANSPORT" in payload
    code, out, _ = run(capsys, "decode", payload)
    assert code == 0 and json.loads(out)["crc_ok"] is True


def test_encode_accepts_a_bare_object_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "decode", VALID[2]["payload"])
    document = tmp_path / "list.json"
    document.write_text(json.dumps(json.loads(out)["objects"]), encoding="utf-8")
    code, out, _ = run(capsys, "encode", "--raw", str(document))
    assert (code, out) == (0, VALID[2]["payload"] + "\n")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"objects": [{"id": "00", "value": "01", "colour": "red"}]}, "unknown keys"),
        ({"objects": [{"id": "00", "value": "01", "objects": []}]}, "exactly one"),
        ({"objects": [{"id": "00", "value": 1}]}, '"value" must be a string'),
        ({"objects": [{"id": 0, "value": "01"}]}, '"id" must be a string'),
        ({"objects": [{"id": "0A", "value": "01"}]}, "ID must be 2 digits"),
        ({"objects": [{"id": "26", "value": "flat"}]}, "holds a template"),
        ({"objects": "00020101"}, "expected a list"),
        ({"objects": ["00"]}, "expected an object"),
        ({"payload": "0002"}, 'no "objects"'),
        ({"objects": [], "extra": 1}, "unknown keys"),
        ([{"id": "59", "value": "x" * 100}], "at most 99"),
        ([{"id": "00", "value": "01"}], "is missing"),
    ],
)
def test_encode_rejects_bad_documents(
    document: Any, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    code, out, err = run(capsys, "encode", str(path))
    assert (code, out) == (2, "")
    assert message in err


def test_encode_rejects_non_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json", encoding="utf-8")
    code, _, err = run(capsys, "encode", str(path))
    assert code == 2 and "not JSON" in err
    code, _, err = run(capsys, "encode", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read" in err


# ----------------------------------------------------------------- render


def _zbar_text(png: Path) -> str:
    results = zbar_decode(Image.open(png), symbols=[ZBarSymbol.QRCODE])
    assert len(results) == 1
    return results[0].data.decode("utf-8")


@pytest.mark.parametrize("row", VALID, ids=[r["name"] for r in VALID])
def test_render_is_read_back_by_zbar(
    row: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "qr.png"
    code, out, _ = run(capsys, "render", row["payload"], "--png", str(png), *_flags(row))
    assert code == 0
    report = json.loads(out)
    assert report["ecc"] == "M"
    assert report["pixels"] == [(report["modules"] + 8) * 8] * 2
    assert Image.open(png).size == tuple(report["pixels"])
    assert _zbar_text(png) == row["payload"]


@pytest.mark.parametrize(("ecc", "scale", "border"), [("L", 3, 4), ("Q", 5, 2), ("H", 4, 6)])
def test_render_options(
    ecc: str, scale: int, border: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "qr.png"
    argv = ["render", EMVCO_EXAMPLE, "--png", str(png), "--ecc", ecc]
    code, out, _ = run(capsys, *argv, "--scale", str(scale), "--border", str(border))
    assert code == 0
    report = json.loads(out)
    assert report["ecc"] == ecc
    assert report["pixels"] == [(report["modules"] + 2 * border) * scale] * 2
    image = Image.open(png).convert("L")
    assert image.getpixel((0, 0)) == 255  # quiet zone is light
    assert image.getpixel((border * scale, border * scale)) == 0  # finder corner is dark
    assert _zbar_text(png) == EMVCO_EXAMPLE


def test_higher_ecc_needs_a_larger_symbol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sizes = []
    for ecc in "LH":
        _, out, _ = run(
            capsys, "render", EMVCO_EXAMPLE, "--png", str(tmp_path / "q.png"), "--ecc", ecc
        )
        sizes.append(json.loads(out)["modules"])
    assert sizes[0] < sizes[1]


def test_render_refuses_a_wrong_crc_unless_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered = EMVCO_EXAMPLE[:-4] + "0000"
    png = tmp_path / "qr.png"
    code, out, err = run(capsys, "render", tampered, "--png", str(png))
    assert (code, out) == (2, "") and "CRC mismatch" in err
    assert not png.exists()
    code, _, _ = run(capsys, "render", tampered, "--png", str(png), "--no-verify")
    assert code == 0 and _zbar_text(png) == tampered


@pytest.mark.parametrize("option", [["--scale", "0"], ["--border", "-1"], ["--ecc", "X"]])
def test_render_rejects_bad_options(
    option: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(capsys, "render", EMVCO_EXAMPLE, "--png", str(tmp_path / "q.png"), *option)
    assert code == 2


def test_render_unwritable_path_is_an_operational_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(capsys, "render", EMVCO_EXAMPLE, "--png", str(tmp_path / "no" / "q.png"))
    assert code == 1


# ------------------------------------------------------------------- cliq


@pytest.mark.parametrize("row", CLIQ["built"], ids=[r["args"]["alias_type"] for r in CLIQ["built"]])
def test_cliq_prints_profile_fields(
    row: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "cliq", row["payload"])
    assert code == 0
    fields = json.loads(out)
    for name, value in row["args"].items():
        assert fields[name] == value, name
    assert fields["dynamic"] == (row["builder"] == "dynamic")
    assert fields["crc_ok"] is True


@pytest.mark.parametrize("row", CLIQ["rejected"], ids=[r["name"] for r in CLIQ["rejected"]])
def test_cliq_rejects_profile_violations(
    row: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "cliq", row["payload"])
    assert (code, out) == (2, "")
    assert "tag " + row["tag"] in err


# -------------------------------------------------------- console script


def test_console_script_reads_stdin(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "payterm", "qr", "decode", "-"]
    done = subprocess.run(
        command,
        input=EMVCO_EXAMPLE + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (tmp_path / "d.json").write_text(done.stdout, encoding="utf-8")
    command = [sys.executable, "-m", "payterm", "qr", "encode", "--raw", "-"]
    done = subprocess.run(
        command, input=done.stdout, capture_output=True, text=True, encoding="utf-8", check=False
    )
    assert (done.returncode, done.stdout) == (0, EMVCO_EXAMPLE + "\n")
