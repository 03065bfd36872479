"""The EMV trace of a transaction: every APDU, PAN masked.

``Trace.card(card)`` wraps a card interface (``exchange_apdu(apdu) ->
bytes``) so that every command and response is recorded.  Values that carry
the PAN (5A, 57 track 2, 56, 9F6B, 5F20 cardholder name) are masked as soon as
a response reveals them: digits between the first six and the last four
become ``*`` in the hex of that response and of every later entry.  The
trace never holds a clear PAN; it never sees a PIN (contactless has only
online PIN, entered outside the kernel).
"""

from protocols import tlv
from protocols.errors import DecodeError

SENSITIVE = (0x5A, 0x57, 0x56, 0x9F6B, 0x5F20)


def _mask_digits(text):
    """Mask a hex string of BCD digits: keep 6 first and 4 last digits."""
    end = len(text)
    for sep in ("D", "F", "="):
        at = text.find(sep)
        if 0 <= at < end:
            end = at
    if end <= 10:
        return "*" * end + text[end:]
    return text[:6] + "*" * (end - 10) + text[end - 4 :]


def mask_value(tag, text):
    """The masked hex of a sensitive object's value (the name entirely)."""
    if tag == 0x5F20:
        return "*" * len(text)
    return _mask_digits(text)


class _Traced:
    def __init__(self, trace, card):
        self._trace = trace
        self._card = card

    def exchange_apdu(self, command):
        self._trace.add("C", command)
        response = self._card.exchange_apdu(command)
        self._trace.add("R", response)
        return response


class Trace:
    def __init__(self, clock=None):
        self.entries = []  # (direction "C"/"R", masked hex, ms since start)
        self._masks = []  # (clear hex, masked hex)
        self._clock = clock
        self._t0 = clock.ticks_ms() if clock is not None else 0
        self.events = []

    def card(self, card):
        return _Traced(self, card)

    def _learn(self, raw):
        if len(raw) < 2:
            return
        try:
            nodes = tlv.decode(raw[:-2])
        except DecodeError:
            return
        for node in tlv.walk(nodes):
            if node.tag in SENSITIVE and not node.constructed and node.value:
                clear = node.value.hex().upper()
                masked = mask_value(node.tag, clear)
                self._remember(clear, masked)
                at = clear.find("D")
                if node.tag == 0x57 and at > 0 and at % 2 == 0:
                    self._remember(clear[:at], _mask_digits(clear[:at]))

    def _remember(self, clear, masked):
        if (clear, masked) not in self._masks:
            self._masks.append((clear, masked))
            self._masks.sort(key=lambda pair: -len(pair[0]))

    def add(self, direction, raw):
        if direction == "R":
            self._learn(raw)
        text = raw.hex().upper()
        for clear, masked in self._masks:
            text = text.replace(clear, masked)
        ms = 0
        if self._clock is not None:
            ms = self._clock.ticks_diff(self._clock.ticks_ms(), self._t0)
        self.entries.append((direction, text, ms))

    def note(self, text):
        """A line about a kernel decision (no card data in it)."""
        self.events.append(text)

    def to_json(self):
        return {
            "apdus": [{"dir": d, "hex": h, "ms": ms} for d, h, ms in self.entries],
            "events": list(self.events),
        }
