"""The contactless entry point and kernels under the real MicroPython unix
port (the sim board's heap), driving the firmware PN532 driver over loopback
TCP against the PN532 emulator with link timing on (UART bytes at 115200
baud, ISO 14443 frames at 106 kbps, frame delay times), with host_sim.cards'
visa_qvsdc card and then mastercard_cda in the field.

Proves: a full kernel run per card and amount ends in the outcome the amount
calls for (approved offline with fDDA / CDA below the floor limit, online
request with an ARQC above it, online PIN above the CVM limit); pyemv
recomputes the cryptograms the cards produced in those runs from the data
records the firmware printed; the trace holds no clear PAN.  Reports the
card-in-field time per kernel, split into wire time (what the emulator
charged for the UART and RF) and the rest (firmware and loopback).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyemv
import pytest

import boards
from host_sim.cards import issuer_master_keys
from host_sim.nfc.pn532_emulator import Output, Pn532Emulator
from host_sim.nfc.profiles import load_card
from host_sim.nfc.rf_field import RfField
from host_sim.nfc.server import BackgroundServer
from tools import mpytest

SIM_HEAP = boards.load("sim")["memory"]["heap"]

SCRIPT = """
import json, os
import boards
from firmware.drivers.pn532 import for_board
from firmware.emv.contactless.entry_point import EntryPoint

def out(**kw):
    print("OUT " + json.dumps(kw))

board = boards.open_board("sim")
rtc = board.rtc()
reader = for_board(board, rtc)
TAGS = (0x9F02, 0x9F03, 0x9F1A, 0x95, 0x5F2A, 0x9A, 0x9C, 0x9F37, 0x82, 0x9F36,
        0x9F10, 0x9F26, 0x9F27, 0x9F34, 0x5F34)
