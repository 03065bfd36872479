"""Signed OTA packages from a firmware build (docs/tsm.md, "OTA packages").

``build_package(build_dir, board, version, key)`` reads the folder that
``tools/fwbuild.py`` made, checks it against its ``manifest.json`` (every
file present with its sha256, nothing unlisted), and returns the package::

    "PTOTA1\\n" ‖ manifest length u32 ‖ manifest (canonical JSON, UTF-8)
              ‖ signature (64: raw r‖s) ‖ the files, in manifest order

The manifest is ``{"kind": "payterm-ota/1", "version", "board", "files":
[{"path", "size", "sha256"}], "build": {...}}`` with per-file hashes taken
from fwbuild's manifest; the signature is ECDSA P-256 / SHA-256 by the TSM's
release key over ``"PTOTA1" ‖ manifest`` (``firmware.ota.manifest_digest``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tools import fwbuild

MAGIC = b"PTOTA1\n"
KIND = "payterm-ota/1"


class PackageError(ValueError):
    """The build folder or the request cannot make a package."""


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def manifest_digest(manifest: bytes) -> bytes:
    return hashlib.sha256(MAGIC[:6] + manifest).digest()


def sign_raw(key: ec.EllipticCurvePrivateKey, digest_input: bytes) -> bytes:
    """Raw r‖s ECDSA P-256/SHA-256 signature of ``digest_input``."""
    r, s = decode_dss_signature(key.sign(digest_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def make_manifest(
    board: str, version: int, files: list[dict[str, Any]], build: dict[str, Any] | None = None
) -> bytes:
    if version < 1:
        raise PackageError("version must be a positive integer")
    return canonical(
        {"kind": KIND, "version": version, "board": board, "files": files, "build": build or {}}
    )


def assemble(manifest: bytes, key: ec.EllipticCurvePrivateKey, bodies: list[bytes]) -> bytes:
    """The package bytes for a manifest (signed here) and the file bodies."""
    sig = sign_raw(key, MAGIC[:6] + manifest)
    return MAGIC + len(manifest).to_bytes(4, "big") + manifest + sig + b"".join(bodies)


def build_package(
    build_dir: Path, board: str, version: int, key: ec.EllipticCurvePrivateKey
) -> tuple[bytes, dict[str, Any]]:
    """(package bytes, manifest dict) for a fwbuild output folder."""
    problems = fwbuild.verify(build_dir)
    if problems:
        raise PackageError(f"{build_dir} does not match its manifest: " + "; ".join(problems[:5]))
    fw = json.loads((build_dir / fwbuild.MANIFEST).read_text(encoding="utf-8"))
    if fw.get("board") != board:
        raise PackageError(f"{build_dir} was built for board {fw.get('board')!r}, not {board!r}")
    files: list[dict[str, Any]] = []
    bodies: list[bytes] = []
    for entry in fw["files"]:
        body = (build_dir / entry["path"]).read_bytes()
        files.append({"path": entry["path"], "size": len(body), "sha256": entry["sha256"]})
        bodies.append(body)
    build = {k: fw.get(k) for k in ("port", "built_at", "git", "mpy_cross", "mpy_version")}
    manifest = make_manifest(board, version, files, build)
    return assemble(manifest, key, bodies), json.loads(manifest)


def read_manifest(package: bytes, public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """Host-side check of a package: signature and file hashes; the manifest."""
    if package[: len(MAGIC)] != MAGIC or len(package) < len(MAGIC) + 4:
        raise PackageError("not a payterm OTA package")
    n = int.from_bytes(package[7:11], "big")
    body = package[11 : 11 + n]
    sig = package[11 + n : 11 + n + 64]
    if len(body) != n or len(sig) != 64:
        raise PackageError("package truncated")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        public_key.verify(der, MAGIC[:6] + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as e:
        raise PackageError("manifest signature does not verify") from e
    manifest: dict[str, Any] = json.loads(body)
    pos = 11 + n + 64
    for f in manifest["files"]:
        data = package[pos : pos + f["size"]]
        if len(data) != f["size"] or hashlib.sha256(data).hexdigest() != f["sha256"]:
            raise PackageError(f"{f['path']}: size or sha256 differs")
        pos += f["size"]
    if pos != len(package):
        raise PackageError("data after the last file")
    return manifest
