"""firmware/ota under real MicroPython on the sim board's littlefs
(boards.sim.flash.FileBlockDevice, os.VfsLfs2), reached through a
boards.common.fs.Files: packages made on the host by tools/ota_package.py and
signed with a fresh ECDSA P-256 release key, checked on the device with
protocols.p256. Power is cut (PowerCutDevice) at every block write of an
install + trial boot + confirm sequence. The real build goes through the sim
board's own OTA area (board.ota_fs(), ota.img)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import boards
from tools import mpytest
from tools import ota_package as op

HEAP = "1M"


def _files(version: int) -> list[tuple[str, bytes]]:
    # bodies differ per version; one nested path; one empty file
    return [
        ("main.mpy", bytes((i * 7 + version) & 0xFF for i in range(1500))),
        ("firmware/app/screens.mpy", f"v{version} screens ".encode() * 60),
        ("boards/sim/board.json", json.dumps({"v": version}).encode()),
        ("empty.txt", b""),
    ]


def _pkg(
    key: ec.EllipticCurvePrivateKey,
    version: int,
    board: str = "sim",
    files: list[tuple[str, bytes]] | None = None,
    alter_body: bool = False,
) -> bytes:
    fl = files if files is not None else _files(version)
    entries = [{"path": p, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for p, b in fl]
    bodies = [b for _, b in fl]
    if alter_body:
        bodies[0] = bytes([bodies[0][0] ^ 1]) + bodies[0][1:]
    return op.assemble(op.make_manifest(board, version, entries), key, bodies)


def _pub(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        .hex()
    )


@pytest.fixture(scope="module")
def pkgs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("ota")
    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    made = {
        "v1": _pkg(key, 1),
        "v2": _pkg(key, 2),
        "v3": _pkg(key, 3),
        "v4_other_key": _pkg(other, 4),
        "v4_bad_hash": _pkg(key, 4, alter_body=True),
        "v4_board": _pkg(key, 4, board="esp32s3"),
        "v4_escape": _pkg(key, 4, files=[("../boot.json", b"{}")]),
    }
    good = made["v3"]
    made["v4_truncated"] = _pkg(key, 4)[:-10]
    made["v3_flipped_manifest"] = good[:20] + bytes([good[20] ^ 0x20]) + good[21:]
    for name, data in made.items():
        (d / f"{name}.pkg").write_bytes(data)
    return {"dir": d, "key": key, "pub": _pub(key)}


HEADER = """
import os, json
from binascii import unhexlify
from boards.common.fs import Files
from boards.sim.flash import FileBlockDevice, PowerCutDevice, PowerCut, mkfs, mount
from firmware.ota import Ota, OtaError, OtaRollback
D = %r
PUB = unhexlify(%r)
MP = "/fl"
OFS = Files(MP + "/ota")  # the OTA directory on the mount: what Ota gets
def out(x):
    print("OUT " + json.dumps(x))
def pkg(name):
    return open(D + "/" + name + ".pkg", "rb")
def umount():
    try:
        os.umount(MP)
    except OSError:
        pass
def fresh(img, bs=512, count=160):
    try:
        os.remove(img)
    except OSError:
        pass
    dev = FileBlockDevice(img, bs, count)
    mkfs(dev)
    mount(dev, MP)
    return dev
def remount(img, dev=None):
    umount()
    d = dev or FileBlockDevice(img, 512, 160)
    mount(d, MP)
    return d
def files(slot):
    out_ = {}
    def walk(p, rel):
        for name in os.listdir(p):
            q = p + "/" + name
            if os.stat(q)[0] & 0x4000:
                walk(q, rel + name + "/")
            else:
                out_[rel + name] = os.stat(q)[6]
    walk(MP + "/ota/" + slot, "")
    return out_
def err(fn, *a):
    try:
        fn(*a)
    except OtaRollback as e:
        return "rollback: " + str(e)
    except OtaError as e:
        return "error: " + str(e)
    return None
"""

LIFECYCLE = """
img = D + "/life.img"
fresh(img)
ota = Ota(OFS, PUB, "sim")
out({"step": "factory", "state": ota.state(), "boot": ota.boot()})
with pkg("v2") as f:
    v = ota.install(f)
