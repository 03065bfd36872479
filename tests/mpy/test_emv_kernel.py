# The contact kernel under real MicroPython: a scripted card replays the APDU
# exchanges recorded from the CPython run against host_sim.cards
# (tests/vectors/emv_contact_trace_*.json); the kernel must send exactly the
# same commands and reach the same outcome, TVR, TSI, CVM and script results,
# with RSA recovery (SDA, CDA) on MicroPython ints.
import gc
import time

from mpyunit import eq, load_json

FLOWS = ("offline_pin", "offline_enciphered_pin", "online_arpc_script", "online_pin_sda")
HEAP_BUDGET = 64 * 1024  # live data of one transaction, code not counted


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


def _run(name, collect):
    from firmware.emv import capk_data, config_data
    from firmware.emv.config import TerminalConfig
    from firmware.emv.contact.kernel import ContactKernel, HostResponse

    vector = load_json("../vectors/emv_contact_trace_%s.json" % name)
    card = ScriptedCard(vector["exchanges"], collect)
    holder = Cardholder(vector["pin"])
    clock = tuple(vector["clock"])
    byte = vector["random_byte"]
    host = vector["host"]
    if host is not None:
        host = HostResponse(
            bytes.fromhex(host["arc"]),
            bytes.fromhex(host["auth_data"]) or None,
            bytes.fromhex(host["scripts"]),
        )
    data = dict(config_data.TERMINAL_DATA)
    data.update(vector["terminal_data"])
    config = TerminalConfig(data, config_data.AIDS, config_data.OPTIONS, capk_data.TEST_CAPKS)
    gc.collect()
    base = gc.mem_alloc()
    start = time.ticks_ms()
    kernel = ContactKernel(card, config, lambda: clock, lambda n: bytes([byte] * n), holder)
    outcome = kernel.start(vector["amount"])
    if host is not None:
        outcome = kernel.complete(host)
    elapsed = time.ticks_diff(time.ticks_ms(), start)
    return vector, card, holder, kernel, outcome, elapsed, card.peak - base


def _check(name):
    vector, card, holder, kernel, outcome, elapsed, _peak = _run(name, False)
    eq(card.pos, len(vector["exchanges"]), "every recorded APDU sent")
    want = vector["outcome"]
    eq(outcome.result, want["result"], "result")
    eq(outcome.cryptogram, want["cryptogram"], "cryptogram")
    eq(outcome.tvr.hex().upper(), want["tvr"], "TVR")
    eq(outcome.tsi.hex().upper(), want["tsi"], "TSI")
    eq(outcome.cvm_results.hex().upper(), want["cvm_results"], "CVM results")
    eq(outcome.script_results.hex().upper(), want["script_results"], "script results")
    eq([list(e) for e in kernel.trace.entries], vector["trace"], "trace")
    if holder.buffer is not None:
        eq(holder.buffer, bytearray(len(holder.buffer)), "PIN buffer wiped")
    print("kernel time %s ms: %d" % (name, elapsed))


def test_offline_pin_cda_offline_approval():
    _check("offline_pin")


def test_offline_enciphered_pin_rsa_on_micropython():
    _check("offline_enciphered_pin")


def test_online_arpc_in_cdol2_and_script():
    _check("online_arpc_script")


def test_online_pin_sda_external_authenticate():
    _check("online_pin_sda")


def test_peak_heap_of_each_flow():
    for name in FLOWS:
        gc.collect()
        _v, _c, _h, _k, outcome, _t, peak = _run(name, True)
        eq(outcome.result, "approved", name)
        print("live heap peak %s bytes: %d" % (name, peak))
        if peak > HEAP_BUDGET:
            raise AssertionError("%s: kernel heap %d above the budget" % (name, peak))
