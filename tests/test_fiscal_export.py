"""`payterm fiscal export --image`: the journal read from a flash image with
the littlefs C library (littlefs-python) equals, byte for byte up to the
trailer, what the firmware's ``Journal.export`` writes under real
MicroPython for the same image (sim board geometry, real ECDSA signatures),
and verifies with ``--no-trailer``.  The image is never written; damaged,
unformatted, foreign and unreadable images give a JSON error with exit 1
or 2."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path

import pytest
from littlefs import LittleFS, LittleFSError, UserContext

from payterm import cli
from tools import fiscal_export as fe
from tools.fiscal_softsign import SoftSigner, run

DEV = "PT-IMG-0007"

SCRIPT = """
import boards
from pipe_signer import PipeSigner
from firmware.fiscal.journal import Journal
import fiscal_scenario as S

board = boards.open_board("sim", flash_path=IMAGE)
fs = board.fiscal_fs("/fisc")
fs.mkdir("journal")
jfs = fs.sub("journal")
Journal.format(jfs, DEV, S.T0)
j = Journal.open(jfs, PipeSigner(), S.T0)
S.representative(j, S.T0)
S.ack(j.z_report(S.T0 + 100))
S.ack(j.sale([S.MILK, S.TEA], S.T0 + 110, 1))
with open(EXPORT, "wb") as out:
    print("TRAILER %s" % j.export(out, S.T0 + 500))
