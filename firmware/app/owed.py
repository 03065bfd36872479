"""What the terminal owes the host, kept on the flash (docs/app.md "Owed
messages"): every reversal and advice not yet answered, each in a file of
its own sealed by the secure element (``wrap``: AES-256-GCM under a key
that never leaves it, docs/secure-element.md), and the STAN counter.

A reversal owed for a sale the host may have approved, or an advice for an
offline approval, must reach the host even when the power goes between two
tries: the message carries the PAN and the card's data, so it is kept
sealed, never in clear.  Files (on a ``Files``, boards/common/fs.py):

    stan           the last STAN used, decimal (plain: no card data)
    r<STAN>        a reversal: its message dict as JSON, sealed in pieces
                   of at most CHUNK bytes: (length u16 | blob) ...
    a<STAN>        an advice, the same

Each is written as ``NAME.tmp`` and renamed (atomic on littlefs).  A file
that does not unseal (another secure element, a flipped bit) is kept and
reported, never sent, never deleted by the terminal.
"""

import json
from binascii import hexlify

PURPOSE = 1  # the SE wrap purpose of owed messages
CHUNK = 900  # bytes of JSON per sealed piece (the SE wraps at most 994)
PREFIX = {"reversals": "r", "advices": "a"}

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _encode(msg: "dict") -> bytes:
    doc = {}
    for k in msg:
        v = msg[k]
        doc[k] = {"x": hexlify(v).decode()} if isinstance(v, (bytes, bytearray)) else v
    return json.dumps(doc, separators=(",", ":")).encode()


def _decode(data: bytes) -> "dict":
    doc = json.loads(data)
    msg = {}
    for k in doc:
        v = doc[k]
        msg[k] = bytes.fromhex(v["x"]) if isinstance(v, dict) else v
    return msg


class OwedStore:
    def __init__(self, fs: "Any", se: "Any") -> None:
        self.fs = fs  # a Files of its own (a directory on the fiscal flash)
        self.se = se
        self.unreadable: "list[str]" = []  # files that did not unseal

    def _write(self, name: str, data: bytes) -> None:
        with self.fs.open(name + ".tmp", "wb") as f:
            f.write(data)
        self.fs.rename(name + ".tmp", name)

    def save_stan(self, stan: int) -> None:
        self._write("stan", ("%d" % stan).encode())

    def put(self, queue: str, msg: "dict") -> None:
        data = _encode(msg)
        out = bytearray()
        for at in range(0, len(data), CHUNK):
            blob = self.se.wrap(PURPOSE, data[at : at + CHUNK])
            out.extend(bytes(((len(blob) >> 8) & 0xFF, len(blob) & 0xFF)))
            out.extend(blob)
        self._write(PREFIX[queue] + msg["11"], out)

    def _unseal(self, sealed: bytes) -> bytes:
        data = bytearray()
        at = 0
        while at < len(sealed):
            if at + 2 > len(sealed):
                raise ValueError("cut short")
            n = (sealed[at] << 8) | sealed[at + 1]
            if at + 2 + n > len(sealed):
                raise ValueError("cut short")
            data.extend(self.se.unwrap(PURPOSE, sealed[at + 2 : at + 2 + n]))
            at += 2 + n
        return bytes(data)

    def drop(self, queue: str, msg: "dict") -> None:
        try:
            self.fs.remove(PREFIX[queue] + msg["11"])
        except OSError:
            pass

    def load(self) -> "tuple[int, list, list]":
        """(last STAN, reversals, advices) as a power cut left them, each
        queue in STAN order."""
        stan = 0
        queues: "dict[str, list]" = {"r": [], "a": []}
        for name in sorted(self.fs.listdir()):
            if name.endswith(".tmp"):  # a write the cut interrupted: the old file stands
                self.fs.remove(name)
            elif name == "stan":
                with self.fs.open(name, "rb") as f:
                    stan = int(f.read())
            elif name[:1] in queues:
                with self.fs.open(name, "rb") as f:
                    blob = f.read()
                try:
                    queues[name[:1]].append(_decode(self._unseal(blob)))
                except Exception:  # SeAppError (not ours, damaged), bad JSON
                    self.unreadable.append(name)
        return stan, queues["r"], queues["a"]
