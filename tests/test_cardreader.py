"""The contact-card reader emulator (host_sim/cardreader) against the
firmware's ISO 7816 driver under the real MicroPython unix port on the sim
board: ``PAYTERM_SIM_UART3`` points the board's card-reader UART at the
emulator, ``board.bus_for("card_reader")`` goes to ``CardReader``.

Proves: the contact_offline_pin card through power on (ATR), SELECT PSE,
its directory record, SELECT AID, GPO, every AFL record, in T=1 (the ATR of
the profile) and in T=0 (the same card in its T=0 mode behind a T=0 ATR),
each response equal to what a fresh card answers the same command; a card
pulled mid-APDU is a typed error, the emulator keeps serving and the card
works again once re-inserted; garbage on the line is survived; the in-band
contact signals byte for byte; the T=1 card side's error recovery.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import boards
from host_sim.cardreader import T0_ATR, BackgroundCardReader, CardSlot, T0Card, T1Card
from host_sim.cards import load_profile
from protocols import atr as atr_codec
from protocols import t1
from tools import mpytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SIM_HEAP = boards.load("sim")["memory"]["heap"]
PROFILE = "contact_offline_pin"
FUZZ_CARD = load_profile(PROFILE)

PRELUDE = """
import json
import boards
from firmware.drivers.iso7816 import (CardReader, CardError, CardAbsent,
    CardProtocolError, CardTimeout)
from protocols import apdu, tlv
def out(**kw):
    print("OUT " + json.dumps(kw))
def hx(b):
    return "".join("%02X" % x for x in b)
board = boards.open_board("sim")
dev = board.device("card_reader")
reader = CardReader(board.bus_for("card_reader"), clock_hz=CLOCK_HZ or dev["clock_hz"],
                    min_wait_ms=MIN_WAIT_MS)
log = []
def x(cmd):
    r = reader.exchange_apdu(cmd)
    log.append([hx(cmd), hx(r)])
    return r
def body(r):
    if r[-2:] != b"\\x90\\x00":
        raise CardError("SW %s" % hx(r[-2:]))
    return tlv.decode(r[:-2])
def emv_flow():
    fci = body(x(apdu.select_by_name(b"1PAY.SYS.DDF01")))
    sfi = tlv.find(fci, 0x88).value[0]
    aid = tlv.find(body(x(apdu.read_record(1, sfi))), 0x4F).value
    pdol = tlv.find(body(x(apdu.select_by_name(aid))), 0x9F38)
    gpo = x(apdu.get_processing_options(tlv.build_dol_data(pdol.value, {}) if pdol else b""))
    t = body(gpo)[0]
    afl = t.value[2:] if t.tag == 0x80 else tlv.find(t.children, 0x94).value
    records = 0
    for i in range(0, len(afl), 4):
        for rec in range(afl[i + 1], afl[i + 2] + 1):
            body(x(apdu.read_record(rec, afl[i] >> 3)))
            records += 1
    return hx(aid), records
