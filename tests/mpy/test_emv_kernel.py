# The contact kernel under real MicroPython: a scripted card replays the APDU
# exchanges recorded from the CPython run against host_sim.cards'
# contact_offline_pin (tests/vectors/emv_contact_trace_offline_pin.json); the
# kernel must send exactly the same commands and reach the same outcome,
# TVR, TSI and CVM results, with RSA recovery (CDA) on MicroPython ints.
import gc
import time

from mpyunit import eq, load_json

VECTOR = "../vectors/emv_contact_trace_offline_pin.json"


class ScriptedCard:
    def __init__(self, exchanges, collect=False):
        self.exchanges = exchanges
        self.pos = 0
        self.collect = collect
        self.peak = 0

    def exchange_apdu(self, command):
        if self.collect:
            gc.collect()
        used = gc.mem_alloc()
        if used > self.peak:
            self.peak = used
        want, reply = self.exchanges[self.pos]
        got = bytes(command).hex().upper()
        if got != want:
            raise AssertionError("APDU %d: got %s, want %s" % (self.pos, got, want))
        self.pos += 1
        return bytes.fromhex(reply)


class Cardholder:
    def __init__(self, pin):
        self.pin = pin
        self.buffer = None

    def choose_application(self, candidates):
        return 0

    def confirm_application(self, candidate):
        return True

    def offline_pin(self, tries):
        self.buffer = bytearray(self.pin.encode())
        return self.buffer

    def online_pin(self):
        return True


def _run(collect):
    from firmware.emv.config import default_config
    from firmware.emv.contact.kernel import ContactKernel

    vector = load_json(VECTOR)
    gc.collect()
    card = ScriptedCard(vector["exchanges"], collect)
    holder = Cardholder(vector["pin"])
    clock = tuple(vector["clock"])
    byte = vector["random_byte"]
    config = default_config()
    gc.collect()
    base = gc.mem_alloc()
    start = time.ticks_ms()
    kernel = ContactKernel(card, config, lambda: clock, lambda n: bytes([byte] * n), holder)
    outcome = kernel.start(vector["amount"])
    elapsed = time.ticks_diff(time.ticks_ms(), start)
    return vector, card, holder, kernel, outcome, elapsed, card.peak - base


def test_offline_pin_transaction_replays_under_micropython():
    vector, card, holder, kernel, outcome, elapsed, _peak = _run(False)
    eq(card.pos, len(vector["exchanges"]), "every recorded APDU sent")
    want = vector["outcome"]
    eq(outcome.result, want["result"], "result")
    eq(outcome.cryptogram, want["cryptogram"], "cryptogram")
    eq(outcome.tvr.hex().upper(), want["tvr"], "TVR")
    eq(outcome.tsi.hex().upper(), want["tsi"], "TSI")
    eq(outcome.cvm_results.hex().upper(), want["cvm_results"], "CVM results")
    eq([list(e) for e in kernel.trace.entries], vector["trace"], "trace")
    eq(holder.buffer, bytearray(4), "PIN buffer wiped")
    print("kernel time offline PIN (CDA) ms:", elapsed)


def test_peak_heap_of_the_transaction():
    _v, _c, _h, _k, outcome, _t, peak = _run(True)
    eq(outcome.result, "approved", "result")
    print("live heap peak at APDU boundaries bytes:", peak)
    if peak > 96 * 1024:
        raise AssertionError("kernel heap %d above the 96K budget" % peak)
