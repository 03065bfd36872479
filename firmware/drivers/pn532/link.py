"""The PN532 host link over HSU: one command, its ACK, its response.

UM0701 §6.2.2 dialog: the host writes a command frame; the PN532 answers
with an ACK frame as soon as it has checked the frame, then with the
response frame once the command is done.  This module owns that dialog and
its failure modes:

- no ACK within ``ack_timeout_ms``                      -> AckTimeout
- a NACK where the ACK should be                        -> send the command again
- the PN532's error frame (it could not parse us)       -> PN532SyntaxError
- no response within the command's timeout              -> send an ACK (which
  aborts the command, UM0701 §6.2.1.3) and raise ResponseTimeout
- a corrupt response (bad LCS/DCS) and then a quiet line -> send a NACK: the
  PN532 sends its last response again; after ``max_retries`` NACKs,
  PN532ProtocolError.  (Waiting for quiet first: noise containing 00 FF
  parses as a corrupt frame too, and a good response may follow it.)
- noise, stray preambles, half frames                   -> skipped by
  protocols.pn532.FrameParser (resynchronisation on the next start code)
- a well-formed frame answering another command         -> ignored

Time comes from the injected clock (``ticks_ms``, ``ticks_diff``,
``sleep_ms``: the board's rtc() has them), so the driver itself touches no
time source and tests run on a fake clock.
"""

from firmware.drivers.pn532.errors import (
    AckTimeout,
    PN532ProtocolError,
    PN532SyntaxError,
    ResponseTimeout,
)
from protocols import pn532 as frames

# The PN532 acknowledges within 15 ms at 115200 baud (nfcpy allows 100 ms on
# slow USB-serial bridges; we take the middle).
DEFAULT_ACK_TIMEOUT_MS = 50
DEFAULT_MAX_RETRIES = 3
# Quiet time after a corrupt frame before asking for a resend (NACK).
NACK_QUIET_MS = 20


class Link:
    def __init__(
        self,
        uart,
        clock,
        ack_timeout_ms=DEFAULT_ACK_TIMEOUT_MS,
        max_retries=DEFAULT_MAX_RETRIES,
    ):
        self._uart = uart
        self._clock = clock
        self.ack_timeout_ms = ack_timeout_ms
        self.max_retries = max_retries
        self._parser = frames.FrameParser()
        self._pending = []
        # Counters: what the link had to recover from (tests and diagnostics).
        self.nacks_sent = 0
        self.resends = 0
        self.stray_frames = 0

    @property
    def noise_bytes(self):
        return self._parser.skipped

    def write(self, data):
        self._uart.write(data)

    def discard_input(self):
        """Drop whatever is buffered: a late answer to an aborted command must
        not be taken for the answer to the next one."""
        uart = self._uart
        for _ in range(64):
            n = uart.any()
            if not n:
                break
            uart.read(n)
        self._parser.reset()
        self._pending = []

    def _next_frame(self, deadline):
        clock = self._clock
        uart = self._uart
        while True:
            if self._pending:
                return self._pending.pop(0)
            if clock.ticks_diff(deadline, clock.ticks_ms()) <= 0:
                return None
            n = uart.any()
            data = uart.read(n) if n else None
            if data:
                self._pending.extend(self._parser.feed(data))
            else:
                clock.sleep_ms(1)

    def _deadline(self, ms):
        return self._clock.ticks_ms() + ms

    def command(self, code, params=b"", timeout_ms=1000):
        """Send one command; return the response bytes after PD0."""
        frame = frames.encode_command(code, params)
        self.discard_input()
        self._uart.write(frame)
        self._await_ack(code, frame)
        return self._await_response(code, timeout_ms)

    def _await_ack(self, code, frame):
        resends = 0
        mangled = 0
        deadline = self._deadline(self.ack_timeout_ms)
        while True:
            got = self._next_frame(deadline)
            if got is None:
                raise AckTimeout("no ACK for %s within %d ms" % (_name(code), self.ack_timeout_ms))
            kind = got.kind
            if kind == frames.KIND_ACK:
                return
            if kind == frames.KIND_NACK:
                resends += 1
                if resends > self.max_retries:
                    raise PN532ProtocolError("%s: NACKed %d times" % (_name(code), resends))
                self.resends += 1
                self._uart.write(frame)
                deadline = self._deadline(self.ack_timeout_ms)
            elif kind == frames.KIND_ERROR:
                raise PN532SyntaxError("PN532 could not parse %s (error frame)" % _name(code))
            elif kind == frames.KIND_CORRUPT:
                # Maybe a mangled ACK, and the response may still follow: wait
                # a little longer, a bounded number of times (a line full of
                # corrupt frames must not hold us forever).
                mangled += 1
                if mangled <= self.max_retries:
                    deadline = self._deadline(self.ack_timeout_ms)
            else:
                # The response without a readable ACK before it: it implies one.
                self._pending.insert(0, got)
                return

    def _await_response(self, code, timeout_ms):
        nacks = 0
        deadline = self._deadline(timeout_ms)
        # After a corrupt frame, give the line NACK_QUIET_MS to deliver a good
        # response (the corrupt "frame" may have been noise that looked like a
        # start code); only a quiet line earns a NACK.
        quiet_deadline = None
        corrupt = None
        clock = self._clock
        while True:
            until_quiet = (
                quiet_deadline is not None and clock.ticks_diff(deadline, quiet_deadline) > 0
            )
            got = self._next_frame(quiet_deadline if until_quiet else deadline)
            if got is None:
                if until_quiet:
                    nacks += 1
                    if nacks > self.max_retries:
                        raise PN532ProtocolError(
                            "%s: response still corrupt after %d NACKs (%s)"
                            % (_name(code), self.max_retries, corrupt)
                        )
                    self.nacks_sent += 1
                    self._uart.write(frames.NACK_FRAME)
                    quiet_deadline = None
                    extended = self._deadline(self.ack_timeout_ms)
                    if clock.ticks_diff(extended, deadline) > 0:
                        deadline = extended
                    continue
                self._uart.write(frames.ACK_FRAME)  # abort the command
                raise ResponseTimeout("no response to %s within %d ms" % (_name(code), timeout_ms))
            kind = got.kind
            if kind == frames.KIND_CORRUPT:
                corrupt = got.error
                quiet_deadline = self._deadline(NACK_QUIET_MS)
            elif kind == frames.KIND_ERROR:
                raise PN532SyntaxError("PN532 could not parse %s (error frame)" % _name(code))
            elif kind == frames.KIND_NORMAL or kind == frames.KIND_EXTENDED:
                data = got.data
                if got.tfi == frames.TFI_PN532_TO_HOST and data and data[0] == (code + 1) & 0xFF:
                    return data[1:]
                self.stray_frames += 1
            # ACK/NACK here: a duplicate ACK or line junk; keep waiting.


def _name(code):
    return frames.command_name(code) or "command 0x%02X" % code
