"""The PN532 emulator (host_sim/nfc): command by command, sans I/O, then over
real TCP (link timing, garbage, reconnects).

Published frames used as expectations (sources in tests/vectors/pn532_frames.json):
GetFirmwareVersion answer 0000FF06FAD50332010607E800 (DFR0231 capture, nfcpy's
prefix), SAMConfiguration 0000FF05FBD4140100001700 and its answer
0000FF02FED5151600 (nfcpy 1.0.4 init()).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from host_sim.nfc.iso7816_card import PPSE_NAME, Iso7816TestCard, fci
from host_sim.nfc.iso_dep import Picc
from host_sim.nfc.pn532_emulator import Output, Pn532Emulator
from host_sim.nfc.rf_field import RfField, anticollision_order, cascade_levels
from host_sim.nfc.server import BackgroundServer
from host_sim.nfc.timing import rf_exchange_seconds, uart_seconds
from protocols import pn532 as frames

ACK = frames.ACK_FRAME
SELECT_PPSE = bytes.fromhex("00A404000E325041592E5359532E444446303100")
PPSE_ANSWER = fci(PPSE_NAME) + b"\x90\x00"
NO_RETRY_FOREVER = bytes.fromhex("05FF0102")  # RFConfiguration MaxRetries: 2 passive tries


def chip(*cards: Iso7816TestCard, timing: bool = False) -> Pn532Emulator:
    return Pn532Emulator(RfField(list(cards)), timing=timing)


def outputs_bytes(outputs: list[Output]) -> bytes:
    return b"".join(o.data for o in outputs)


def command(emu: Pn532Emulator, code: int, params: bytes = b"") -> bytes:
    """Send one command; the chip must ACK then answer; return the answer's data."""
    got = frames.FrameParser().feed(outputs_bytes(emu.receive(frames.encode_command(code, params))))
    assert [f.kind for f in got][:1] == ["ack"], got
    assert len(got) == 2, got
    return frames.response_data(got[1], code)


def listed(emu: Pn532Emulator, max_tg: int = 1) -> bytes:
    command(emu, frames.RF_CONFIGURATION, NO_RETRY_FOREVER)
    return command(emu, frames.IN_LIST_PASSIVE_TARGET, bytes((max_tg, 0)))


def exchange(emu: Pn532Emulator, tg: int, data: bytes) -> bytes:
    return command(emu, frames.IN_DATA_EXCHANGE, bytes((tg,)) + data)


def test_firmware_version_bytes_are_a_pn532_v16() -> None:
    emu = chip()
    out = outputs_bytes(emu.receive(bytes.fromhex("0000FF02FED4022A00")))
    assert out == ACK + bytes.fromhex("0000FF06FAD50332010607E800")


def test_sam_configuration_answer_is_nfcpys_literal() -> None:
    emu = chip()
    out = outputs_bytes(emu.receive(bytes(10) + bytes.fromhex("0000ff05fbd4140100001700")))
    assert out == ACK + bytes.fromhex("0000ff02fed5151600")
    assert emu.sam_mode == 1


def test_list_one_card_reports_atqa_sak_uid_ats() -> None:
    card = Iso7816TestCard()
    data = listed(chip(card))
    assert data == bytes.fromhex("01 01 0004 20 04") + card.uid + card.ats


def test_select_ppse_and_status_words() -> None:
    card = Iso7816TestCard()
    emu = chip(card)
    listed(emu)
    assert exchange(emu, 1, SELECT_PPSE) == b"\x00" + PPSE_ANSWER
    assert exchange(emu, 1, bytes.fromhex("00A4040007A0000000041010")) == b"\x00\x6a\x82"
    assert exchange(emu, 1, bytes.fromhex("00B2010C00")) == b"\x00\x6d\x00"
    assert card.apdus[0] == SELECT_PPSE


def test_no_card_polls_until_aborted_by_ack_by_default() -> None:
    emu = chip()
    out = emu.receive(frames.encode_command(frames.IN_LIST_PASSIVE_TARGET, b"\x01\x00"))
    assert outputs_bytes(out) == ACK  # MxRtyPassiveActivation FF: polls forever
    assert emu.receive(ACK) == []
    assert command(emu, frames.GET_FIRMWARE_VERSION) == bytes((0x32, 1, 6, 7))


