"""End to end: the fiscal journal under real MicroPython on the sim board
(littlefs on the board's fiscal flash), signed by the secure-element
emulator (hsm_sim/se) over the sim board's I2C channel through the firmware
driver and SecureElementApp; the export verified on the host with the SE's
public key.  Then the SE is locked by a tamper event: sales are refused, a
signer-failure record is kept, and the journal still verifies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from se_support import SeServer

import boards
from tools import fiscal_verify as fv
from tools import mpytest

SIM_HEAP = boards.load("sim")["memory"]["heap"]

SCRIPT = """
import os, boards
from firmware.drivers.se import SecureElement
from firmware.secure import SecureElementApp
from firmware.fiscal.journal import Journal
from firmware.fiscal import errors
import fiscal_scenario as S

board = boards.open_board("sim", flash_path=IMAGE)
fs = board.fiscal_fs("/fisc")
fs.mkdir("journal")
jfs = fs.sub("journal")
se = SecureElementApp(SecureElement(board.bus_for("secure_element"),
                                    board.device("secure_element")["addr"], board.rtc()))
print("PUBLIC " + se.generate_key().hex())
Journal.format(jfs, "PT-SIM-0042", S.T0)
j = Journal.open(jfs, se, S.T0)
S.representative(j, S.T0)
with open(EXPORT1, "wb") as out:
    print("TRAILER1 %s" % j.export(out, S.T0 + 500))
se.tamper()
try:
    j.sale([S.TEA], S.T0 + 600)
except errors.SignerFailed as e:
    print("REFUSED " + str(e))
with open(EXPORT2, "wb") as out:
    print("TRAILER2 %s" % j.export(out, S.T0 + 700))
fs.umount()
board.deinit()
print("DONE")
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SeServer]:
    srv = SeServer(tmp_path / "se.json")
    yield srv
    srv.close()


def test_journal_signed_by_the_secure_element(server: SeServer, tmp_path: Path) -> None:
    img, e1, e2 = tmp_path / "fiscal.img", tmp_path / "e1.exp", tmp_path / "e2.exp"
    head = f"IMAGE = {str(img)!r}\nEXPORT1 = {str(e1)!r}\nEXPORT2 = {str(e2)!r}\n"
    script = tmp_path / "fiscal_se.py"
    script.write_text(head + SCRIPT)
    proc = mpytest.run_script(
        script,
        SIM_HEAP,
        env={"PAYTERM_SIM_I2C0": f"127.0.0.1:{server.port}"},
        extra_path=[mpytest.MPY_TEST_DIR],
    )
    out = proc.stdout
    assert proc.returncode == 0 and "DONE" in out, out + proc.stderr
    lines = out.splitlines()
    public = next(ln[7:] for ln in lines if ln.startswith("PUBLIC "))
    acks = [int(ln[4:]) for ln in lines if ln.startswith("ACK ")]
    assert acks == list(range(1, 11))
    key = fv.load_public_key(public.encode())
    res = fv.verify(e1.read_bytes(), key)
    assert res.ok, res.problem
    assert res.records == 10 and res.z_reports == 1 and res.trailer
    assert res.signatures_checked == 11
    # tampered: the SE is locked, the sale refused, a signer-failure record
    # kept; no trailer can be signed any more
    assert any(ln.startswith("REFUSED secure element failed") for ln in lines)
    assert "TRAILER2 False" in lines
    data = e2.read_bytes()
    assert not fv.verify(data, key).ok  # no signed trailer
    res2 = fv.verify(data, key, require_trailer=False)
    assert res2.ok, res2.problem
    assert res2.records == 11 and res2.types["signer_failure"] == 1
    # and the SE's signatures do not verify under another key
    other = fv.load_public_key(
        bytes.fromhex(
            "04" + "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
            "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
        )
    )
    bad = fv.verify(e1.read_bytes(), other)
    assert bad.problem is not None and bad.problem.index == 0
