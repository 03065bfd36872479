"""`payterm crypto` card operations: the CLI contract (JSON out, upper-case
hex, exit 2 with a message on stderr for bad input) against published values."""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

import pytest

from hsm_sim.crypto.keys import kcv_tdes
from payterm.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:TripleDES has been moved")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pyemv.cvn

IMK = "0123456789ABCDEFFEDCBA9876543210"
AES_KEY = "00112233445566778899AABBCCDDEEFF"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code = main(["crypto", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    result: dict[str, Any] = json.loads(out)
    return result


def fails(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(["crypto", *argv])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.strip()
    return err


def test_pinblock_encode_clear_format0_published(capsys: pytest.CaptureFixture[str]) -> None:
    got = run(capsys, "pinblock", "encode", "--format", "0", "--pin", "1234",
              "--pan", "43219876543210987")  # fmt: skip
    assert got == {"block": "0412AC89ABCDEF67"}
    got = run(capsys, "pinblock", "decode", "--format", "0", "--block", "0412ac89abcdef67",
              "--pan", "43219876543210987")  # fmt: skip
    assert got == {"pin": "1234"}


def test_pinblock_format3_fill_makes_it_reproducible(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ("pinblock", "encode", "--format", "3", "--pin", "123456", "--pan",
            "1112223334445550", "--fill", "AFBECDDC")  # fmt: skip
    assert run(capsys, *argv) == {"block": "361216759CFA8889"}
    assert run(capsys, *argv) == {"block": "361216759CFA8889"}


def test_pinblock_format4_aes_published(capsys: pytest.CaptureFixture[str]) -> None:
    block = "E4BE5B623AF7E006AC319E5B93544564"
    got = run(capsys, "pinblock", "encode", "--format", "4", "--pin", "1234", "--pan",
              "1234567890123456", "--key", AES_KEY, "--fill", "E63A8727CB39CB3A")  # fmt: skip
    assert got == {"block": block}
    got = run(capsys, "pinblock", "decode", "--format", "4", "--block", block, "--pan",
              "1234567890123456", "--key", AES_KEY)  # fmt: skip
    assert got == {"pin": "1234"}
    # Without --key, format 4 gives the plain-text PIN field.
    got = run(capsys, "pinblock", "encode", "--format", "4", "--pin", "1234",
              "--fill", "548ED7FD65495950")  # fmt: skip
    assert got == {"block": "441234AAAAAAAAAA548ED7FD65495950"}


def test_pinblock_tdes_round_trip_and_translate(capsys: pytest.CaptureFixture[str]) -> None:
    pan = "4111111111111111"
    enc = run(capsys, "pinblock", "encode", "--format", "0", "--pin", "98765", "--pan", pan,
              "--key", IMK)["block"]  # fmt: skip
    assert len(enc) == 16 and enc == enc.upper() and enc != "0598765FFFFFFFFF"
    got = run(capsys, "pinblock", "decode", "--format", "0", "--block", enc, "--pan", pan,
              "--key", IMK)  # fmt: skip
    assert got == {"pin": "98765"}
    moved = run(capsys, "pinblock", "translate", "--block", enc, "--from-format", "0",
                "--from-key", IMK, "--to-format", "4", "--to-key", AES_KEY,
                "--pan", pan)["block"]  # fmt: skip
    assert len(moved) == 32
    got = run(capsys, "pinblock", "decode", "--format", "4", "--block", moved, "--pan", pan,
              "--key", AES_KEY)  # fmt: skip
    assert got == {"pin": "98765"}


def test_cvv_published(capsys: pytest.CaptureFixture[str]) -> None:
    got = run(capsys, "cvv", "--cvk", IMK, "--pan", "4123456789012345", "--expiry", "8701",
              "--service-code", "101")  # fmt: skip
    assert got == {"cvv": "561"}


def test_pvv_and_ibm_offset_published(capsys: pytest.CaptureFixture[str]) -> None:
    got = run(capsys, "pvv", "--pvk", IMK, "--pan", "1122334455667788", "--pvki", "3",
              "--pin", "4524")  # fmt: skip
    assert got == {"pvv": "4021"}
    got = run(capsys, "ibm-offset", "--pvk", IMK, "--pin", "1234", "--validation-data",
              "1122334455667788", "--table", "1234567890123456")  # fmt: skip
    assert got == {"offset": "7710"}


CVN18_DATA = (
    "000000004000" "000000000000" "0124" "8000048000" "0124" "191105" "01" "52BF4585" "1800"
    "001C" "06011203A0B800"
)  # fmt: skip


def test_arqc_cvn18_and_arpc_method2_published(capsys: pytest.CaptureFixture[str]) -> None:
    # pyemv tests/test_cvn_hsm.py test_visa_cvn18: ARQC 7A788EA6B8A3E733, ARPC 9AF514C1.
    got = run(capsys, "arqc", "--imk", IMK, "--pan", "1234567890123456", "--psn", "00",
              "--atc", "001C", "--data", CVN18_DATA, "--cvn", "18")  # fmt: skip
    assert got["arqc"] == "7A788EA6B8A3E733"
    card = pyemv.cvn.VisaCVN18(bytes.fromhex(IMK), bytes(16), bytes(16), "1234567890123456", "00")
    assert got["icc_mk"] == card.icc_mk_ac.hex().upper()
    assert len(got["session_key"]) == 32 and got["session_key"] != got["icc_mk"]
    arpc = run(capsys, "arpc", "--method", "2", "--key", got["session_key"], "--arqc",
               got["arqc"], "--csu", "00000000")  # fmt: skip
    assert arpc == {"arpc": "9AF514C1"}


def test_arqc_cvn10_session_key_is_the_icc_mk(capsys: pytest.CaptureFixture[str]) -> None:
    # pyemv tests/test_cvn_hsm.py test_visa_cvn10: ARQC 29CCA15AE665FA2E, ARPC 28993816AFAE4AEB.
    data = CVN18_DATA[: -len("06011203A0B800")] + "03A06010"
    got = run(capsys, "arqc", "--imk", IMK, "--pan", "1234567890123456", "--psn", "00",
              "--atc", "001C", "--data", data, "--cvn", "10")  # fmt: skip
    assert got["arqc"] == "29CCA15AE665FA2E"
    assert got["session_key"] == got["icc_mk"]
    arpc = run(capsys, "arpc", "--method", "1", "--key", got["icc_mk"], "--arqc", got["arqc"],
               "--arc", "3030")  # fmt: skip
    assert arpc == {"arpc": "28993816AFAE4AEB"}


def test_arqc_option_b_long_pan(capsys: pytest.CaptureFixture[str]) -> None:
    a = run(capsys, "arqc", "--imk", IMK, "--pan", "12345678901234567", "--psn", "45",
            "--atc", "0001", "--data", "00", "--option", "a")  # fmt: skip
    b = run(capsys, "arqc", "--imk", IMK, "--pan", "12345678901234567", "--psn", "45",
            "--atc", "0001", "--data", "00", "--option", "b")  # fmt: skip
    assert a["icc_mk"] != b["icc_mk"]
    # pyemv test_kd_hsm.test_derive_icc_mk_b_pan17_psn: option B ICC MK KCV 0BAF.
    assert kcv_tdes(bytes.fromhex(b["icc_mk"]), 2).hex().upper() == "0BAF"


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (("pinblock", "encode", "--format", "0", "--pin", "12", "--pan", "4111111111111"), "PIN"),
        (("pinblock", "encode", "--format", "0", "--pin", "1234"), "PAN"),
        (("pinblock", "encode", "--format", "7", "--pin", "1234"), "invalid choice"),
        (("pinblock", "encode", "--format", "0", "--pin", "1234", "--pan", "4111111111111111",
          "--key", "XYZ"), "not valid hex"),
        (("pinblock", "encode", "--format", "4", "--pin", "1234", "--pan", "4111111111111111",
          "--key", "0011"), "AES key"),
        (("pinblock", "decode", "--format", "2", "--block", "141234FFFFFFFFFF"), "control"),
        (("pinblock", "decode", "--format", "4", "--block", "E4BE5B623AF7E006AC319E5B93544564",
          "--pan", "1234567890123457", "--key", AES_KEY), "pin_length|control|fill|decimal"),
        (("pinblock", "translate", "--block", "00" * 8, "--from-format", "0", "--from-key", IMK,
          "--to-format", "1", "--to-key", IMK, "--pan", "4111111111111111"), "refused"),
        (("cvv", "--cvk", "0011", "--pan", "4123456789012345", "--expiry", "8701",
          "--service-code", "101"), "CVK"),
        (("cvv", "--cvk", IMK, "--pan", "4123456789012345", "--expiry", "87",
          "--service-code", "101"), "expiry"),
        (("arqc", "--imk", IMK, "--pan", "4111111111111111", "--psn", "0", "--atc", "0001",
          "--data", "00"), "sequence"),
        (("arqc", "--imk", IMK, "--pan", "4111111111111111", "--psn", "00", "--atc", "01",
          "--data", "00"), "--atc"),
        (("arqc", "--imk", IMK, "--pan", "4111111111111111", "--psn", "00", "--atc", "0001",
          "--data", "00", "--cvn", "16"), "unpredictable"),
        (("arqc", "--imk", IMK, "--pan", "4111111111111111", "--psn", "00", "--atc", "0001",
          "--data", "00", "--cvn", "99"), "invalid choice"),
        (("arpc", "--method", "1", "--key", IMK, "--arqc", "00" * 8), "--arc"),
        (("arpc", "--method", "2", "--key", IMK, "--arqc", "00" * 8, "--arc", "3030"), "--csu"),
        (("arpc", "--method", "2", "--key", IMK, "--arqc", "00" * 8, "--csu", "00" * 4,
          "--prop-data", "00" * 9), "0 to 8"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_a_message(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], match: str
) -> None:
    err = fails(capsys, *argv)
    assert re.search(match, err), err