def test_no_card_with_finite_retries_is_zero_targets_and_reqa_in_fifo() -> None:
    emu = chip()
    assert listed(emu) == b"\x00"
    # What nfcpy's sense_tta checks to tell "no card" from "type 1 tag".
    assert command(emu, frames.READ_REGISTER, b"\x63\x39") == b"\x26"


def test_exchange_without_target_is_not_acceptable() -> None:
    assert exchange(chip(), 1, SELECT_PPSE) == b"\x27"


def two_cards() -> tuple[Iso7816TestCard, Iso7816TestCard]:
    # Same first three bytes; last byte 01 vs 02: bit 0 differs first, 1 wins.
    return Iso7816TestCard(uid=bytes.fromhex("08000002")), Iso7816TestCard(
        uid=bytes.fromhex("08000001")
    )


def test_anticollision_order_picks_the_one_bit() -> None:
    low, high = two_cards()
    assert anticollision_order([low.uid, high.uid]) == [1, 0]
    assert cascade_levels(bytes.fromhex("04112233445566")) == [
        bytes.fromhex("88041122"),
        bytes.fromhex("33445566"),
    ]


def test_two_cards_maxtg1_lists_the_anticollision_winner() -> None:
    low, high = two_cards()
    data = listed(chip(low, high))
    assert data[0] == 1
    assert data[6:10] == high.uid


def test_two_cards_maxtg2_lists_both_and_each_answers() -> None:
    low, high = two_cards()
    emu = chip(low, high)
    data = listed(emu, max_tg=2)
    assert data[0] == 2
    assert data[6:10] == high.uid
    second = 10 + len(high.ats)
    assert data[second : second + 5] == bytes.fromhex("02 0004 20 04")
    assert data[second + 5 : second + 9] == low.uid
    assert exchange(emu, 2, SELECT_PPSE) == b"\x00" + PPSE_ANSWER
    assert low.apdus == [SELECT_PPSE] and high.apdus == []


def echo_apdu(payload: bytes) -> bytes:
    return b"\x80\xee\x00\x00\x00" + len(payload).to_bytes(2, "big") + payload + b"\x00\x00"


def test_chaining_both_ways_moves_600_bytes_each_way() -> None:
    card = Iso7816TestCard()
    emu = chip(card)
    listed(emu)
    payload = bytes(i * 7 & 0xFF for i in range(600))
    apdu = echo_apdu(payload)
    pieces = [apdu[i : i + 262] for i in range(0, len(apdu), 262)]
    for piece in pieces[:-1]:
        assert exchange(emu, 0x41, piece) == b"\x00"
    answer = exchange(emu, 0x01, pieces[-1])
    collected = answer[1:]
    rounds = 0
    while answer[0] & 0x40:
        assert answer[0] & 0x3F == 0
        answer = exchange(emu, 0x01, b"")
        collected += answer[1:]
        rounds += 1
    assert rounds >= 2
    assert collected == payload + b"\x90\x00"
    assert card.apdus[-1] == apdu


def test_card_removed_mid_exchange_is_status_timeout_then_found_again() -> None:
    card = Iso7816TestCard()
    emu = chip(card)
    listed(emu)
    emu.field.leave_after(card, 1)  # answers one block, then is gone
    apdu = echo_apdu(bytes(200))
    assert exchange(emu, 0x01, apdu) == b"\x01"
    assert exchange(emu, 0x01, SELECT_PPSE) == b"\x01"
    assert command(emu, frames.GET_GENERAL_STATUS)[:3] == b"\x01\x00\x01"
    emu.field.insert(card)
    command(emu, frames.RF_CONFIGURATION, b"\x01\x00")  # field off: the card resets
    assert listed(emu)[0] == 1
    assert exchange(emu, 1, SELECT_PPSE) == b"\x00" + PPSE_ANSWER


def test_released_card_stays_halted_until_the_field_cycles() -> None:
    emu = chip(Iso7816TestCard())
    listed(emu)
    assert command(emu, frames.IN_RELEASE, b"\x00") == b"\x00"
    assert listed(emu) == b"\x00"  # DESELECT halted it; REQA does not wake it
    command(emu, frames.RF_CONFIGURATION, b"\x01\x00")
    assert listed(emu)[0] == 1