out({"step": "installed", "v": v, "pending": ota.pending(), "files": files("b")})
out({"step": "trial", "boot": ota.boot(), "pending": ota.pending()})
out({"step": "confirm", "state": ota.confirm(), "pending": ota.pending()})
for name in ("v1", "v2", "v4_other_key", "v4_bad_hash", "v4_board", "v4_escape",
             "v4_truncated", "v3_flipped_manifest"):
    with pkg(name) as f:
        e = err(ota.install, f)
    a = sorted(os.listdir(MP + "/ota/a")) if "a" in os.listdir(MP + "/ota") else None
    out({"step": "refused", "name": name, "err": e, "pending": ota.pending(),
         "state": ota.state(), "a": a})
out({"step": "still", "boot": ota.boot(), "verify": ota.verify_slot("b")["version"]})
with pkg("v3") as f:
    ota.install(f)
out({"step": "v3 trial", "boot": ota.boot()})
# no confirm: the next boot returns to v2
out({"step": "rollback", "boot": ota.boot(), "state": ota.state(), "pending": ota.pending()})
with pkg("v3") as f:
    ota.install(f)
b = ota.boot()
remount(img)
ota2 = Ota(OFS, PUB, "sim")
out({"step": "v3 again", "boot": b, "state_after_remount": ota2.state(), "pending": ota2.pending()})
out({"step": "confirm2", "state": ota2.confirm()})
remount(img)
ota3 = Ota(OFS, PUB, "sim")
out({"step": "final", "state": ota3.state(), "boot": ota3.boot(),
     "verify": ota3.verify_slot("a")["version"], "no_trial_confirm": err(ota3.confirm)})
with pkg("v2") as f:
    e = err(ota3.install, f)
out({"step": "floor", "err": e})
umount()
"""

POWERCUT = """
base = D + "/base.img"
work = D + "/work.img"
fresh(base)
ota = Ota(OFS, PUB, "sim")
with pkg("v2") as f:
    ota.install(f)
ota.boot(); ota.confirm()
umount()

def copy(src, dst):
    with open(src, "rb") as a, open(dst, "wb") as b:
        while True:
            c = a.read(4096)
            if not c:
                break
            b.write(c)

def sequence(dev):
    mount(dev, MP)
    o = Ota(OFS, PUB, "sim")
    done = []
    with pkg("v3") as f:
        o.install(f)
    done.append("installed")
    o.boot()
    done.append("booted")
    o.confirm()
    done.append("confirmed")
    return done

copy(base, work)
fb = FileBlockDevice(work, 512, 160)
counter = PowerCutDevice(fb)
sequence(counter)
umount()
fb.close()
total = counter.writes
results = []
for n in range(1, total + 1):
    for torn in (0, 7):
        copy(base, work)
        fb = FileBlockDevice(work, 512, 160)
        dev = PowerCutDevice(fb, cut_at=n, torn=torn)
        done = []
        try:
            mount(dev, MP)
            o = Ota(OFS, PUB, "sim")
            with pkg("v3") as f:
                o.install(f)
            done.append("installed")
            o.boot()
            done.append("booted")
            o.confirm()
            done.append("confirmed")
        except OSError:
            pass
        umount()
        fb.close()
        fb = FileBlockDevice(work, 512, 160)
        mount(fb, MP)
        o = Ota(OFS, PUB, "sim")
        b1 = o.boot()
        v1 = o.verify_slot(b1["slot"])["version"]
        b2 = o.boot()
        results.append([n, torn, done, b1["version"], b1["trial"], v1, b2["version"], b2["trial"]])
        umount()
        fb.close()
