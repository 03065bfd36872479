"""`payterm crypto kcv|dukpt|mac|tr31`: the CLI contract (JSON out, exit 2 on bad input)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import psec
import pytest

from payterm.cli import main

VECTORS = Path(__file__).parent / "vectors"
K16 = "00" * 16


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(["crypto", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else out), err


def test_kcv(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "kcv", "--key", "5DB50B454F8389ADCE573BE50861F2BF")
    assert (code, out) == (0, {"kcv": "5C9405"})
    key = "3F419E1CB7079442AA37474C2EFBF8B8"
    assert run(capsys, "kcv", "--key", key, "--alg", "aes")[1] == {"kcv": "08793E"}
    assert run(capsys, "kcv", "--key", key, "--alg", "aes", "--length", "5")[1] == {
        "kcv": "08793E25AB"
    }


def test_dukpt_tdes(capsys: pytest.CaptureFixture[str]) -> None:
    v = json.loads((VECTORS / "dukpt_tdes_x9_24_1.json").read_text())
    code, out, _ = run(
        capsys, "dukpt", "--bdk", v["bdk"], "--ksn", "FFFF9876543210E00001", "--alg", "tdes"
    )
    assert code == 0
    assert out["initial_key"] == v["initial_key"]
    assert {"initial_key", "pin", "mac", "data"} <= set(out)
    # PIN key = current key XOR the PIN variant (last byte of each half).
    cur = bytes.fromhex(v["sequence"][0]["current_key"])
    assert (
        out["pin"]
        == bytes(b ^ (0xFF if i in (7, 15) else 0) for i, b in enumerate(cur)).hex().upper()
    )


@pytest.mark.parametrize("alg", ["aes128", "aes256"])
def test_dukpt_aes(capsys: pytest.CaptureFixture[str], alg: str) -> None:
    v = json.loads((VECTORS / "dukpt_aes_x9_24_3.json").read_text())
    ksn = v["initial_key_id"] + "00000001"
    if alg == "aes128":
        bdk = v["aes128"]["bdk"]
        want = v["aes128"]["all_usages_counter_1"]
        ik = v["aes128"]["initial_key"]
    else:
        bdk = v["aes256"]["bdk"]
        want = v["aes256"]["working_keys_aes256_counter_1"]
        ik = v["aes256"]["initial_key"]
    code, out, _ = run(capsys, "dukpt", "--bdk", bdk, "--ksn", ksn, "--alg", alg)
    assert code == 0
    assert out["initial_key"] == ik
    assert out["pin"] == want["pin_encryption"]
    assert out["mac"] == want["mac_generation"]
    assert out["data"] == want["data_encrypt"]


def test_mac(capsys: pytest.CaptureFixture[str]) -> None:
    warnings.filterwarnings("ignore", message=".*TripleDES.*")
    key = "0123456789ABCDEFFEDCBA9876543210"
    data = "4E6F77206973207468652074696D6520666F7220616C6C20"
    for padding, args in ((1, ()), (2, ("--padding", "2")), (3, ("--padding", "3"))):
        want = psec.mac.generate_retail_mac(
            bytes.fromhex(key[:16]), bytes.fromhex(key[16:]), bytes.fromhex(data), padding
        )
        out = run(capsys, "mac", "--alg", "retail", "--key", key, "--data", data, *args)[1]
        assert out == {"mac": want.hex().upper()}
        want = psec.mac.generate_cbc_mac(bytes.fromhex(key), bytes.fromhex(data), padding)
        out = run(capsys, "mac", "--alg", "cbc", "--key", key, "--data", data, *args)[1]
        assert out == {"mac": want.hex().upper()}
    rfc = json.loads((VECTORS / "cmac_rfc4493.json").read_text())["cases"][1]
    out = run(capsys, "mac", "--alg", "cmac-aes", "--key", rfc["key"], "--data", rfc["message"])
    assert out[1] == {"mac": rfc["mac"]}
    sp = [c for c in json.loads((VECTORS / "cmac_sp800_38b.json").read_text())["cases"]]
    tdes = [c for c in sp if c["alg"] == "tdes"][2]
    out = run(capsys, "mac", "--alg", "cmac-tdes", "--key", tdes["key"], "--data", tdes["message"])
    assert out[1] == {"mac": tdes["mac"]}


def test_tr31_wrap_reproduces_published_block(capsys: pytest.CaptureFixture[str]) -> None:
    case = json.loads((VECTORS / "tr31_examples.json").read_text())["cases"][2]
    code, out, _ = run(
        capsys,
        "tr31", "wrap",
        "--kbpk", case["kbpk"],
        "--header", "D0000P0AE00E0000",
        "--key", case["key"],
        "--random", case["padding"],
    )  # fmt: skip
    assert (code, out) == (0, {"block": case["block"]})


def test_tr31_unwrap(capsys: pytest.CaptureFixture[str]) -> None:
    case = json.loads((VECTORS / "tr31_examples.json").read_text())["cases"][1]
    code, out, _ = run(capsys, "tr31", "unwrap", "--kbpk", case["kbpk"], "--block", case["block"])
    assert code == 0
    assert out["key"] == case["key"]
    assert out["header"] == case["block"][:40]
    assert out["optional_blocks"] == [["KS", "00604B120F9292800000"]]


def test_tr31_round_trip_random_padding(capsys: pytest.CaptureFixture[str]) -> None:
    kbpk = "00112233445566778899AABBCCDDEEFF"
    key = "0123456789ABCDEFFEDCBA9876543210"
    blocks = set()
    for _ in range(2):
        code, out, _ = run(
            capsys, "tr31", "wrap", "--kbpk", kbpk, "--header", "B0000K0TB00E0000", "--key", key
        )
        assert code == 0
        blocks.add(out["block"])
        back = run(capsys, "tr31", "unwrap", "--kbpk", kbpk, "--block", out["block"])[1]
        assert back["key"] == key
    assert len(blocks) == 2  # fresh random padding each time


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("kcv", "--key", "XYZ"), "not valid hex"),
        (("kcv", "--key", "0011"), "8, 16 or 24"),
        (("kcv", "--key", "00" * 16, "--alg", "aes", "--length", "17"), "KCV length"),
        (("dukpt", "--bdk", "00" * 16, "--ksn", "00" * 9, "--alg", "tdes"), "10 bytes"),
        (("dukpt", "--bdk", "00" * 16, "--ksn", "00" * 12, "--alg", "aes256"), "32 bytes"),
        (("dukpt", "--bdk", "00" * 16, "--ksn", "00" * 12, "--alg", "aes128"), "counter"),
        (("mac", "--alg", "retail", "--key", "00" * 24, "--data", "00"), "16 bytes"),
        (
            ("mac", "--alg", "cmac-aes", "--key", "00" * 16, "--data", "", "--padding", "2"),
            "padding",
        ),
        (("tr31", "unwrap", "--kbpk", "00" * 16, "--block", "B0016P0TE00E0000"), "too short"),
        (
            (
                "tr31",
                "wrap",
                "--kbpk",
                K16,
                "--header",
                "B0000P0TE00E0000",
                "--key",
                K16,
                "--random",
                "00",
            ),
            "padding must be 6",
        ),
        (
            ("tr31", "wrap", "--kbpk", K16, "--header", "B0000P0TG00E0000", "--key", K16),
            "mode of use",
        ),
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err


def test_wrong_kbpk_exits_2_without_leaking(capsys: pytest.CaptureFixture[str]) -> None:
    case = json.loads((VECTORS / "tr31_examples.json").read_text())["cases"][2]
    wrong = "11" + case["kbpk"][2:]
    code, _out, err = run(capsys, "tr31", "unwrap", "--kbpk", wrong, "--block", case["block"])
    assert code == 2
    assert "MAC does not verify" in err
    assert case["key"] not in err and wrong not in err
