"""Run fiscal firmware scripts under real MicroPython from CPython tests and
benchmarks, signing for them with a software ECDSA P-256 key: the stand-in
for the secure element until the SE emulator is wired in.

The MicroPython side is ``tests/mpy/pipe_signer.py`` (the digest goes out as
``SIGN <hex>`` on stdout, the answer comes back on stdin); scripts are
imported from ``tests/mpy`` (``fiscal_scenario``).  Lines ``ACK <seq>``
(printed once an append returned) are collected."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from protocols.se_app import signed_message
from tools import mpytest

REPO = Path(__file__).resolve().parent.parent
MPY_DIR = REPO / "tests" / "mpy"


class SoftSigner:
    """The secure element's SIGN in software (docs/secure-element.md): ECDSA
    P-256 / SHA-256 over ``"PTSE-SIG1" | slot | counter u32 | digest``, raw
    r|s, the counter rising by one (kept in memory)."""

    def __init__(self, seed: int = 1) -> None:
        self.key = ec.derive_private_key(0xF15CA1 + seed, ec.SECP256R1())
        self.counter = 0
        self.calls = 0
        self.fail_calls: set[int] = set()

    def sign(self, digest: bytes, slot: int = 0) -> tuple[bytes, int]:
        self.counter += 1
        der = self.key.sign(signed_message(digest, self.counter, slot), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big"), self.counter

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass
class Run:
    returncode: int
    lines: list[str] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)
    stderr: str = ""

    def value(self, key: str) -> str | None:
        for ln in self.lines:
            if ln.startswith(key + " "):
                return ln[len(key) + 1 :]
        return None


def run(
    code: str,
    signer: SoftSigner,
    heap: str = "1M",
    timeout: float = 120.0,
    extra_env: dict[str, str] | None = None,
) -> Run:
    """Run ``code`` under MicroPython; answer its SIGN requests; collect
    ``ACK <seq>`` lines (printed once an append returned)."""
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join([str(REPO), str(MPY_DIR)])
    env.update(extra_env or {})
    proc = subprocess.Popen(
        [mpytest.micropython_binary(), "-X", "heapsize=" + heap, "-c", code],
        cwd=str(MPY_DIR),
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out = Run(0)
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("SIGN "):
                signer.calls += 1
                if signer.calls in signer.fail_calls:
                    proc.stdin.write("ERR secure element silent\n")
                else:
                    sig, counter = signer.sign(bytes.fromhex(line[5:]))
                    proc.stdin.write(f"{sig.hex()} {counter}\n")
                proc.stdin.flush()
                continue
            if line.startswith("ACK "):
                out.acked.append(int(line[4:]))
            out.lines.append(line)
        out.returncode = proc.wait(timeout=timeout)
        out.stderr = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stdout.close()
        proc.stderr.close()
    return out