reader.start()
entry = EntryPoint(rng=os.urandom, clock=rtc)  # the firmware's TEST CAPKs
for amount in AMOUNTS:
    t_poll = rtc.ticks_ms()
    card = reader.activate()
    t0 = rtc.ticks_ms()
    activation_ms = rtc.ticks_diff(t0, t_poll)
    result = entry.start(card, {"amount": amount, "date": b"\\x26\\x11\\x22", "type": 0})
    ms = rtc.ticks_diff(rtc.ticks_ms(), t0)
    reader.release()
    reader.rf_off()  # the field off: the card powers down (next tap)
    data = {}
    for tag in TAGS:
        if tag in result.data:
            data["%X" % tag] = result.data[tag].hex()
    trace = json.dumps(result.trace.to_json())
    out(amount=amount, status=result.status, cvm=result.params["cvm"],
        ui=result.ui["message"], kernel=result.kernel, ms=ms, activation_ms=activation_ms,
        data=data,
        trace=trace, apdus=len(result.trace.entries) // 2)
reader.rf_off()
"""


class TimedEmulator(Pn532Emulator):
    """The emulator with link timing on; per tap, sums the wire time it
    charges for the activation (InListPassiveTarget) and for the APDUs
    (InDataExchange until InRelease)."""

    def __init__(self, field: RfField) -> None:
        super().__init__(field, timing=True)
        self.activation_s: list[float] = []
        self.wire_s: list[float] = []
        self.phase: str | None = None

    def receive(self, data: bytes) -> list[Output]:
        outputs = super().receive(data)
        if b"\xd4\x4a" in data:
            self.phase = "activation"
            self.activation_s.append(0.0)
            self.wire_s.append(0.0)
        elif b"\xd4\x40" in data and self.phase is not None:
            self.phase = "apdus"
        elif b"\xd4\x52" in data:
            self.phase = None
        spent = sum(o.delay_s for o in outputs)
        if self.phase == "activation":
            self.activation_s[-1] += spent
        elif self.phase == "apdus":
            self.wire_s[-1] += spent
        return outputs


def run_kernel(
    tmp_path: Path, profile: str, amounts: list[int]
) -> tuple[list[dict[str, Any]], list[tuple[float, float]]]:
    path = tmp_path / "cl.py"
    path.write_text(f"AMOUNTS = {amounts!r}\n" + SCRIPT)
    card = load_card(profile)
    emulator = TimedEmulator(RfField([card]))
    with BackgroundServer(emulator) as server:
        env = {"PAYTERM_SIM_UART1": f"127.0.0.1:{server.port}"}
        proc = mpytest.run_script(path, SIM_HEAP, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = mpytest.json_lines(proc.stdout)
    assert len(lines) == len(amounts)
    return lines, list(zip(emulator.activation_s, emulator.wire_s, strict=True))


def expected_ac(issuer: str, cvn: int, pan: str, data: dict[str, str]) -> bytes:
    keys = issuer_master_keys(issuer)
    d = {k: bytes.fromhex(v) for k, v in data.items()}
    psn = d.get("5F34", b"\x00").hex()
    args = {
        "tag_9f02": d["9F02"],
        "tag_9f03": d["9F03"],
        "tag_9f1a": d["9F1A"],
        "tag_95": d["95"],
        "tag_5f2a": d["5F2A"],
        "tag_9a": d["9A"],
        "tag_9c": d["9C"],
        "tag_9f37": d["9F37"],
        "tag_82": d["82"],
        "tag_9f36": d["9F36"],
    }
    if cvn == 18:
        model: Any = pyemv.cvn.VisaCVN18(keys["ac"], keys["smi"], keys["smc"], pan, psn)
        result: bytes = model.generate_ac(**args, tag_9f10=d["9F10"])
    else:
        model = pyemv.cvn.MasterCardCVN16(keys["ac"], keys["smi"], keys["smc"], pan, psn)
        result = model.generate_ac(**args, cvr=d["9F10"][2:8])
    return result


CASES = [
    (
        "visa_qvsdc",
        "payterm-test-visa",
        18,
        "4761730000000045",
        [(15000, "approved", "no CVM", 0x40), (30000, "online request", "no CVM", 0x80),
         (60000, "online request", "online PIN", 0x80)],
    ),
    (
        "mastercard_cda",
        "payterm-test-mc",
        16,
        "5413330000000027",
        [(15000, "approved", "no CVM", 0x40), (30000, "online request", "no CVM", 0x80),
         (60000, "online request", "online PIN", 0x80)],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("profile", "issuer", "cvn", "pan", "expect"), CASES)
def test_kernel_over_the_emulated_pn532(
    tmp_path: Path,
    profile: str,
    issuer: str,
    cvn: int,
    pan: str,
    expect: list[tuple[int, str, str, int]],
) -> None:
    lines, wire = run_kernel(tmp_path, profile, [e[0] for e in expect])
    assert len(wire) == len(expect)
    for line, (amount, status, cvm, cid), (activation_s, wire_s) in zip(
        lines, expect, wire, strict=True
    ):
        assert line["amount"] == amount
        assert (line["status"], line["cvm"]) == (status, cvm), line["trace"]
        assert line["ui"] == (0x03 if status == "approved" else 0x1B)
        data = line["data"]
        assert int(data["9F27"], 16) & 0xC0 == cid
        assert bytes.fromhex(data["9F26"]) == expected_ac(issuer, cvn, pan, data)
        assert pan not in line["trace"]
        wire_ms = wire_s * 1000
        # the field time includes the wire time the emulator charged
        assert line["ms"] >= wire_ms - 2
        print(
            f"{profile} {amount} fils: {status}, {line['apdus']} APDUs; "
            f"activation {line['activation_ms']} ms (wire {activation_s * 1000:.1f}); "
            f"kernel {line['ms']} ms (wire {wire_ms:.1f} ms, firmware + loopback + "
            f"card emulation {line['ms'] - wire_ms:.1f} ms)"
        )


REPLAY_SCRIPT = """
import json, time, gc
from firmware.emv.contactless.entry_point import EntryPoint

def out(**kw):
    print("OUT " + json.dumps(kw))

with open("replay.json") as f:
    REPLAY = json.load(f)
PAIRS = [(bytes.fromhex(c), bytes.fromhex(r)) for c, r in REPLAY["apdus"]]
del REPLAY


class ReplayCard:
    def __init__(self):
        self.i = 0

    def exchange_apdu(self, command):
        expected, response = PAIRS[self.i]
        if command != expected:
            raise ValueError("command %d differs: %s" % (self.i, command.hex()))
        self.i += 1
        return response


entry = EntryPoint(rng=lambda n: b"\\x11\\x22\\x33\\x44"[:n])
gc.collect()
times = []
for _ in range(RUNS):
    card = ReplayCard()
    t0 = time.ticks_us()
    result = entry.start(card, {"amount": AMOUNT, "date": b"\\x26\\x11\\x22", "type": 0})
    times.append(time.ticks_diff(time.ticks_us(), t0))
    assert card.i == len(PAIRS), card.i
    gc.collect()
gc.collect()
out(status=result.status, cvm=result.params["cvm"], ac=result.data[0x9F26].hex(),
    us=sorted(times)[len(times) // 2], free=gc.mem_free())
"""


@pytest.mark.parametrize(
    ("profile", "amount", "status"),
    [("visa_qvsdc", 15000, "approved"), ("mastercard_cda", 15000, "approved")],
)
def test_kernel_time_under_micropython_with_replayed_card_answers(
    tmp_path: Path, profile: str, amount: int, status: str
) -> None:
    """The whole kernel (with fDDA / CDA: three RSA recoveries) under
    MicroPython with a 256K heap (the modules compiled from source on the
    device), the card's answers replayed from a CPython run with the same
    unpredictable number: the firmware's own time, no link."""
    from firmware.emv.contactless.entry_point import EntryPoint
    from host_sim.cards import load_profile

    card = load_profile(profile)
    pairs: list[list[str]] = []

    class Recorder:
        def exchange_apdu(self, command: bytes) -> bytes:
            response: bytes = card.transmit(command)
            pairs.append([command.hex(), response.hex()])
            return response

    entry = EntryPoint(rng=lambda n: b"\x11\x22\x33\x44"[:n])
    reference = entry.start(Recorder(), {"amount": amount, "date": b"\x26\x11\x22", "type": 0})
    assert reference.status == status
    (tmp_path / "replay.json").write_text(json.dumps({"apdus": pairs}))
    path = tmp_path / "replay.py"
    path.write_text(f"RUNS = 5\nAMOUNT = {amount}\n" + REPLAY_SCRIPT)
    heap = "256K"
    proc = mpytest.run_script(path, heap)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = mpytest.json_lines(proc.stdout)[0]
    assert (got["status"], got["cvm"]) == (status, reference.params["cvm"])
    assert bytes.fromhex(got["ac"]) == reference.data[0x9F26]
    print(
        f"{profile}: kernel under MicroPython (heap {heap}) {got['us'] / 1000:.1f} ms median "
        f"of 5, {got['free']} bytes of heap free after"
    )
