"""Keypad driver over the board's keypad object.

The board hands out an object with ``read_key(timeout_ms) -> name or None``
(boards/sim/channel.py ``KeypadChannel``, boards/common/keypad.py
``Tca8418Keypad``).  On top of it: key classes, waiting with a deadline, and
PIN entry that never keeps the PIN in a string.

PIN entry (``read_pin``): digits go into one preallocated bytearray (ASCII
digits, no other copy); CLEAR erases everything entered (the usual POS
meaning, EMV Book 4 §2.3), CANCEL abandons, ENTER accepts once at least
``min_len`` digits are in (below that it is ignored and ``on_reject`` is
told).  Digits beyond ``max_len`` are ignored.  The digits reach the caller
only inside ``consume(buf, n)``; whatever happens, the buffer is zeroed before
``read_pin`` returns.  Timeouts: ``first_key_ms`` for the first key,
``inter_key_ms`` between keys, and ``total_ms`` for the whole entry when a
clock (``ticks_ms``/``ticks_diff``, e.g. ``board.rtc()``) is given.
"""

DIGITS = "0123456789"
ENTER = "ENTER"
CLEAR = "CLEAR"
CANCEL = "CANCEL"

PIN_OK = "ok"
PIN_CANCELLED = "cancelled"
PIN_TIMEOUT = "timeout"


class Keypad:
    def __init__(self, device, clock=None):
        self.device = device
        self.clock = clock

    def key(self, timeout_ms=0):
        """The next key name, or None when none comes within timeout_ms."""
        return self.device.read_key(timeout_ms)

    def wait_for(self, wanted, timeout_ms):
        """The next key among ``wanted`` (others are dropped), or None after
        ``timeout_ms`` without one (needs the clock for exact deadlines; without
        it each ignored key restarts the wait, at most 64 keys)."""
        if self.clock is None:
            for _ in range(64):
                k = self.device.read_key(timeout_ms)
                if k is None or k in wanted:
                    return k
            return None
        start = self.clock.ticks_ms()
        while True:
            left = timeout_ms - self.clock.ticks_diff(self.clock.ticks_ms(), start)
            if left <= 0:
                return None
            k = self.device.read_key(left)
            if k is None or k in wanted:
                return k

    def read_amount(self, max_digits=9, timeout_ms=30000, on_change=None):
        """Digits typed for an amount (minor units), ENTER to accept, CLEAR to
        erase the last digit, CANCEL to abandon.  Returns the integer, or
        None on CANCEL or timeout."""
        digits = ""
        while True:
            k = self.device.read_key(timeout_ms)
            if k is None or k == CANCEL:
                return None
            if k == "00" and digits:
                digits = (digits + "00")[:max_digits]
            elif k in DIGITS and len(k) == 1:
                if len(digits) < max_digits and (digits or k != "0"):
                    digits += k
            elif k == CLEAR:
                digits = digits[:-1]
            elif k == ENTER and digits:
                return int(digits)
            if on_change is not None:
                on_change(int(digits) if digits else 0)

    def read_pin(
        self,
        consume,
        min_len=4,
        max_len=12,
        first_key_ms=30000,
        inter_key_ms=15000,
        total_ms=60000,
        on_change=None,
        on_reject=None,
    ):
        """Collect a PIN; returns (status, result) where status is PIN_OK,
        PIN_CANCELLED or PIN_TIMEOUT and result is what ``consume(buf, n)``
        returned (None unless PIN_OK).  ``on_change(count)`` is called after
        each change with the number of digits only."""
        if not 4 <= min_len <= max_len <= 12:
            raise ValueError("PIN length limits must satisfy 4 <= min <= max <= 12")
        buf = bytearray(max_len)
        n = 0
        start = self.clock.ticks_ms() if self.clock is not None else 0
        try:
            while True:
                wait = first_key_ms if n == 0 else inter_key_ms
                if self.clock is not None:
                    left = total_ms - self.clock.ticks_diff(self.clock.ticks_ms(), start)
                    if left <= 0:
                        return (PIN_TIMEOUT, None)
                    wait = min(wait, left)
                k = self.device.read_key(wait)
                if k is None:
                    return (PIN_TIMEOUT, None)
                if k == CANCEL:
                    return (PIN_CANCELLED, None)
                if k == CLEAR:
                    for i in range(n):
                        buf[i] = 0
                    n = 0
                elif k == ENTER:
                    if n >= min_len:
                        return (PIN_OK, consume(buf, n))
                    if on_reject is not None:
                        on_reject(n)
                    continue
                elif len(k) == 1 and k in DIGITS:
                    if n >= max_len:
                        continue
                    buf[n] = ord(k)
                    n += 1
                else:
                    continue
                if on_change is not None:
                    on_change(n)
        finally:
            for i in range(len(buf)):
                buf[i] = 0