def test_deselect_then_select() -> None:
    emu = chip(Iso7816TestCard())
    listed(emu)
    assert command(emu, frames.IN_DESELECT, b"\x01") == b"\x00"
    assert exchange(emu, 1, SELECT_PPSE) == b"\x27"
    assert command(emu, frames.IN_SELECT, b"\x01") == b"\x00"
    assert exchange(emu, 1, SELECT_PPSE) == b"\x00" + PPSE_ANSWER
    assert command(emu, frames.IN_SELECT, b"\x02") == b"\x27"


def test_nfcpy_style_raw_iso_dep_through_communicate_thru() -> None:
    card = Iso7816TestCard()
    emu = chip(card)
    command(emu, frames.SET_PARAMETERS, b"\x00")  # no automatic RATS, as nfcpy sets
    data = listed(emu)
    assert data == bytes.fromhex("01 01 0004 20 04") + card.uid  # no ATS
    assert command(emu, frames.IN_COMMUNICATE_THRU, b"\xe0\x80") == b"\x00" + card.ats
    answer = command(emu, frames.IN_COMMUNICATE_THRU, b"\x02" + SELECT_PPSE)
    assert answer == b"\x00\x02" + PPSE_ANSWER
    assert command(emu, frames.IN_COMMUNICATE_THRU, b"\xb3") == b"\x00\xa2"  # presence check
    assert command(emu, frames.IN_COMMUNICATE_THRU, b"\xc2") == b"\x00\xc2"
    assert command(emu, frames.IN_COMMUNICATE_THRU, b"\x03" + SELECT_PPSE) == b"\x01"


def test_nack_gets_the_last_response_again() -> None:
    emu = chip()
    first = outputs_bytes(emu.receive(frames.encode_command(frames.GET_FIRMWARE_VERSION)))
    assert outputs_bytes(emu.receive(frames.NACK_FRAME)) == first[len(ACK) :]


def test_bad_checksums_get_no_answer_and_the_chip_goes_on() -> None:
    emu = chip()
    bad = bytearray(frames.encode_command(frames.GET_FIRMWARE_VERSION))
    bad[-2] ^= 0x55
    assert emu.receive(bytes(bad)) == []
    bad_lcs = bytearray(frames.encode_command(frames.GET_FIRMWARE_VERSION))
    bad_lcs[4] ^= 0x01
    assert emu.receive(bytes(bad_lcs)) == []
    assert emu.corrupt_frames == 2
    assert command(emu, frames.GET_FIRMWARE_VERSION) == bytes((0x32, 1, 6, 7))


@pytest.mark.parametrize(
    "frame",
    [
        frames.encode_command(0x99),  # no such command
        frames.encode_command(frames.IN_AUTO_POLL, b"\x01\x01\x00"),  # not emulated
        frames.encode_command(frames.READ_REGISTER, b"\x63"),  # half an address
        frames.encode_command(frames.SAM_CONFIGURATION, b"\x09"),  # no such mode
        frames.encode_command(frames.RF_CONFIGURATION, b"\x05\x01"),  # item 5 takes 3 bytes
        frames.encode_command(frames.IN_LIST_PASSIVE_TARGET, b"\x03\x00"),  # MaxTg 3
        frames.encode_frame(frames.TFI_PN532_TO_HOST, b"\x03"),  # wrong direction
    ],
    ids=["unknown", "autopoll", "register", "sam", "rfcfg", "maxtg", "tfi"],
)
def test_frames_it_cannot_execute_get_ack_then_error_frame(frame: bytes) -> None:
    emu = chip()
    assert outputs_bytes(emu.receive(frame)) == ACK + frames.ERROR_FRAME
    assert command(emu, frames.GET_FIRMWARE_VERSION) == bytes((0x32, 1, 6, 7))


def test_power_down_sleeps_until_hsu_wakeup() -> None:
    emu = chip()
    assert command(emu, frames.POWER_DOWN, b"\x10") == b"\x00"
    version = frames.encode_command(frames.GET_FIRMWARE_VERSION)
    assert emu.receive(version) == []
    assert emu.receive(bytes(10) + version) == []
    out = outputs_bytes(emu.receive(frames.HSU_WAKEUP + version))
    assert out == ACK + bytes.fromhex("0000FF06FAD50332010607E800")


def test_set_serial_baud_rate_applies_after_the_hosts_ack() -> None:
    emu = chip()
    assert command(emu, frames.SET_SERIAL_BAUD_RATE, b"\x07") == b""
    assert emu.baud == 115200
    emu.receive(ACK)
    assert emu.baud == 921600


