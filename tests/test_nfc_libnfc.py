"""libnfc 1.8.0 (Debian package libnfc-bin) against the emulator: a second,
independent PN532 host stack (C, pn532_uart driver) through a socat pty.

``nfc-list`` wakes the chip the HSU way (55 55 00…), runs SAMConfiguration,
a Diagnose echo of "libnfc", GetFirmwareVersion, its register and
RFConfiguration set-up, then polls type A targets one after another
(InListPassiveTarget, InDeselect, poll again) and prints what the PN532
reported: ATQA, UID, SAK and the ATS it decodes.  The test reads that text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from host_sim.nfc.iso7816_card import Iso7816TestCard
from host_sim.nfc.pn532_emulator import Pn532Emulator
from host_sim.nfc.rf_field import RfField
from host_sim.nfc.server import BackgroundServer

NFC_LIST = shutil.which("nfc-list")
pytestmark = pytest.mark.skipif(
    NFC_LIST is None, reason="libnfc-bin is not installed (apt-get install libnfc-bin)"
)


@contextmanager
def pty_reader(field: RfField, tmp_link: str) -> Iterator[tuple[str, BackgroundServer]]:
    socat = shutil.which("socat")
    assert socat, "socat is required (scripts/setup installs it)"
    with BackgroundServer(Pn532Emulator(field)) as server:
        bridge = subprocess.Popen(
            [socat, f"pty,link={tmp_link},raw,echo=0", f"tcp:127.0.0.1:{server.port}"],
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 5
            while not os.path.lexists(tmp_link):
                assert time.monotonic() < deadline and bridge.poll() is None, "no pty"
                time.sleep(0.01)
            yield os.path.realpath(tmp_link), server
        finally:
            bridge.terminate()
            bridge.wait(5)


def nfc_list(pty: str) -> str:
    assert NFC_LIST is not None
    env = dict(os.environ, LIBNFC_DEVICE=f"pn532_uart:{pty}", LIBNFC_LOG_LEVEL="0")
    proc = subprocess.run(
        [NFC_LIST, "-v", "-t", "1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_libnfc_lists_the_card_as_the_pn532_reports_it(tmp_path: os.PathLike[str]) -> None:
    card = Iso7816TestCard()
    with pty_reader(RfField([card]), f"{tmp_path}/pn532") as (pty, server):
        text = nfc_list(pty)
        assert 0x00 in server.emulator.commands  # its Diagnose echo went through
    assert "1 ISO14443A passive target(s) found" in text
    assert "ATQA (SENS_RES): 00  04" in text
    assert "UID (NFCID3): 08  a1  b2  c3" in text
    assert "SAK (SEL_RES): 20" in text
    assert "Compliant with ISO/IEC 14443-4" in text
    assert "ATS: 78  80  70  02" in text  # libnfc prints the ATS after TL
    assert "Max Frame Size accepted by PICC: 256 bytes" in text
    assert "Frame Waiting Time: 38.66 ms" in text


def test_libnfc_lists_two_cards_in_anticollision_order(tmp_path: os.PathLike[str]) -> None:
    low = Iso7816TestCard(uid=bytes.fromhex("08000002"))
    high = Iso7816TestCard(uid=bytes.fromhex("08000001"))
    with pty_reader(RfField([low, high]), f"{tmp_path}/pn532") as (pty, _server):
        text = nfc_list(pty)
    assert "2 ISO14443A passive target(s) found" in text
    first = text.index("UID (NFCID3): 08  00  00  01")
    second = text.index("UID (NFCID3): 08  00  00  02")
    assert first < second


def test_libnfc_finds_nothing_in_an_empty_field(tmp_path: os.PathLike[str]) -> None:
    with pty_reader(RfField(), f"{tmp_path}/pn532") as (pty, _server):
        text = nfc_list(pty)
    assert "NFC device: user defined device opened" in text
    assert "0 ISO14443A passive target(s) found." in text