"""


def run_mpy(
    tmp_path: Path, port: int, body: str, clock_hz: int = 0, min_wait_ms: int = 200
) -> dict[str, Any]:
    path = tmp_path / "card_script.py"
    path.write_text(f"CLOCK_HZ = {clock_hz}\nMIN_WAIT_MS = {min_wait_ms}\n" + PRELUDE + body)
    proc = mpytest.run_script(path, SIM_HEAP, env={"PAYTERM_SIM_UART3": f"127.0.0.1:{port}"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result: dict[str, Any] = {}
    for out in mpytest.json_lines(proc.stdout):
        result.update(out)
    return result


EMV = """
atr = reader.power_on()
out(atr=hx(atr.raw), protocol=reader.protocol, present=reader.present())
aid, records = emv_flow()
out(aid=aid, records=records, log=log)
reader.power_off()
out(done=True)
"""


def replay(log: list[list[str]]) -> None:
    """Each response the firmware got equals a fresh card's answer (T=1
    transport: data and SW together) to the same command."""
    card = load_profile(PROFILE)
    card.power_on()
    for command, response in log:
        assert response == card.transmit(bytes.fromhex(command)).hex().upper(), command


@pytest.mark.parametrize("protocol", ["T=1", "T=0"])
def test_emv_flow_through_the_driver(tmp_path: Path, protocol: str) -> None:
    card = load_profile(PROFILE)
    slot = CardSlot(card, protocol)
    with BackgroundCardReader(slot) as server:
        got = run_mpy(tmp_path, server.port, EMV)
    expected_atr = card.atr if protocol == "T=1" else T0_ATR
    assert got["atr"] == expected_atr.hex().upper()
    assert got["protocol"] == atr_codec.decode(expected_atr).default_protocol
    assert got["present"] is True
    assert got["aid"] == "A0000000031010"
    assert got["records"] == 4  # AFL 1.1, 2.1, 3.1-3.2
    assert len(got["log"]) == 4 + 4  # SELECT PSE, dir record, SELECT AID, GPO, 4 records
    replay(got["log"])
    assert got["done"] is True
    assert slot.log == ["insert", "cold", "presence", "off"]
    assert card.atc == 1  # one GPO
    assert card.t0 is (protocol == "T=0")


def test_t0_procedure_bytes_on_the_wire() -> None:
    card = load_profile(PROFILE)
    slot = CardSlot(card, "T=0")
    assert slot.receive(bytes.fromhex("FFA501")) == T0_ATR
    assert isinstance(slot.engine, T0Card)
    pse = b"1PAY.SYS.DDF01"
    assert slot.receive(bytes.fromhex("00A404000E")) == b"\xa4"  # INS: send all data
    sw = slot.receive(pse)
    assert sw[0] == 0x61  # data waiting
    fci = slot.receive(bytes.fromhex("00C00000") + sw[1:])
    assert fci[0] == 0xC0 and fci[-2:] == b"\x90\x00" and len(fci) == 1 + sw[1] + 2
    short = slot.receive(bytes.fromhex("00B2010C00"))  # Le 256: wrong length
    assert short[0] == 0x6C
    rec = slot.receive(bytes.fromhex("00B2010C") + short[1:])
    assert rec[0] == 0xB2 and len(rec) == 1 + short[1] + 2
    assert slot.receive(bytes.fromhex("00B2011C00")) == b"\x6a\x82"  # SFI 3 is not there
    assert slot.receive(bytes.fromhex("0060000000")) == b"\x6d\x00"  # INS 6x is invalid
    assert slot.receive(bytes.fromhex("FF00000000")) == b"\x6e\x00"  # CLA FF: PPS only


def test_t1_card_side_recovery() -> None:
    card = load_profile(PROFILE)
    slot = CardSlot(card)
    assert slot.receive(bytes.fromhex("FFA501")) == card.atr
    assert isinstance(slot.engine, T1Card)
    enc = t1.encode
    assert slot.receive(enc(t1.s_block(t1.S_IFS, False, 16))) == enc(t1.s_block(t1.S_IFS, True, 16))
    select = bytes.fromhex("00A404000E315041592E5359532E444446303100")
    # command chaining at 8 bytes: each piece acknowledged with R(N(R))
    pieces = t1.chain(select, 8)
    ns = 0
    for i, piece in enumerate(pieces[:-1]):
        answer = slot.receive(enc(t1.i_block(ns, piece, True)))
        ns ^= 1
        assert answer == enc(t1.r_block(ns)), i
    first = t1.decode(slot.receive(enc(t1.i_block(ns, pieces[-1]))))
    assert first.kind == t1.I_BLOCK and first.more and len(first.inf) == 16  # IFSD 16
    # the reader lost it: R(N(R) = its N(S)) -> the same block again
    assert t1.decode(slot.receive(enc(t1.r_block(first.ns, t1.R_EDC_ERROR)))) == first
    response = first.inf
    block = first
    while block.more:
        block = t1.decode(slot.receive(enc(t1.r_block(block.ns ^ 1))))
        response += block.inf
    assert response == card.transmit(select)
    # a corrupt EDC -> R(error 1); a bad PCB -> R(error 2); the link still works
    bad = bytearray(enc(t1.i_block(ns ^ 1, select)))
    bad[-1] ^= 0xFF
    assert t1.decode(slot.receive(bytes(bad))).error == t1.R_EDC_ERROR
    assert t1.decode(slot.receive(bytes.fromhex("00 3F 00 3F"))).error == t1.R_OTHER_ERROR
    # half a block, then quiet: R(error 2) after the character waiting time
    assert slot.receive(bytes.fromhex("00 00 05 01")) == b""
    assert slot.has_partial()
    assert t1.decode(slot.idle()).error == t1.R_OTHER_ERROR
    resynch = enc(t1.s_block(t1.S_RESYNCH, True))
    assert slot.receive(enc(t1.s_block(t1.S_RESYNCH))) == resynch
    again = t1.decode(slot.receive(enc(t1.i_block(0, select))))
    assert again.kind == t1.I_BLOCK and again.ns == 0  # sequence numbers restarted


def test_contact_signals_in_band() -> None:
    card = load_profile(PROFILE)
    slot = CardSlot()
    assert slot.receive(bytes.fromhex("FFA503")) == b"\x00"  # empty slot
    assert slot.receive(bytes.fromhex("FFA501")) == b""  # mute
    assert slot.receive(bytes.fromhex("00A4040000")) == b""  # nobody powered
    slot.insert(card)
    assert slot.receive(bytes.fromhex("FFA503")) == b"\x01"
    assert slot.receive(bytes.fromhex("FFA502")) == b""  # warm reset without power: mute
    assert slot.receive(bytes.fromhex("FFA501")) == card.atr
    assert slot.receive(bytes.fromhex("FFA502")) == card.atr
    assert slot.receive(bytes.fromhex("FFA5")) == b""
    assert slot.receive(bytes.fromhex("00")) == b""  # deactivate, split over two reads
    assert not slot.powered
    assert slot.receive(bytes.fromhex("FFA57F")) == b""  # unknown signal: ignored
    assert slot.log == [
        "presence",
        "cold",
        "insert",
        "presence",
        "warm",
        "cold",
        "warm",
        "off",
        "control 7F",
    ]


def _raw_session(port: int, data: bytes, want: int, timeout: float = 2.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        got = b""
        deadline = time.monotonic() + timeout
        while len(got) < want and time.monotonic() < deadline:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            got += chunk
        return got


REMOVED = """
atr = reader.power_on()
out(protocol=reader.protocol)
try:
    emv_flow()
    out(error=None)
