"""The PN532 driver under the real MicroPython unix port (the sim board's 1M
heap) talking to the PN532 emulator over loopback TCP, the way the firmware
runs on the sim board: ``PAYTERM_SIM_UART1`` points the board's nfc UART at
the emulator, ``board.bus_for("nfc")`` and ``board.rtc()`` go to the driver.

Proves: a PPSE read end to end; 600-byte APDUs through chaining both ways;
garbage on the line in both directions and a corrupt response (NACK) are
survived; a card removed in the middle of a chained exchange is a typed
TargetTimeout, the emulator keeps serving and finds the card again; two cards
are a CardCollision; a silent peer is an AckTimeout within its bound.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import boards
from host_sim.nfc.iso7816_card import PPSE_NAME, Iso7816TestCard, fci
from host_sim.nfc.pn532_emulator import Output, Pn532Emulator
from host_sim.nfc.profiles import load_card
from host_sim.nfc.rf_field import RfField
from host_sim.nfc.server import BackgroundServer
from protocols import pn532 as frames
from tools import mpytest

SIM_HEAP = boards.load("sim")["memory"]["heap"]

PRELUDE = """
import json
import boards
from firmware.drivers.pn532 import (AckTimeout, CardCollision, PN532Error,
    PN532StatusError, TargetTimeout, for_board)
def out(**kw):
    print("OUT " + json.dumps(kw))
board = boards.open_board("sim")
reader = for_board(board)  # the sim board's ACK timeout (board data)
SELECT_PPSE = bytes.fromhex("00A404000E325041592E5359532E444446303100")
def echo_apdu(payload):
    return b"\\x80\\xee\\x00\\x00\\x00" + len(payload).to_bytes(2, "big") + payload + b"\\x00\\x00"
"""


def run_mpy(tmp_path: Path, port: int, body: str) -> list[dict[str, Any]]:
    path = tmp_path / "nfc_script.py"
    path.write_text(PRELUDE + body)
    env = {"PAYTERM_SIM_UART1": f"127.0.0.1:{port}"}
    proc = mpytest.run_script(path, SIM_HEAP, env=env, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return mpytest.json_lines(proc.stdout)


def merged(lines: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for line in lines:
        result.update(line)
    return result


READ_PPSE = """
reader.start()
out(version=list(reader.firmware_version()))
card = reader.activate()
out(uid=card.uid.hex(), atqa=card.atqa.hex(), sak=card.sak, ats=card.ats.hex())
out(ppse=card.exchange_apdu(SELECT_PPSE).hex())
payload = bytes((i * 7) & 0xFF for i in range(600))
answer = card.exchange_apdu(echo_apdu(payload))
out(echo_ok=answer == payload + b"\\x90\\x00", echo_len=len(answer))
reader.release()
reader.rf_off()
out(done=True)
"""


def test_reads_the_ppse_and_chains_600_bytes_each_way(tmp_path: Path) -> None:
    card = Iso7816TestCard()
    with BackgroundServer(Pn532Emulator(RfField([card]))) as server:
        got = merged(run_mpy(tmp_path, server.port, READ_PPSE))
        assert server.emulator.commands.count(frames.IN_DATA_EXCHANGE) >= 6
    assert got["version"] == [0x32, 1, 6, 7]
    assert (got["uid"], got["atqa"], got["sak"], got["ats"]) == (
        card.uid.hex(),
        "0004",
        0x20,
        card.ats.hex(),
    )
    assert bytes.fromhex(got["ppse"]) == fci(PPSE_NAME) + b"\x90\x00"
    assert got["echo_ok"] is True and got["echo_len"] == 602
    assert got["done"] is True
    assert card.apdus[0].hex().upper() == "00A404000E325041592E5359532E444446303100"


class NoisyLine(Pn532Emulator):
    """The real emulator behind a bad line: noise before every frame it sends,
    and the first InDataExchange answer corrupted once (its DCS flipped)."""

    def __init__(self, field: RfField) -> None:
        super().__init__(field)
        self.corrupted = 0

    def receive(self, data: bytes) -> list[Output]:
        outputs = []
        for output in super().receive(data):
            raw = output.data
            if not self.corrupted and raw[5:7] == bytes((0xD5, 0x41)):
                bad = bytearray(raw)
                bad[-2] ^= 0xFF
                raw = bytes(bad)
                self.corrupted += 1
            outputs.append(Output(output.delay_s, b"\x00\xff\x13\x37\xaa" + raw))
        return outputs


GARBAGE_BOTH_WAYS = """
reader.start()
# junk and a half frame from our side
board.bus_for("nfc").write(b"\\xde\\xad\\x00\\xff\\x00\\x00\\xff\\x05")
card = reader.activate()
out(ppse=card.exchange_apdu(SELECT_PPSE).hex())
out(nacks=reader.link.nacks_sent, noise=reader.link.noise_bytes)
out(version=list(reader.firmware_version()))
"""


def test_garbage_on_the_line_and_a_corrupt_answer_are_survived(tmp_path: Path) -> None:
    with BackgroundServer(NoisyLine(RfField([Iso7816TestCard()]))) as server:
        got = merged(run_mpy(tmp_path, server.port, GARBAGE_BOTH_WAYS))
        assert server.emulator.nacks_received == 1
        assert server.emulator.corrupt_frames >= 1  # our junk: a LEN 0 frame
    assert bytes.fromhex(got["ppse"]) == fci(PPSE_NAME) + b"\x90\x00"
    assert got["nacks"] == 1
    assert got["noise"] > 20
    assert got["version"] == [0x32, 1, 6, 7]


REMOVED = """
reader.start()
card = reader.activate()
out(ppse=card.exchange_apdu(SELECT_PPSE).hex())
for attempt in ("chained", "after"):
    try:
        card.exchange_apdu(echo_apdu(bytes(600)) if attempt == "chained" else SELECT_PPSE)
        out(**{attempt: "no error"})
    except TargetTimeout as e:
        out(**{attempt: [type(e).__name__, e.status, str(e)]})
