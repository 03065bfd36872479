"""nfcpy's own PN532 driver (nfcpy 1.0.4, nfc/clf/pn532.py) against the
emulator, through a pty bridged to its TCP port by socat: the way a person
points any PN532 tool at ``payterm nfc serve``.

nfcpy is a third party here: it runs its full init (GetFirmwareVersion,
SAMConfiguration, SetSerialBaudRate to 921600 and the reopen, the 262-byte
Diagnose line test, SetParameters, nine RFConfiguration items), senses a
type A card (InListPassiveTarget without automatic RATS, then its own
register reads), and activates ISO-DEP itself: RATS and I-blocks go through
InCommunicateThru, so our card-side ISO-DEP is checked against nfcpy's
initiator (block numbers, chaining both ways, presence check).

nfcpy finds a serial port only by its name under /dev (``tty:NAME:pn532``,
NAME matching [A-Za-z0-9-]+), so the pty's link goes there; that needs root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nfc
import nfc.clf
import nfc.tag
import nfc.tag.tt4
import pytest

from host_sim.nfc.iso7816_card import PPSE_NAME, Iso7816TestCard, fci
from host_sim.nfc.pn532_emulator import Pn532Emulator
from host_sim.nfc.rf_field import RfField
from host_sim.nfc.server import BackgroundServer
from protocols import pn532 as frames

pytestmark = pytest.mark.skipif(
    not os.access("/dev", os.W_OK),
    reason="nfcpy opens serial ports by name under /dev: the pty link needs root",
)


@contextmanager
def nfcpy_reader(field: RfField) -> Iterator[tuple[Any, BackgroundServer]]:
    socat = shutil.which("socat")
    assert socat, "socat is required (scripts/setup installs it)"
    with BackgroundServer(Pn532Emulator(field)) as server:
        name = f"payterm-nfcpy-{os.getpid()}"
        link = "/dev/" + name
        bridge = subprocess.Popen(
            [socat, f"pty,link={link},raw,echo=0", f"tcp:127.0.0.1:{server.port}"],
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 5
            while not os.path.exists(link):
                assert time.monotonic() < deadline, "socat made no pty"
                assert bridge.poll() is None, "socat exited"
                time.sleep(0.01)
            clf = nfc.ContactlessFrontend(f"tty:{name}:pn532")
            try:
                yield clf, server
            finally:
                clf.close()
        finally:
            bridge.terminate()
            bridge.wait(5)


SELECT = (0x00, 0xA4, 0x04, 0x00)


def test_nfcpy_initialises_senses_and_selects_the_ppse() -> None:
    card = Iso7816TestCard()
    with nfcpy_reader(RfField([card])) as (clf, server):
        assert "PN532v1.6" in str(clf.device)
        commands = server.emulator.commands
        for code in (0x02, 0x14, 0x10, 0x00, 0x12, 0x32):  # its whole init went through
            assert code in commands
        target = clf.sense(nfc.clf.RemoteTarget("106A"))
        assert target is not None
        # nfcpy keeps SENS_RES in air order (LSB first): our 00 04 reads 0400.
        assert (bytes(target.sens_res), bytes(target.sel_res), bytes(target.sdd_res)) == (
            b"\x04\x00",
            b"\x20",
            card.uid,
        )
        tag = nfc.tag.activate(clf, target)
        assert isinstance(tag, nfc.tag.tt4.Type4ATag)
        assert tag._dep.miu == 253  # FSC 256 from our ATS T0 = 78
        fci_bytes = tag.send_apdu(*SELECT, PPSE_NAME, mrl=256)
        assert bytes(fci_bytes) == fci(PPSE_NAME)
        with pytest.raises(nfc.tag.tt4.Type4TagCommandError) as error:
            tag.send_apdu(*SELECT, bytes.fromhex("A0000000041010"), mrl=256)
        assert error.value.errno == 0x6A82
        assert tag.is_present
    assert card.apdus[0] == bytes.fromhex("00A404000E") + PPSE_NAME + b"\x00"


def test_nfcpy_iso_dep_chaining_both_ways() -> None:
    card = Iso7816TestCard()
    with nfcpy_reader(RfField([card])) as (clf, _server):
        tag = nfc.tag.activate(clf, clf.sense(nfc.clf.RemoteTarget("106A")))
        payload = bytes((i * 13) & 0xFF for i in range(500))
        apdu = b"\x80\xee\x00\x00\x00" + len(payload).to_bytes(2, "big") + payload + b"\x00\x00"
        answer = tag.transceive(bytearray(apdu))
        assert bytes(answer) == payload + b"\x90\x00"
    assert card.apdus[-1] == apdu


def test_nfcpy_sees_no_card_in_an_empty_field() -> None:
    with nfcpy_reader(RfField()) as (clf, server):
        assert clf.sense(nfc.clf.RemoteTarget("106A")) is None
        # nfcpy told "no card" from "type 1 tag" by reading the REQA back from the FIFO.
        assert frames.READ_REGISTER in server.emulator.commands


def test_nfcpy_loses_a_removed_card() -> None:
    card = Iso7816TestCard()
    field = RfField([card])
    with nfcpy_reader(field) as (clf, _server):
        tag = nfc.tag.activate(clf, clf.sense(nfc.clf.RemoteTarget("106A")))
        tag.send_apdu(*SELECT, PPSE_NAME, mrl=256)
        field.remove(card)
        with pytest.raises(nfc.tag.tt4.Type4TagCommandError) as error:
            tag.send_apdu(*SELECT, PPSE_NAME, mrl=256)
        assert error.value.errno == nfc.tag.TIMEOUT_ERROR
        assert not tag.is_present


def test_nfcpy_with_two_cards_gets_the_anticollision_winner() -> None:
    low = Iso7816TestCard(uid=bytes.fromhex("08000002"))
    high = Iso7816TestCard(uid=bytes.fromhex("08000001"))
    with nfcpy_reader(RfField([low, high])) as (clf, _server):
        target = clf.sense(nfc.clf.RemoteTarget("106A"))
        assert bytes(target.sdd_res) == high.uid