except CardError as e:
    out(error=type(e).__name__, message=str(e), exchanged=len(log))
out(present=reader.present())
try:
    reader.power_on()
    out(second=None)
except CardError as e:
    out(second=type(e).__name__)
"""

AGAIN = """
atr = reader.power_on()
aid, records = emv_flow()
out(aid=aid, records=records)
"""


@pytest.mark.parametrize("protocol", ["T=1", "T=0"])
def test_card_pulled_mid_exchange(tmp_path: Path, protocol: str) -> None:
    card = load_profile(PROFILE)
    slot = CardSlot(card, protocol)
    with BackgroundCardReader(slot) as server:
        # the card goes after ATR + IFS (T=1) and 40 bytes more: inside the
        # answer to the first SELECT
        atr_len = len(card.atr) + 5 if protocol == "T=1" else len(T0_ATR)
        slot.remove_after(atr_len + 40)
        started = time.monotonic()
        # the sim has no clock line: a 10x card clock and 20 ms latency keep
        # the driver's waiting times (and the test) short
        got = run_mpy(tmp_path, server.port, REMOVED, clock_hz=35712000, min_wait_ms=20)
        took = time.monotonic() - started
        assert got["protocol"] == (1 if protocol == "T=1" else 0)
        expected = "CardProtocolError" if protocol == "T=1" else "CardTimeout"
        assert got["error"] == expected, got
        assert got["present"] is False
        assert got["second"] == "CardAbsent"
        assert took < 30
        assert not slot.present
        # the emulator keeps serving: the card goes back in and works
        slot.insert(card, protocol)
        again = run_mpy(tmp_path, server.port, AGAIN)
        assert again == {"aid": "A0000000031010", "records": 4}


def test_garbage_on_the_line_is_survived(tmp_path: Path) -> None:
    card = load_profile(PROFILE)
    slot = CardSlot(card)
    noise = bytes((i * 73 + 11) & 0xFF for i in range(3000))
    with BackgroundCardReader(slot) as server:
        # unpowered: nothing answers, nothing breaks
        assert _raw_session(server.port, noise, 1, 0.3) == b""
        # powered: the T=1 card answers junk with R-blocks (or nothing)
        answer = _raw_session(server.port, bytes.fromhex("FFA501") + noise, 10_000, 1.0)
        assert answer.startswith(card.atr)
        # a connection dropped in the middle of a block
        _raw_session(server.port, bytes.fromhex("000010010203"), 1, 0.2)
        assert server.server.connections == 3
        got = run_mpy(tmp_path, server.port, EMV)
    assert got["records"] == 4
    replay(got["log"])


def test_standalone_server_prints_its_port_and_stops_on_sigterm() -> None:
    import signal
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "host_sim.cardreader", "--port", "0", "--protocol", "T=0"],
        cwd=str(REPO_ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["card"] == PROFILE and info["atr"] == T0_ATR.hex().upper()
        # the slot presents the T=0 ATR it was asked for
        assert _raw_session(info["port"], bytes.fromhex("FFA503FFA501"), 5) == b"\x01" + T0_ATR
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    bad = subprocess.run(
        [sys.executable, "-m", "host_sim.cardreader", "--card", "nosuch"],
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2


@settings(max_examples=150, deadline=None)
@given(
    protocol=st.sampled_from([None, "T=0"]),
    chunks=st.lists(st.binary(min_size=0, max_size=300), max_size=8),
    powered=st.booleans(),
)
def test_arbitrary_bytes_never_break_the_slot(
    protocol: str | None, chunks: list[bytes], powered: bool
) -> None:
    card = FUZZ_CARD
    slot = CardSlot(card, protocol)
    if powered:
        slot.receive(bytes.fromhex("FFA501"))
    for chunk in chunks:
        slot.receive(chunk)  # never raises
    slot.idle()  # the line goes quiet: back to a boundary
    if slot.card is None:  # garbage cannot pull a card, only remove() can
        raise AssertionError("card gone")
    atr = slot.receive(bytes.fromhex("FFA501"))
    assert atr == (card.atr if protocol is None else T0_ATR)
    select = bytes.fromhex("00A404000E315041592E5359532E444446303100")
    if protocol is None:
        slot.receive(t1.encode(t1.s_block(t1.S_IFS, False, 254)))
        answer = t1.decode(slot.receive(t1.encode(t1.i_block(0, select))))
        assert answer.inf[-2:] == b"\x90\x00"
    else:
        assert slot.receive(select[:5]) == b"\xa4"
        assert slot.receive(select[5:-1])[:1] == b"\x61"