def test_diagnose_echoes_an_extended_frame() -> None:
    emu = chip()
    params = b"\x00" + bytes(x & 0xFF for x in range(262))  # what nfcpy's line test sends
    raw = frames.encode_command(frames.DIAGNOSE, params)
    assert raw[3:5] == b"\xff\xff"
    assert command(emu, frames.DIAGNOSE, params) == params


def test_registers_read_back_what_was_written() -> None:
    emu = chip()
    command(emu, frames.WRITE_REGISTER, bytes.fromhex("630280 630380 630540"))
    assert command(emu, frames.READ_REGISTER, bytes.fromhex("6302 6303 6305")) == bytes.fromhex(
        "808040"
    )
    assert command(emu, frames.READ_REGISTER, b"\x63\x04")[0] & 0x03 == 0  # field off
    command(emu, frames.RF_CONFIGURATION, b"\x01\x01")
    assert command(emu, frames.READ_REGISTER, b"\x63\x04")[0] & 0x03 == 0x03


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=80), max_size=8))
def test_garbage_never_raises_and_the_chip_still_answers(chunks: list[bytes]) -> None:
    emu = chip(Iso7816TestCard())
    for chunk in chunks:
        for output in emu.receive(chunk):
            for frame in frames.FrameParser().feed(output.data):
                assert frame.kind in ("ack", "error", "normal", "extended")
    emu.reset()  # garbage may have put it to sleep or changed the baud rate
    assert command(emu, frames.GET_FIRMWARE_VERSION) == bytes((0x32, 1, 6, 7))


# -- over TCP -------------------------------------------------------------------


def tcp_command(sock: socket.socket, parser: frames.FrameParser, code: int, params: bytes) -> bytes:
    sock.sendall(frames.encode_command(code, params))
    got: list[frames.Frame] = []
    deadline = time.monotonic() + 5
    while len(got) < 2:
        assert time.monotonic() < deadline, got
        chunk = sock.recv(4096)
        assert chunk, "emulator closed the connection"
        got += parser.feed(chunk)
    assert got[0].kind == "ack"
    return frames.response_data(got[1], code)


def timed_echoes(timing: bool, rounds: int, params: bytes) -> float:
    with (
        BackgroundServer(chip(timing=timing)) as server,
        socket.create_connection((server.host, server.port), timeout=5) as sock,
    ):
        parser = frames.FrameParser()
        start = time.monotonic()
        for _ in range(rounds):
            assert tcp_command(sock, parser, frames.DIAGNOSE, params) == params
        return time.monotonic() - start


def test_link_timing_costs_the_wire_time_at_115200() -> None:
    params = b"\x00" + bytes(262)
    frame_len = len(frames.encode_command(frames.DIAGNOSE, params))
    rounds = 8
    # Command in, ACK out, echo out: 10 bit times per byte at 115200.
    wire_s = rounds * uart_seconds(2 * frame_len + len(ACK), 115200)
    assert 0.35 < wire_s < 0.4
    assert timed_echoes(True, rounds, params) >= wire_s  # sleeps never end early
    # Without timing nothing waits (a wall-clock bound would be flaky on a busy machine).
    untimed = chip().receive(frames.encode_command(frames.DIAGNOSE, params))
    assert [o.delay_s for o in untimed] == [0.0, 0.0]


def test_server_keeps_serving_after_garbage_and_reconnects() -> None:
    with BackgroundServer(chip(Iso7816TestCard())) as server:
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(b"\x00\xff\x05\x00\x00\x00\xde\xad\xbe\xef" * 30)
            parser = frames.FrameParser()
            assert tcp_command(sock, parser, frames.GET_FIRMWARE_VERSION, b"") == bytes(
                (0x32, 1, 6, 7)
            )
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(b"\x00\x00\xff\x07")  # half a frame, then hang up
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            parser = frames.FrameParser()
            tcp_command(sock, parser, frames.RF_CONFIGURATION, NO_RETRY_FOREVER)
            assert tcp_command(sock, parser, frames.IN_LIST_PASSIVE_TARGET, b"\x01\x00")[0] == 1
            answer = tcp_command(sock, parser, frames.IN_DATA_EXCHANGE, b"\x01" + SELECT_PPSE)
            assert answer == b"\x00" + PPSE_ANSWER
        assert server.server.connections == 3