out({"total": total, "results": results})
"""


def _run(tmp_path: Path, pkgs: dict[str, Any], body: str) -> list[Any]:
    script = tmp_path / "ota_run.py"
    script.write_text(HEADER % (str(pkgs["dir"]), pkgs["pub"]) + body)
    proc = mpytest.run_script(script, HEAP, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return mpytest.json_lines(proc.stdout)


def test_lifecycle_under_micropython(tmp_path: Path, pkgs: dict[str, Any]) -> None:
    steps = _run(tmp_path, pkgs, LIFECYCLE)
    by = {s["step"]: s for s in steps if s["step"] != "refused"}
    refused = {s["name"]: s for s in steps if s["step"] == "refused"}
    assert by["factory"]["state"] == {"active": "a", "version": 0, "min_version": 0}
    assert by["factory"]["boot"] == {"slot": "a", "version": 0, "trial": False, "rolled_back": None}
    assert by["installed"]["v"] == 2
    assert by["installed"]["pending"] == {"slot": "b", "version": 2, "tries": 0}
    assert by["installed"]["files"] == {
        "main.mpy": 1500,
        "firmware/app/screens.mpy": len(b"v2 screens ") * 60,
        "boards/sim/board.json": len(json.dumps({"v": 2})),
        "empty.txt": 0,
        "manifest.bin": by["installed"]["files"]["manifest.bin"],
    }
    assert by["trial"]["boot"] == {"slot": "b", "version": 2, "trial": True, "rolled_back": None}
    assert by["trial"]["pending"]["tries"] == 1
    assert by["confirm"]["state"] == {"active": "b", "version": 2, "min_version": 2}
    assert by["confirm"]["pending"] is None
    expect = {
        "v1": "rollback: version 1 is not above 2",
        "v2": "rollback: version 2 is not above 2",
        "v4_other_key": "error: manifest signature does not verify",
        "v4_bad_hash": "error: sha256 of main.mpy differs from the manifest",
        "v4_board": "error: package is for board esp32s3, not sim",
        "v4_escape": "error: bad file path '../boot.json'",
        "v4_truncated": "error: package truncated in firmware/app/screens.mpy",
        "v3_flipped_manifest": "error: manifest signature does not verify",
    }
    for name, msg in expect.items():
        got = refused[name]
        assert got["err"] == msg, name
        assert got["pending"] is None, name
        assert got["state"] == {"active": "b", "version": 2, "min_version": 2}, name
        # a refused package leaves no partial slot behind
        assert got["a"] is None, (name, got["a"])
    assert by["still"]["boot"] == {"slot": "b", "version": 2, "trial": False, "rolled_back": None}
    assert by["v3 trial"]["boot"] == {"slot": "a", "version": 3, "trial": True, "rolled_back": None}
    assert by["rollback"]["boot"] == {"slot": "b", "version": 2, "trial": False, "rolled_back": 3}
    assert by["rollback"]["state"] == {"active": "b", "version": 2, "min_version": 2}
    assert by["rollback"]["pending"] is None
    assert by["v3 again"]["boot"]["trial"] is True
    assert by["v3 again"]["pending"] == {"slot": "a", "version": 3, "tries": 1}
    assert by["confirm2"]["state"] == {"active": "a", "version": 3, "min_version": 3}
    assert by["final"]["state"] == {"active": "a", "version": 3, "min_version": 3}
    assert by["final"]["boot"] == {"slot": "a", "version": 3, "trial": False, "rolled_back": None}
    assert by["final"]["verify"] == 3
    assert by["final"]["no_trial_confirm"] == "error: no image on trial"
    assert by["floor"]["err"] == "rollback: version 2 is not above 3"


def test_power_cut_at_every_write_of_install_boot_confirm(
    tmp_path: Path, pkgs: dict[str, Any]
) -> None:
    (res,) = _run(tmp_path, pkgs, POWERCUT)
    total = res["total"]
    assert total > 20  # the sequence really writes (files, manifest, markers)
    assert len(res["results"]) == 2 * total  # every cut point, plain and torn
    outcomes = set()
    for n, torn, done, v1, trial1, verified, v2, trial2 in res["results"]:
        case = (n, torn, done)
        assert verified == v1, case  # the slot booted always verifies
        assert "confirmed" not in done, case  # the cut falls inside the sequence
        if "booted" in done:
            # cut during confirm: committed (3), or the trial ends (back to 2)
            assert (v1, trial1) in ((3, False), (2, False)), case
            assert (v2, trial2) == (v1, False), case
        elif "installed" in done:
            # cut while the boot marks its trial: tried now (then back to 2) or
            # marked as tried (back to 2 at once)
            assert (v1, trial1) in ((3, True), (2, False)), case
            assert (v2, trial2) == (2, False), case
        else:
            # cut during install: the old image, never a half-written one
            assert (v1, trial1, v2, trial2) == (2, False, 2, False), case
        outcomes.add((tuple(done), v1, trial1))
    assert outcomes == {
        ((), 2, False),
        (("installed",), 3, True),
        (("installed", "booted"), 3, False),
        (("installed", "booted"), 2, False),
    }


REAL = """
import json, boards
from binascii import unhexlify
from firmware.ota import Ota
board = boards.open_board("sim", ota_path=%r)
fs = board.ota_fs()
ota = Ota(fs, unhexlify(%r), "sim")
with open(%r, "rb") as f:
    v = ota.install(f)
