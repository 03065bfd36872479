"""A virtual card for vsmartcard's vpcd, the virtual smart card reader of pcscd.

The vpcd driver (Debian package ``vsmartcard-vpcd``) makes pcscd list a
reader "Virtual PCD" and listen on TCP port 35963 (0x8C7B, set in
/etc/reader.conf.d/vpcd) for a virtual card; the card connects to it.  Each
message, both ways, is a 2-byte big-endian length then the data.  From the
reader, a 1-byte message is a control command: 00 power off, 01 power on,
02 reset, 04 get ATR (answered with the ATR); anything longer is a command
APDU, answered with the response APDU.  Power on and reset are not answered.

    python -m host_sim.cards.vpcd --profile contact_offline_pin [--host H] [--port P]

connects the card and serves until the reader closes the connection (or
Ctrl-C); then any PC/SC tool sees the card: ``pcsc_scan``, ``opensc-tool -a``,
``scriptor``, pyscard.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import threading
import time

from host_sim.cards.card import Card

DEFAULT_PORT = 35963
POWER_OFF = 0x00
POWER_ON = 0x01
RESET = 0x02
GET_ATR = 0x04
MAX_MESSAGE = 0xFFFF


class VpcdError(OSError):
    """The link to vpcd failed or carried something that is not vpcd."""


class VpcdCard:
    """Connects one ``Card`` to a vpcd reader slot and answers it."""

    def __init__(
        self,
        card: Card,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        poll: float = 0.2,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.poll = poll
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.apdus = 0

    def connect(self, timeout: float = 10.0) -> None:
        """Connect to the reader, retrying until ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=self.poll)
            except OSError as error:
                if time.monotonic() >= deadline:
                    raise VpcdError(f"no vpcd reader at {self.host}:{self.port}: {error}") from None
                time.sleep(self.poll)
                continue
            sock.settimeout(self.poll)
            self._sock = sock
            return

    def _recv_exact(self, count: int) -> bytes | None:
        """``count`` bytes, or None when stopped or the reader hung up."""
        assert self._sock is not None
        out = b""
        while len(out) < count:
            if self._stop.is_set():
                return None
            try:
                chunk = self._sock.recv(count - len(out))
            except TimeoutError:
                continue
            if not chunk:
                return None
            out += chunk
        return out

    def _send(self, data: bytes) -> None:
        assert self._sock is not None
        if len(data) > MAX_MESSAGE:
            raise VpcdError("response longer than a vpcd message")
        self._sock.sendall(len(data).to_bytes(2, "big") + data)

    def handle(self, message: bytes) -> bytes | None:
        """The answer to one message from the reader (None: no answer)."""
        if len(message) == 1:
            command = message[0]
            if command == POWER_OFF:
                self.card.power_off()
            elif command in (POWER_ON, RESET):
                self.card.power_on()
            elif command == GET_ATR:
                return self.card.atr
            return None
        self.apdus += 1
        return self.card.transmit(message)

    def serve(self) -> None:
        """Answer the reader until it hangs up or ``stop()`` is called."""
        if self._sock is None:
            self.connect()
        try:
            while not self._stop.is_set():
                header = self._recv_exact(2)
                if header is None:
                    return
                length = int.from_bytes(header, "big")
                message = self._recv_exact(length) if length else b""
                if message is None:
                    return
                answer = self.handle(message)
                if answer is not None:
                    self._send(answer)
        finally:
            self.close()

    def start(self, timeout: float = 10.0) -> threading.Thread:
        """Connect, then serve in a daemon thread."""
        self.connect(timeout)
        self._thread = threading.Thread(target=self.serve, name="vpcd-card", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None


def main(argv: list[str] | None = None) -> int:
    from host_sim.cards import load_profile, profile_names

    parser = argparse.ArgumentParser(description="Connect a virtual EMV card to pcscd's vpcd.")
    parser.add_argument("--profile", required=True, choices=profile_names())
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for vpcd")
    args = parser.parse_args(argv)
    client = VpcdCard(load_profile(args.profile), args.host, args.port)
    try:
        client.connect(args.timeout)
    except VpcdError as error:
        print(f"vpcd: {error}", file=sys.stderr)
        return 1
    print(f"vpcd: card {args.profile} inserted at {args.host}:{args.port}", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        client.serve()
    print(f"vpcd: card removed after {client.apdus} APDUs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
