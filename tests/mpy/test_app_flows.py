# The terminal's state machine (firmware/app/terminal.py) under MicroPython
# with fakes for the parts that are not under test here: a host that answers
# from a script (or stays silent), an empty NFC field, an empty card slot.
# The end-to-end runs with the real parts are tests/test_app_e2e.py.
from mpyunit import eq

from firmware.app.batch import Batch
from firmware.app.online import HostTimeout
from firmware.app.screens import Ui
from firmware.app.terminal import Terminal

TERM = {"tid": "PT000001", "mid": "000000000123456", "name": "SHOP", "name_ar": "متجر",
        "city": "AMMAN"}  # fmt: skip
CARD = {"interface": "contactless", "pan": "4761730000000045", "expiry": "2812", "psn": 1}


class Host:
    """Answers each request with the next entry of ``answers``: a response
    code, or None for silence (HostTimeout)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []

    def exchange(self, msg):
        self.requests.append(dict(msg))
        code = self.answers.pop(0) if self.answers else None
        if code is None:
            raise HostTimeout("silent")
        answer = {"t": msg["t"][:2] + str(int(msg["t"][2]) + 1) + msg["t"][3], "39": code,
                  "11": msg["11"]}  # fmt: skip
        if code == "00":
            answer["38"] = "A1B2C3"
            answer["37"] = "632600000001"
        return answer


class Clock:
    def datetime(self):
        return (2026, 11, 22, 6, 10, 30, 5, 0)

    def ticks_ms(self):
        return 0

    def ticks_diff(self, a, b):
        return a - b


class EmptyField:
    def wait_for_card(self, timeout_ms):
        return None


class EmptySlot:
    def present(self):
        return False

    def power_on(self):
        raise AssertionError("powered an empty slot")


def terminal(answers):
    host = Host(answers)
    shown = []
    ui = Ui(None, lambda kind, doc: shown.append(doc["message"]))
    t = Terminal(TERM, host, None, ui, None, Clock(), lambda n: bytes(n), Batch(), EmptyField(),
                 EmptySlot())  # fmt: skip
    return t, host, shown


def test_no_card_tap_and_insert():
    t, host, shown = terminal([])
    r = t.sale(1500, "tap")
    eq((r["result"], r["message"]), ("declined", "no_card"))
    r = t.sale(1500, "insert")
    eq((r["result"], r["message"]), ("declined", "no_card"))
    eq(shown[-2:], ["no_card", "idle"])
    eq(host.requests, [])


def _online(t, code_kind="sale"):
    txn = t._base_txn(code_kind, 30000, dict(CARD))
    answer = t._authorise(txn, None, None)
    return txn, answer


def test_silent_host_reversal_queued_then_repeated_then_delivered():
    t, host, _shown = terminal([None, None])  # the 0200 and the first 0400 unanswered
    txn, answer = _online(t)
    eq(answer, None)
    eq(txn["reversed"], True)
    eq([m["t"] for m in host.requests], ["0200", "0400"])
    eq(len(t.batch.reversals), 1)
    eq(t.batch.reversals[0]["t"], "0401", "the next try is a repeat")
    eq(t.batch.totals(), (0, 0, 0, 0), "a reversed sale is not in the totals")
    host.answers = ["00"]
    eq(t.forward(), {"reversals": 1, "advices": 0})
    eq(host.requests[-1]["t"], "0401")
    eq(host.requests[-1]["90"][:10], "0200" + txn["stan"])
    eq(t.batch.reversals, [])


def test_decline_codes_and_batch_close():
    t, host, shown = terminal(["00", "51", "95", "00"])
    txn, answer = _online(t)
    t._decide(txn, answer)
    eq((txn["result"], txn["auth_code"]), ("approved", "A1B2C3"))
    txn2, answer2 = _online(t)
    t._decide(txn2, answer2)
    eq((txn2["result"], txn2["message"]), ("declined", "insufficient_funds"))
    eq(t.batch.totals(), (1, 30000, 0, 0))
    r = t.batch_close()
    eq((r["code"], t.batch.number), ("95", 1))
    eq(shown[-1], "batch_mismatch")
    eq(host.requests[-1]["63"], "001000000030000000000000000000")
    r = t.batch_close()
    eq((r["code"], t.batch.number, t.batch.totals()), ("00", 2, (0, 0, 0, 0)))
    eq(shown[-1], "batch_closed")


def test_void_of_an_undelivered_advice_sends_nothing():
    t, host, _shown = terminal([])
    txn = t._base_txn("sale", 15000, dict(CARD))
    t._offline_approval(txn, b"", "Y1")
    eq((txn["result"], txn["auth_code"], len(t.batch.advices)), ("approved", "Y1", 1))
    r = t.void()
    eq((r["result"], r["code"]), ("approved", "00"))
    eq((t.batch.advices, host.requests, t.batch.totals()), ([], [], (0, 0, 0, 0)))


def _hold(t, amount):
    txn = t._base_txn("preauth", amount, dict(CARD))
    answer = t._authorise(txn, None, None)
    eq((answer["39"], txn["request"]["t"]), ("00", "0100"))
    return txn


def test_completion_names_the_hold_and_completes_once():
    t, host, shown = terminal(["00", "00"])
    hold = _hold(t, 50000)
    r = t.complete(hold["stan"], 42500)
    eq((r["kind"], r["result"], r["code"], r["preauth_stan"]), ("completion", "approved", "00",
                                                                 hold["stan"]))  # fmt: skip
    msg = host.requests[-1]
    eq((msg["t"], msg["3"], msg["4"], msg["38"], msg["60"]),
       ("0220", "000000", "000000042500", "A1B2C3", "000001"))  # fmt: skip
    eq(msg["90"], "0100" + hold["stan"] + hold["request"]["7"] + "0" * 22)
    eq((msg["2"], msg["22"], "52" in msg, "55" in msg), (CARD["pan"], "071", False, False))
    eq(t.batch.totals(), (1, 42500, 0, 0))  # the completion is the sale, the hold never
    again = t.complete(hold["stan"], 42500)
    eq((again["result"], again["message"], len(host.requests)),
       ("declined", "already_completed", 2))  # fmt: skip
    eq(t.complete("999999", 100)["message"], "nothing_to_complete")
    eq(shown[-2:], ["nothing_to_complete", "idle"])


def test_completion_refused_by_the_host_or_owed_when_it_is_silent():
    t, host, _shown = terminal(["00", "94", "00", None, "00"])
    first = _hold(t, 20000)
    r = t.complete(first["stan"], 20000)
    eq((r["result"], r["message"], r["code"]), ("declined", "already_completed", "94"))
    eq(t.batch.totals(), (0, 0, 0, 0))
    second = _hold(t, 10000)
    r = t.complete(second["stan"], 11000)
    eq((r["result"], r["message"], r.get("queued")), ("approved", "approved_offline", True))
    eq([m["t"] for m in t.batch.advices], ["0220"])
    eq(t.forward(), {"reversals": 0, "advices": 1})
    eq((host.requests[-1]["t"], host.requests[-1]["4"], t.batch.advices), ("0220", "000000011000",
                                                                           []))  # fmt: skip
