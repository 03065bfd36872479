# firmware/app/trace_export under MicroPython: both kernels' traces written
# out piece by piece as one JSON object, the PAN masked by the kernels'
# traces, a VERIFY's PIN never written.
import json

from mpyunit import eq

from firmware.app import trace_export
from firmware.emv.contact.trace import Trace as ContactTrace
from firmware.emv.contactless.trace import Trace as ContactlessTrace

PAN = bytes.fromhex("4761739001010010")  # EMVCo test PAN (Visa)
RECORD = bytes.fromhex("70145A0847617390010100105F24032812315F340101") + b"\x90\x00"


class Pieces:
    """write(str) recorded piece by piece."""

    def __init__(self):
        self.pieces = []

    def write(self, text):
        self.pieces.append(text)

    def text(self):
        return "".join(self.pieces)


class Clock:
    def __init__(self):
        self.now = 1000

    def ticks_ms(self):
        self.now += 7
        return self.now

    def ticks_diff(self, a, b):
        return a - b


def test_contact_trace_masks_pan_and_verify_and_is_json():
    t = ContactTrace()
    t.command(bytes.fromhex("00B2010C00"))
    t.response(RECORD)
    t.learn_pan(PAN)
    t.command(bytes.fromhex("0020008008241234FFFFFFFFFF"))
    t.response(b"\x90\x00")
    t.note("outcome approved: tc")
    out = Pieces()
    trace_export.write(out, {"stan": "000001", "kind": "sale", "interface": "contact"}, t)
    doc = json.loads(out.text())
    eq(doc["stan"], "000001")
    eq([a["dir"] for a in doc["apdus"]], ["C", "R", "C", "R"])
    eq(doc["apdus"][0]["hex"], "00B2010C00")
    assert "4761739001010010" not in out.text()
    assert "476173******0010" in doc["apdus"][1]["hex"], doc["apdus"][1]["hex"]
    eq(doc["apdus"][2]["hex"], "0020008008" + "*" * 16)
    eq(doc["apdus"][1]["ms"], None)
    eq(doc["notes"], ["outcome approved: tc"])
    # written in pieces: no piece as long as the whole trace
    assert len(out.pieces) > 8
    assert max(len(p) for p in out.pieces) < len(out.text()) // 2


class Card:
    def exchange_apdu(self, command):
        return RECORD


def test_contactless_trace_with_times_and_events():
    t = ContactlessTrace(Clock())
    card = t.card(Card())
    card.exchange_apdu(bytes.fromhex("00B2011400"))
    t.note("kernel 3 activated")
    out = Pieces()
    trace_export.write(out, {"kernel": 3, "interface": "contactless"}, t)
    doc = json.loads(out.text())
    eq(doc["kernel"], 3)
    eq([(a["dir"], a["ms"]) for a in doc["apdus"]], [("C", 7), ("R", 14)])
    assert "4761739001010010" not in out.text()
    eq(doc["notes"], ["kernel 3 activated"])


def test_empty_trace_is_still_one_object():
    out = Pieces()
    trace_export.write(out, {}, ContactTrace())
    eq(json.loads(out.text()), {"apdus": [], "notes": []})
