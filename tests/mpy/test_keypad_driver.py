# Keypad driver under MicroPython: a scripted key source and a fake clock
# (each read costs its scripted time; None = the wait ran out).
from mpyunit import eq, raises

from firmware.drivers.keypad import PIN_CANCELLED, PIN_OK, PIN_TIMEOUT, Keypad


class Clock:
    def __init__(self):
        self.now = 0

    def ticks_ms(self):
        return self.now

    def ticks_diff(self, a, b):
        return a - b


class Script:
    """read_key returns the scripted keys; (key, ms) costs ms, None times out
    after the whole wait.  Records each timeout asked for."""

    def __init__(self, steps, clock=None):
        self.steps = list(steps)
        self.clock = clock
        self.waits = []

    def read_key(self, timeout_ms=0):
        self.waits.append(timeout_ms)
        step = self.steps.pop(0) if self.steps else None
        if isinstance(step, tuple):
            key, ms = step
        else:
            key, ms = step, 100
        if key is None:
            ms = timeout_ms
        elif ms > timeout_ms:
            key, ms = None, timeout_ms
            self.steps.insert(0, step)
        if self.clock is not None:
            self.clock.now += ms
        return key


def keep(buf, n):
    # what a PIN block builder would do: read the digits inside the callback
    return bytes(buf[:n]).decode()


def test_pin_ok_and_buffer_zeroed():
    seen = []

    def consume(buf, n):
        seen.append(buf)
        return keep(buf, n)

    counts = []
    kp = Keypad(Script(["1", "2", "3", "4", "ENTER"]))
    eq(kp.read_pin(consume, on_change=counts.append), (PIN_OK, "1234"))
    eq(counts, [1, 2, 3, 4])
    eq(bytes(seen[0]), bytes(12))  # cleared after use


def test_clear_erases_everything_and_short_enter_is_refused():
    rejected = []
    kp = Keypad(Script(["9", "9", "CLEAR", "1", "2", "3", "ENTER", "4", "ENTER"]))
    status, pin = kp.read_pin(keep, on_reject=rejected.append)
    eq((status, pin), (PIN_OK, "1234"))
    eq(rejected, [3])


def test_max_length_and_other_keys_ignored():
    keys = ["1"] * 14 + ["MENU", "*", "ENTER"]
    status, pin = Keypad(Script(keys)).read_pin(keep, max_len=6)
    eq((status, pin), (PIN_OK, "111111"))


def test_cancel_and_buffer_zeroed_even_then():
    seen = []

    def consume(buf, n):
        seen.append(buf)
        return None

    kp = Keypad(Script(["5", "5", "CANCEL"]))
    eq(kp.read_pin(consume), (PIN_CANCELLED, None))
    eq(seen, [])


def test_consumer_error_still_clears():
    held = []

    def consume(buf, n):
        held.append(buf)
        raise RuntimeError("PIN block failed")

    raises(RuntimeError, Keypad(Script(["1", "2", "3", "4", "ENTER"])).read_pin, consume)
    eq(bytes(held[0]), bytes(12))


def test_first_and_inter_key_timeouts():
    s = Script([None])
    eq(Keypad(s).read_pin(keep, first_key_ms=500), (PIN_TIMEOUT, None))
    eq(s.waits, [500])
    s = Script(["1", "2", None])
    eq(Keypad(s).read_pin(keep, first_key_ms=500, inter_key_ms=200), (PIN_TIMEOUT, None))
    eq(s.waits, [500, 200, 200])


def test_total_timeout_with_a_clock():
    clock = Clock()
    # a key every 900 ms: never an inter-key timeout, but 5 s in total
    s = Script([("1", 900)] * 20, clock)
    kp = Keypad(s, clock)
    status, _ = kp.read_pin(keep, max_len=12, first_key_ms=1000, inter_key_ms=1000, total_ms=5000)
    eq(status, PIN_TIMEOUT)
    eq(clock.now <= 5000, True)
    eq(s.waits[-1] <= 500, True)  # the last wait was cut to what was left


def test_limits_are_checked():
    raises(ValueError, Keypad(Script([])).read_pin, keep, 3, 12)
    raises(ValueError, Keypad(Script([])).read_pin, keep, 6, 4)


def test_amount_entry():
    changes = []
    kp = Keypad(Script(["0", "1", "2", "5", "CLEAR", "0", "0", "ENTER"]))
    eq(kp.read_amount(on_change=changes.append), 1200)
    eq(changes, [0, 1, 12, 125, 12, 120, 1200])
    eq(Keypad(Script(["1", "CANCEL"])).read_amount(), None)
    eq(Keypad(Script(["ENTER", "7", "00", "ENTER"])).read_amount(), 700)


def test_wait_for_with_and_without_clock():
    eq(Keypad(Script(["1", "MENU", "ENTER"])).wait_for(("ENTER", "CANCEL"), 1000), "ENTER")
    clock = Clock()
    s = Script([("1", 400), ("2", 400), ("ENTER", 400)], clock)
    eq(Keypad(s, clock).wait_for(("ENTER",), 1000), None)
    eq(s.waits, [1000, 600, 200])
