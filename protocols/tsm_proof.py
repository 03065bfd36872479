"""The proof of possession a terminal's secure element gives the TSM
(docs/tsm.md): the digest its SE signs to answer a TSM challenge.

    SHA-256("PTTSM-POP1" | purpose | 00 | serial | 00 | challenge | bound)

``bound`` is what the proof vouches for besides the challenge: the SE's
key-agreement key for ``transport-key``, the version and slot for
``report``, empty otherwise.  One definition for the TSM and the terminal.
"""

import hashlib

POP_DOMAIN = b"PTTSM-POP1"
PURPOSES = ("enrol", "renew", "dukpt", "transport-key", "report")


def pop_digest(purpose: str, serial: str, challenge: bytes, bound: bytes = b"") -> bytes:
    if purpose not in PURPOSES:
        raise ValueError("unknown purpose %s" % purpose)
    h = hashlib.sha256(POP_DOMAIN)
    h.update(purpose.encode())
    h.update(b"\0")
    h.update(serial.encode())
    h.update(b"\0")
    h.update(challenge)
    h.update(bound)
    return h.digest()
