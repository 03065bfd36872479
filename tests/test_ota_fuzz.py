"""firmware.ota under CPython (the same device code, on a host directory
through boards.common.fs.Files):
any damage to a valid package — a flipped bit anywhere, a truncation —
is refused with OtaError, and the device's state and slots stay as they were."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile

from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from boards.common.fs import Files
from firmware.ota import Ota, OtaError
from hsm_sim.tsm.keys import public_point
from tools import ota_package as op

KEY = ec.generate_private_key(ec.SECP256R1())
PUB = public_point(KEY.public_key())
FILES = [("a.mpy", bytes(range(256)) * 3), ("lib/b.mpy", b"hello" * 40)]
ENTRIES = [{"path": p, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for p, b in FILES]
PKG = op.assemble(op.make_manifest("sim", 2, ENTRIES), KEY, [b for _, b in FILES])


def _snapshot(root: str) -> dict[str, bytes]:
    out = {}
    for base, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(base, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def test_good_package_installs_on_the_host_too() -> None:
    with tempfile.TemporaryDirectory() as d:
        ota = Ota(Files(d + "/ota"), PUB, "sim")
        assert ota.install(io.BytesIO(PKG)) == 2
        assert ota.boot()["trial"] is True
        assert ota.confirm() == {"active": "b", "version": 2, "min_version": 2}


@settings(max_examples=150, deadline=None)
@given(bit=st.integers(0, len(PKG) * 8 - 1), cut=st.integers(0, len(PKG) - 1), mode=st.booleans())
def test_damaged_package_refused_and_nothing_changes(bit: int, cut: int, mode: bool) -> None:
    if mode:
        bad = bytearray(PKG)
        bad[bit // 8] ^= 1 << (bit % 8)
        data = bytes(bad)
    else:
        data = PKG[:cut]
    with tempfile.TemporaryDirectory() as d:
        ota = Ota(Files(d + "/ota"), PUB, "sim")
        before = _snapshot(d)
        try:
            ota.install(io.BytesIO(data))
        except OtaError:
            pass
        else:
            raise AssertionError("damaged package accepted")
        assert _snapshot(d) == before
        assert ota.boot() == {"slot": "a", "version": 0, "trial": False, "rolled_back": None}
