"""The card's I/O line as seen through a UART: exact reads with the waiting
times of ISO 7816-3, inverse convention, and echo removal for readers where
the UART hears its own transmissions on the single-wire I/O line."""

from firmware.drivers.iso7816.errors import CardTimeout
from protocols.atr import inverse_byte

_INVERSE = bytes(inverse_byte(b) for b in range(256))


class CardPort:
    def __init__(self, uart, echo=False):
        self.uart = uart
        self.echo = echo
        self.inverse = False
        self.timeouts = []  # (first_ms, char_ms) of each read, for tests and logs

    def _conv(self, data):
        if not self.inverse:
            return bytes(data)
        return bytes(_INVERSE[b] for b in data)

    def drain(self):
        """Drop whatever the card sent that nobody asked for."""
        while self.uart.any():
            if not self.uart.read(self.uart.any()):
                break

    def write(self, data):
        raw = self._conv(data)
        self.uart.write(raw)
        if self.echo:
            got = self._read_raw(len(raw), 100, 20)
            if got != raw:
                raise CardTimeout("echo of the I/O line missing or garbled")

    def _read_raw(self, n, first_ms, char_ms):
        self.uart.init(timeout=first_ms, timeout_char=char_ms)
        out = b""
        while len(out) < n:
            chunk = self.uart.read(n - len(out))
            if not chunk:
                return out
            out += chunk
            self.uart.init(timeout=char_ms, timeout_char=char_ms)
        return out

    def read(self, n, first_ms, char_ms):
        """Exactly ``n`` bytes: the first within ``first_ms``, each next within
        ``char_ms``; CardTimeout otherwise."""
        self.timeouts.append((first_ms, char_ms))
        out = self._read_raw(n, first_ms, char_ms)
        if len(out) != n:
            raise CardTimeout("card sent %d of %d bytes" % (len(out), n))
        return self._conv(out)