out(version=list(reader.firmware_version()))
out(after_removal=reader.activate() is None)
"""

FOUND_AGAIN = """
reader.start()
card = reader.activate()
out(ppse=card.exchange_apdu(SELECT_PPSE).hex())
"""


def test_card_removed_mid_exchange_is_a_typed_error_and_no_hang(tmp_path: Path) -> None:
    card = Iso7816TestCard()
    field = RfField([card])
    # RATS, SELECT PPSE, the first block of the chained echo: then the card is gone.
    field.leave_after(card, 3)
    with BackgroundServer(Pn532Emulator(field)) as server:
        started = time.monotonic()
        got = merged(run_mpy(tmp_path, server.port, REMOVED))
        assert time.monotonic() - started < 30
        assert got["chained"][:2] == ["TargetTimeout", 1]
        assert "InDataExchange" in got["chained"][2] and "time out" in got["chained"][2]
        assert got["after"][:2] == ["TargetTimeout", 1]
        assert got["version"] == [0x32, 1, 6, 7]
        assert got["after_removal"] is True
        field.insert(card)
        again = merged(run_mpy(tmp_path, server.port, FOUND_AGAIN))
        assert bytes.fromhex(again["ppse"]) == fci(PPSE_NAME) + b"\x90\x00"


TWO_CARDS = """
reader.start()
try:
    reader.activate()
    out(collision="none")
except CardCollision as e:
    out(collision=e.count)
out(version=list(reader.firmware_version()))
"""


def test_two_cards_are_a_collision(tmp_path: Path) -> None:
    cards = [Iso7816TestCard(uid=bytes.fromhex("08000001")), Iso7816TestCard()]
    with BackgroundServer(Pn532Emulator(RfField(cards))) as server:
        got = merged(run_mpy(tmp_path, server.port, TWO_CARDS))
        assert server.emulator.targets == []  # the driver released both
    assert got == {"collision": 2, "version": [0x32, 1, 6, 7]}


SILENT = """
t0 = board.rtc().ticks_ms()
try:
    reader.firmware_version()
    out(error="none")
except AckTimeout as e:
    out(error=type(e).__name__, ms=board.rtc().ticks_diff(board.rtc().ticks_ms(), t0),
        ack=board.device("nfc")["ack_timeout_ms"])
"""


def test_a_silent_reader_is_an_ack_timeout_within_its_bound(tmp_path: Path) -> None:
    received = bytearray()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def swallow() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                while chunk := conn.recv(4096):
                    received.extend(chunk)

        thread = threading.Thread(target=swallow, daemon=True)
        thread.start()
        got = merged(run_mpy(tmp_path, port, SILENT))
        thread.join(10)
    assert got["error"] == "AckTimeout"
    assert got["ack"] <= got["ms"] < got["ack"] + 1000
    assert bytes(received) == frames.encode_command(frames.GET_FIRMWARE_VERSION)


WAIT_FOR_CARD = """
reader.start()
card = reader.wait_for_card(5000)
out(uid=card.uid.hex(), ppse=card.exchange_apdu(SELECT_PPSE).hex())
out(none=reader.wait_for_card(300) is None)
"""


def test_wait_for_card_returns_when_the_card_is_presented(tmp_path: Path) -> None:
    card = Iso7816TestCard()
    field = RfField()
    with BackgroundServer(Pn532Emulator(field)) as server:
        # Present the card once the firmware's poll is waiting (the field tells
        # the server, which answers the poll).
        emulator = server.emulator

        def present() -> None:
            deadline = time.monotonic() + 30
            while emulator.waiting_poll is None and time.monotonic() < deadline:
                time.sleep(0.005)
            field.insert(card)

        presenter = threading.Thread(target=present, daemon=True)
        presenter.start()
        got = merged(run_mpy(tmp_path, server.port, WAIT_FOR_CARD))
        presenter.join()
        assert emulator.late_poll_answers == 1  # the poll was waiting for it
    assert got["uid"] == card.uid.hex()
    assert bytes.fromhex(got["ppse"]) == fci(PPSE_NAME) + b"\x90\x00"
    # The second wait times out: a new poll first releases the card it had
    # (S(DESELECT): the card halts), and REQA does not wake a halted card.
    assert got["none"] is True


EMV_SELECTION = """
reader.start()
card = reader.activate()
ppse = card.exchange_apdu(SELECT_PPSE)
out(ppse=ppse.hex())
aid = bytes.fromhex("A0000000031010")
out(aid_in_ppse=(b"\\x4f\\x07" + aid) in ppse)
select = b"\\x00\\xa4\\x04\\x00" + bytes((len(aid),)) + aid + b"\\x00"
out(select=card.exchange_apdu(select).hex())
"""


def test_the_firmware_reads_the_ppse_of_a_virtual_emv_card(tmp_path: Path) -> None:
    card = load_card("visa_qvsdc")  # host_sim.cards' qVSDC profile
    with BackgroundServer(Pn532Emulator(RfField([card]))) as server:
        got = merged(run_mpy(tmp_path, server.port, EMV_SELECTION))
    assert got["ppse"].endswith("9000")
    assert got["aid_in_ppse"] is True
    select = bytes.fromhex(got["select"])
    assert select[-2:] == b"\x90\x00"
    assert select[0] == 0x6F and bytes.fromhex("84 07 A0000000031010") in select