b = ota.boot()
print("OUT " + json.dumps({"v": v, "boot": b, "n": len(ota.verify_slot(b["slot"])["files"]),
                          "slot_path": ota.slot_path(b["slot"]), "root": fs.root,
                          "statvfs": list(fs.statvfs()[:3])}))
fs.umount()
board.deinit()
"""

RUN_SLOT = """
import sys, json, boards
board = boards.open_board("sim", ota_path=%r)
fs = board.ota_fs(format_if_needed=False)
sys.path[:] = [fs.path("b")]  # the new image only: nothing from the repository
from protocols import crc16, p256
from firmware import ota
print("OUT " + json.dumps({"crc": crc16.crc16_ccitt_false(b"123456789"),
                          "files": [crc16.__file__, p256.__file__, ota.__file__]}))
"""


def test_real_firmware_build_packaged_installed_and_run_from_its_slot(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tools import fwbuild

    build = tmp_path / "build"
    fwbuild.build("sim", build)
    keydir = tmp_path / "keys"
    from hsm_sim.tsm.keys import TsmKeys

    keys = TsmKeys.load_or_create(keydir)
    pkg = tmp_path / "sim-7.pkg"
    cmd = [sys.executable, "-m", "payterm", "tsm", "package", "--board", "sim"]
    cmd += ["--build", str(build), "--version", "7", "--key", str(keydir / "release.key")]
    proc = subprocess.run([*cmd, "--out", str(pkg)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    manifest = op.read_manifest(pkg.read_bytes(), keys.release_key.public_key())
    fw = json.loads((build / "manifest.json").read_text())
    assert out["files"] == len(fw["files"]) == len(manifest["files"])
    assert [(f["path"], f["sha256"]) for f in manifest["files"]] == [
        (f["path"], f["sha256"]) for f in fw["files"]
    ]
    # a build altered after fwbuild is refused
    victim = build / fw["files"][0]["path"]
    body = victim.read_bytes()
    victim.write_bytes(body + b"\0")
    bad = subprocess.run(
        [*cmd, "--out", str(tmp_path / "bad.pkg")], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and "sha256 differs" in bad.stderr
    victim.write_bytes(body)

    img = tmp_path / "real.img"
    script = tmp_path / "real.py"
    release = keys.release_public.hex()
    script.write_text(REAL % (str(img), release, str(pkg)))
    proc2 = mpytest.run_script(script, HEAP, timeout=300)
    assert proc2.returncode == 0, proc2.stdout + proc2.stderr
    (res,) = mpytest.json_lines(proc2.stdout)
    assert res["v"] == 7
    assert res["boot"] == {"slot": "b", "version": 7, "trial": True, "rolled_back": None}
    assert res["n"] == len(fw["files"])
    # the sim board's OTA area: its own image, 2 MiB of 4 KiB blocks, at /ota
    ota_spec = boards.load("sim")["flash"]["ota"]
    assert (res["root"], res["slot_path"]) == (ota_spec["mount"], ota_spec["mount"] + "/b")
    assert res["statvfs"][0] == ota_spec["block_size"]
    assert res["statvfs"][2] == ota_spec["block_count"] == 512
    assert img.stat().st_size == 2 * 1024 * 1024
    script.write_text(RUN_SLOT % str(img))
    proc3 = mpytest.run_script(script, HEAP, timeout=120)
    assert proc3.returncode == 0, proc3.stdout + proc3.stderr
    (run,) = mpytest.json_lines(proc3.stdout)
    assert run["crc"] == 0x29B1  # CRC-16/CCITT-FALSE check value, code from the slot
    assert run["files"] == [
        "/ota/b/protocols/crc16.mpy",
        "/ota/b/protocols/p256.mpy",
        "/ota/b/firmware/ota/__init__.mpy",
    ]