fs.umount()
board.deinit()
print("DONE")
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("export")
    img, exp = tmp / "fiscal.img", tmp / "firmware.exp"
    signer = SoftSigner(7)
    head = f"IMAGE = {str(img)!r}\nEXPORT = {str(exp)!r}\nDEV = {DEV!r}\n"
    r = run(head + SCRIPT, signer)
    assert r.returncode == 0 and "DONE" in r.lines, r.stderr
    assert r.acked == list(range(1, 13)) and r.value("TRAILER") == "True"
    pub = tmp / "device.pem"
    pub.write_bytes(signer.public_pem())
    return {"img": img, "exp": exp.read_bytes(), "pub": pub, "tmp": tmp}


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = cli.main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_image_export_equals_the_firmware_export(
    world: dict[str, object], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    img, fw, pub = world["img"], world["exp"], world["pub"]
    assert isinstance(img, Path) and isinstance(fw, bytes) and isinstance(pub, Path)
    before, mtime = _sha(img), img.stat().st_mtime_ns
    got = fe.export_image(img, "sim")
    assert got.refused_writes == 0
    assert got.header_ok and got.state_ok and got.segments == [1, 2, 3]
    assert got.root == "/journal" and got.device_id == DEV and got.warnings == []
    # everything before the trailer, byte for byte; then the firmware's 00 00 | trailer
    n = len(got.data)
    assert fw[:n] == got.data
    assert fw[n : n + 2] == b"\x00\x00" and fw[n + 2 : n + 6] == b"PTFE"
    # the CLI: same bytes to --out, JSON on stdout
    out = tmp_path / "image.exp"
    code, doc = _cli(capsys, "fiscal", "export", "--image", str(img), "--out", str(out))
    assert code == 0, doc
    assert out.read_bytes() == got.data
    assert doc["ok"] is True and doc["bytes"] == n and doc["signed_trailer"] is False
    assert doc["sha256"] == hashlib.sha256(got.data).hexdigest()
    assert doc["segments"] == [1, 2, 3] and doc["device_id"] == DEV
    # verified without a trailer; refused when one is required
    code, res = _cli(capsys, "fiscal", "verify", str(out), "--pubkey", str(pub), "--no-trailer")
    assert code == 0, res
    assert res["valid"] is True and res["records"] == 12 and res["z_reports"] == 2
    code, res = _cli(capsys, "fiscal", "verify", str(out), "--pubkey", str(pub))
    assert code == 1 and res["first_failure"]["code"] == "trailer_missing"  # type: ignore[index]
    # the firmware's own export, with its trailer, verifies too
    full = tmp_path / "fw.exp"
    full.write_bytes(fw)
    assert _cli(capsys, "fiscal", "verify", str(full), "--pubkey", str(pub))[0] == 0
    # and the image was not touched
    assert _sha(img) == before and img.stat().st_mtime_ns == mtime


def test_the_block_device_refuses_writes(world: dict[str, object]) -> None:
    img = world["img"]
    assert isinstance(img, Path)
    data = img.read_bytes()
    fs, dev = fe.mount_image(data, fe.Geometry.for_board("sim"))
    with pytest.raises(LittleFSError), fs.open("/journal/intruder", "wb") as f:
        f.write(b"x" * 5000)
    assert dev.refused_writes > 0
    assert dev.buffer == data


def _writable(data: bytes, fresh: bool = False) -> tuple[LittleFS, UserContext]:
    """A writable littlefs over a copy of ``data`` (to damage an image)."""
    g = fe.Geometry.for_board("sim")
    ctx = UserContext(buffer=bytearray(data))
    fs = LittleFS(
        ctx,
        mount=False,
        block_size=g.block_size,
        block_count=g.block_count,
        read_size=g.read_size,
        prog_size=g.prog_size,
        lookahead_size=g.lookahead,
        cache_size=g.cache_size,
    )
    if fresh:
        fs.format()
    fs.mount()
    return fs, ctx


def test_damaged_header_exported_without_it(
    world: dict[str, object], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    img, pub = world["img"], world["pub"]
    assert isinstance(img, Path) and isinstance(pub, Path)
    fs, ctx = _writable(img.read_bytes())
    with fs.open("/journal/header", "rb") as f:
        hdr = bytearray(f.read())
    hdr[8] ^= 0x20
    with fs.open("/journal/header", "wb") as f:
        f.write(bytes(hdr))
    fs.unmount()
    bad = tmp_path / "bad-header.img"
    bad.write_bytes(bytes(ctx.buffer))
    out = tmp_path / "bad-header.exp"
    code, doc = _cli(capsys, "fiscal", "export", "--image", str(bad), "--out", str(out))
    assert code == 0 and doc["header_ok"] is False and doc["device_id"] == DEV
    assert any("header damaged" in w for w in doc["warnings"])  # type: ignore[attr-defined]
    data = out.read_bytes()
    assert data[:7] == b"PTFX\x01\x00\x00"  # as Journal.export writes it: no header
    code, res = _cli(capsys, "fiscal", "verify", str(out), "--pubkey", str(pub), "--no-trailer")
    assert code == 0 and res["records"] == 12


def test_a_journal_at_the_mount_root_and_several_journals(
    world: dict[str, object], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    img = world["img"]
    assert isinstance(img, Path)
    fs, ctx = _writable(img.read_bytes())
    fs.mkdir("/old")
    with fs.open("/old/state", "wb") as f:
        f.write(b"not a state")
    fs.unmount()
    two = tmp_path / "two.img"
    two.write_bytes(bytes(ctx.buffer))
    out = tmp_path / "two.exp"
    code, doc = _cli(capsys, "fiscal", "export", "--image", str(two), "--out", str(out))
    assert code == 1 and "several journals" in str(doc["error"]) and not out.exists()
    code, doc = _cli(
        capsys, "fiscal", "export", "--image", str(two), "--root", "journal", "--out", str(out)
    )
    assert code == 0 and doc["root"] == "/journal"
    code, doc = _cli(
        capsys, "fiscal", "export", "--image", str(two), "--root", "old", "--out", str(out)
    )
    assert code == 0 and doc["header_ok"] is False and doc["state_ok"] is False
    assert out.read_bytes() == b"PTFX\x01\x00\x00"
    code, doc = _cli(
        capsys, "fiscal", "export", "--image", str(two), "--root", "nope", "--out", str(out)
    )
    assert code == 1 and "no directory /nope" in str(doc["error"])
    # the journal's files at the mount root are found there
    fs, ctx = _writable(img.read_bytes())
    fs.mkdir("/j")
    for name in ("header", "state", "j/00000001", "j/00000002", "j/00000003"):
        with fs.open("/journal/" + name, "rb") as f:
            data = f.read()
        with fs.open("/" + name, "wb") as f:
            f.write(data)
    fs.unmount()
    top = tmp_path / "top.img"
    top.write_bytes(bytes(ctx.buffer))
    got = fe.export_image(top)
    assert got.root == "/" and got.data == fe.export_image(img).data


def test_bad_images(
    world: dict[str, object], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    size = fe.Geometry.for_board("sim").size
    out = tmp_path / "x.exp"
    cases: list[tuple[str, bytes | None, int, str]] = [
        ("missing.img", None, 2, "cannot read"),
        ("short.img", b"\xff" * 4096, 2, "image is 4096 bytes"),
        ("erased.img", b"\xff" * size, 1, "not a littlefs filesystem"),
        ("zeros.img", bytes(size), 1, "not a littlefs filesystem"),
        ("noise.img", hashlib.shake_256(b"noise").digest(size), 1, "not a littlefs"),
    ]
    # a littlefs with no journal on it
    blank, ctx = _writable(b"\xff" * size, fresh=True)
    blank.mkdir("/ota")
    blank.unmount()
    cases.append(("blank.img", bytes(ctx.buffer), 1, "no fiscal journal"))
    for name, content, want, text in cases:
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        code, doc = _cli(capsys, "fiscal", "export", "--image", str(path), "--out", str(out))
        assert code == want, (name, doc)
        assert doc["ok"] is False and text in str(doc["error"]), (name, doc)
        assert not out.exists()
        if content is not None:
            assert path.read_bytes() == content  # never written
    # another board's geometry does not fit the sim image
    img = world["img"]
    assert isinstance(img, Path)
    code, doc = _cli(
        capsys, "fiscal", "export", "--image", str(img), "--board", "stm32f4_ecr", "--out", str(out)
    )
    assert code == 2 and "image is 1048576 bytes" in str(doc["error"])
    assert "4194304" in str(doc["error"])


def test_bit_flips_give_an_export_or_a_typed_error(world: dict[str, object]) -> None:
    """Damage in littlefs metadata or data blocks: the library falls back to
    an older commit, loses files, or refuses to mount; never anything but a
    result or ImageError."""
    img, pub = world["img"], world["pub"]
    assert isinstance(img, Path) and isinstance(pub, Path)
    from tools import fiscal_verify as fv

    key = fv.load_public_key(pub.read_bytes())
    clean = img.read_bytes()
    bs = fe.Geometry.for_board("sim").block_size
    used = [b for b in range(len(clean) // bs) if clean[b * bs : (b + 1) * bs].strip(b"\xff")]
    seen = {"export": 0, "error": 0}
    for seed in range(40):
        data = bytearray(clean)
        rnd = random.Random(seed)
        for _ in range(1 + seed % 20):
            data[rnd.choice(used) * bs + rnd.randrange(bs)] ^= 1 << rnd.randrange(8)
        path = img.parent / "flipped.img"
        path.write_bytes(bytes(data))
        try:
            got = fe.export_image(path)
        except fe.ImageError:
            seen["error"] += 1
            continue
        seen["export"] += 1
        assert got.refused_writes == 0 and path.read_bytes() == bytes(data)
        fv.verify(got.data, key, require_trailer=False)  # a verdict, not a crash
    assert seen["export"] > 0


def test_a_read_only_image_file(world: dict[str, object], tmp_path: Path) -> None:
    img = world["img"]
    assert isinstance(img, Path)
    ro = tmp_path / "ro.img"
    shutil.copyfile(img, ro)
    os.chmod(ro, 0o444)
    try:
        assert fe.export_image(ro).data == fe.export_image(img).data
    finally:
        os.chmod(ro, 0o644)


def test_cli_refuses_mixed_flags(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = str(tmp_path / "x")
    assert cli.main(["fiscal", "export", "--out", out]) == 2
    assert cli.main(["fiscal", "export", "--image", "a", "--port", "b", "--out", out]) == 2
    assert cli.main(["fiscal", "export", "--image", "a", "--key", "k", "--out", out]) == 2
    assert cli.main(["fiscal", "export", "--port", "socket://127.0.0.1:1", "--out", out]) == 2
    capsys.readouterr()