# -- payterm nfc serve ----------------------------------------------------------


def start_serve(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """``payterm nfc serve ARGS`` (through the module until payterm lists
    ``nfc``); returns the process and the JSON it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "payterm.commands.nfc", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    while True:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "no output"
        lines.append(line)
        if line.rstrip() == "}":
            break
    return proc, json.loads("".join(lines))


def stop_serve(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(10)


def test_serve_on_tcp_answers_a_ppse_select() -> None:
    proc, info = start_serve("--card", "test-iso7816", "--port", "0")
    try:
        assert info["host"] == "127.0.0.1" and info["port"] > 0
        assert info["cards"] == ["test-iso7816"]
        with socket.create_connection((info["host"], info["port"]), timeout=5) as sock:
            parser = frames.FrameParser()
            assert tcp_command(sock, parser, frames.GET_FIRMWARE_VERSION, b"") == bytes(
                (0x32, 1, 6, 7)
            )
            tcp_command(sock, parser, frames.RF_CONFIGURATION, NO_RETRY_FOREVER)
            assert tcp_command(sock, parser, frames.IN_LIST_PASSIVE_TARGET, b"\x01\x00")[0] == 1
            answer = tcp_command(sock, parser, frames.IN_DATA_EXCHANGE, b"\x01" + SELECT_PPSE)
            assert answer == b"\x00" + PPSE_ANSWER
    finally:
        assert stop_serve(proc) == 0


def test_serve_on_a_pty_reached_by_pyserial() -> None:
    if shutil.which("socat") is None:
        pytest.fail("socat is required (scripts/setup installs it)")
    proc, info = start_serve("--card", "test-iso7816", "--pty")
    try:
        assert info["pty"].startswith("/dev/pts/")
        assert os.path.realpath(info["link"]) == info["pty"]
        with serial.Serial(info["pty"], 115200, timeout=2) as port:
            port.write(bytes.fromhex("0000FF02FED4022A00"))
            answer = port.read(len(ACK) + 13)
        assert answer == ACK + bytes.fromhex("0000FF06FAD50332010607E800")
    finally:
        assert stop_serve(proc) == 0
    assert not os.path.lexists(info["link"])


def test_serve_an_emv_profile_from_host_sim_cards() -> None:
    proc, info = start_serve("--card", "visa_qvsdc", "--port", "0")
    try:
        with socket.create_connection((info["host"], info["port"]), timeout=5) as sock:
            parser = frames.FrameParser()
            tcp_command(sock, parser, frames.RF_CONFIGURATION, NO_RETRY_FOREVER)
            assert tcp_command(sock, parser, frames.IN_LIST_PASSIVE_TARGET, b"\x01\x00")[0] == 1
            answer = tcp_command(sock, parser, frames.IN_DATA_EXCHANGE, b"\x01" + SELECT_PPSE)
        assert answer[0] == 0 and answer[-2:] == b"\x90\x00"
        assert bytes.fromhex("4F07A0000000031010") in answer  # the Visa AID in the directory
    finally:
        assert stop_serve(proc) == 0


def test_serve_rejects_unknown_profiles_and_three_cards() -> None:
    from payterm.commands import nfc

    assert nfc.main(["serve", "--card", "no-such-card", "--port", "0"]) == 2
    three = ["--card", "test-iso7816"] * 3
    assert nfc.main(["serve", *three, "--port", "0"]) == 2
    assert nfc.main(["serve", "--link", "/tmp/x", "--port", "0"]) == 2


def test_timing_model_charges_uart_and_rf_time_to_an_exchange() -> None:
    card = Iso7816TestCard()
    emu = chip(card, timing=True)
    listed(emu)
    request = frames.encode_command(frames.IN_DATA_EXCHANGE, b"\x01" + SELECT_PPSE)
    ack, response = emu.receive(request)
    assert ack.delay_s == pytest.approx(uart_seconds(len(request) + len(ACK), 115200))
    # One I-block each way (PCB + APDU, PCB + answer, CRC_A added on air).
    rf = rf_exchange_seconds(1 + len(SELECT_PPSE), 1 + len(PPSE_ANSWER), 0.0)
    assert len(SELECT_PPSE) == 20 and len(PPSE_ANSWER) == 22
    assert rf == pytest.approx(((21 + 2) * 9 + 2 + (23 + 2) * 9 + 2 + 2 * 1172 / 128) / 105937.5)
    assert response.delay_s == pytest.approx(rf + uart_seconds(len(response.data), 115200))


def test_a_waiting_poll_is_answered_when_a_card_arrives() -> None:
    emu = chip()
    out = emu.receive(frames.encode_command(frames.IN_LIST_PASSIVE_TARGET, b"\x01\x00"))
    assert outputs_bytes(out) == ACK
    assert emu.poll_again() == []  # still nobody
    card = Iso7816TestCard()
    emu.field.insert(card)
    got = frames.FrameParser().feed(outputs_bytes(emu.poll_again()))
    data = frames.response_data(got[0], frames.IN_LIST_PASSIVE_TARGET)
    assert data == bytes.fromhex("01 01 0004 20 04") + card.uid + card.ats
    assert emu.poll_again() == []  # answered once


def test_an_aborted_poll_is_not_answered_later() -> None:
    emu = chip()
    emu.receive(frames.encode_command(frames.IN_LIST_PASSIVE_TARGET, b"\x01\x00"))
    emu.receive(ACK)
    emu.field.insert(Iso7816TestCard())
    assert emu.poll_again() == []


def insert_when_polling(emu: Pn532Emulator, card: Iso7816TestCard) -> threading.Thread:
    """Present the card once the chip is waiting in a poll (no fixed sleep:
    a busy machine must not turn the late answer into an early one)."""

    def present() -> None:
        deadline = time.monotonic() + 30
        while emu.waiting_poll is None and time.monotonic() < deadline:
            time.sleep(0.005)
        emu.field.insert(card)

    thread = threading.Thread(target=present, daemon=True)
    thread.start()
    return thread


def test_over_tcp_a_card_presented_during_the_poll_is_reported() -> None:
    with (
        BackgroundServer(chip()) as server,
        socket.create_connection((server.host, server.port), timeout=5) as sock,
    ):
        card = Iso7816TestCard()
        presenter = insert_when_polling(server.emulator, card)
        data = tcp_command(sock, frames.FrameParser(), frames.IN_LIST_PASSIVE_TARGET, b"\x01\x00")
        presenter.join()
        assert server.emulator.late_poll_answers == 1
        assert data[0] == 1 and card.uid in data


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 0xFF), st.binary(max_size=40)),
        min_size=1,
        max_size=12,
    )
)
def test_well_formed_frames_with_random_commands_always_get_ack_then_one_answer(
    commands: list[tuple[int, bytes]],
) -> None:
    emu = chip(Iso7816TestCard())
    command(emu, frames.RF_CONFIGURATION, NO_RETRY_FOREVER)
    for code, params in commands:
        if code == frames.POWER_DOWN or (code == frames.RF_CONFIGURATION and params[:1] == b"\x05"):
            continue  # sleeping or polling forever are checked elsewhere
        got = frames.FrameParser().feed(
            outputs_bytes(emu.receive(frames.encode_command(code, params)))
        )
        assert [f.kind for f in got][:1] == ["ack"]
        assert len(got) == 2
        if got[1].kind != "error":
            frames.response_data(got[1], code)
        emu.receive(ACK)  # completes a baud rate change, as a host would


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=10))
def test_the_card_side_answers_any_frame_with_bytes_or_silence(blocks: list[bytes]) -> None:
    picc = Picc(Iso7816TestCard())
    picc.select()
    assert picc.rats(0x80) is not None
    for block in blocks:
        answer = picc.handle(block)
        assert answer is None or (isinstance(answer, bytes) and len(answer) >= 1)


def test_serve_with_timing_charges_wire_time() -> None:
    params = b"\x00" + bytes(262)
    wire_s = 4 * uart_seconds(2 * len(frames.encode_command(0x00, params)) + len(ACK), 115200)
    proc, info = start_serve("--card", "test-iso7816", "--port", "0", "--timing")
    try:
        with socket.create_connection((info["host"], info["port"]), timeout=5) as sock:
            parser = frames.FrameParser()
            started = time.monotonic()
            for _ in range(4):
                assert tcp_command(sock, parser, frames.DIAGNOSE, params) == params
            assert time.monotonic() - started >= wire_s
    finally:
        assert stop_serve(proc) == 0
