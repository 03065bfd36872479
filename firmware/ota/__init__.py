"""Signed OTA updates with A/B slots on the board's littlefs (docs/tsm.md).

``Ota`` receives a ``Files`` object (boards/common/fs.py): the board's OTA
area, ``board.ota_fs()``, or a directory of one (``files.sub("ota")``).  It
names everything relative to it and never opens a file itself.  Layout:

- ``a/``, ``b/``: the two image slots; each holds the image's files and its
  signed ``manifest.bin`` (package header: manifest and signature)
- ``boot.json``: ``{"active", "version", "min_version"}`` — the confirmed
  image and the anti-rollback floor (never lowered)
- ``pending.json``: ``{"slot", "version", "tries"}`` — the atomic "pending"
  marker: it appears (rename of ``pending.tmp``) only once the new slot is
  complete and verified; ``tries`` 0 = not booted yet, 1 = trial boot made

Every state file is written as ``NAME.tmp``, closed, then renamed over
``NAME``; littlefs commits a rename atomically, so after a power cut a file
holds its old content or its new one.

The package's manifest signature (ECDSA P-256, TSM release key) is checked
with ``protocols.p256`` (MicroPython has no ECDSA of its own).
"""

import hashlib
import json
from binascii import hexlify

from protocols import p256

MAGIC = b"PTOTA1\n"
MANIFEST_KIND = "payterm-ota/1"
MAX_MANIFEST = 64 * 1024
SLOTS = ("a", "b")
CHUNK = 512


class OtaError(Exception):
    """A package or a request the device refuses (bad signature, hash,
    board, version, layout, or a state that does not allow it)."""


class OtaRollback(OtaError):
    """The package's version is not above the device's floor."""


def manifest_digest(manifest_bytes):
    """SHA-256 the release key signs: "PTOTA1" ‖ the manifest bytes."""
    h = hashlib.sha256(MAGIC[:6])
    h.update(manifest_bytes)
    return h.digest()


def _read_exact(stream, n):
    out = bytearray()
    while len(out) < n:
        chunk = stream.read(min(CHUNK, n - len(out)))
        if not chunk:
            raise OtaError("package truncated")
        out.extend(chunk)
    return bytes(out)


def read_header(stream, release_key):
    """Read and verify a package's header from ``stream``; returns
    (manifest dict, header bytes). The stream is left at the first file."""
    magic = _read_exact(stream, len(MAGIC))
    if magic != MAGIC:
        raise OtaError("not a payterm OTA package")
    n = int.from_bytes(_read_exact(stream, 4), "big")
    if n == 0 or n > MAX_MANIFEST:
        raise OtaError("manifest length %d out of range" % n)
    body = _read_exact(stream, n)
    sig = _read_exact(stream, 64)
    if not p256.verify_raw(release_key, manifest_digest(body), sig):
        raise OtaError("manifest signature does not verify")
    try:
        manifest = json.loads(body.decode())
    except (ValueError, UnicodeError):
        raise OtaError("manifest is not JSON")
    _check_manifest(manifest)
    return manifest, magic + n.to_bytes(4, "big") + body + sig


def _check_path(path):
    if not isinstance(path, str) or not path or path[0] == "/" or len(path) > 200:
        raise OtaError("bad file path %r" % (path,))
    for part in path.split("/"):
        if part in ("", ".", "..") or "\\" in part:
            raise OtaError("bad file path %r" % (path,))
    if path == "manifest.bin":
        raise OtaError("reserved file name manifest.bin")


def _check_manifest(m):
    if not isinstance(m, dict) or m.get("kind") != MANIFEST_KIND:
        raise OtaError("manifest kind is not %s" % MANIFEST_KIND)
    v = m.get("version")
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise OtaError("manifest version must be a positive integer")
    if not isinstance(m.get("board"), str):
        raise OtaError("manifest names no board")
    files = m.get("files")
    if not isinstance(files, list):
        raise OtaError("manifest lists no files")
    seen = {}
    for f in files:
        if not isinstance(f, dict):
            raise OtaError("bad file entry")
        _check_path(f.get("path"))
        size = f.get("size")
        if not isinstance(size, int) or size < 0:
            raise OtaError("bad size for %s" % f.get("path"))
        h = f.get("sha256")
        if not isinstance(h, str) or len(h) != 64:
            raise OtaError("bad sha256 for %s" % f.get("path"))
        if f["path"] in seen:
            raise OtaError("duplicate path %s" % f["path"])
        seen[f["path"]] = True


def _rmtree(fs, name):
    if not fs.exists(name):
        return
    if not fs.isdir(name):
        fs.remove(name)
        return
    for entry in fs.listdir(name):
        _rmtree(fs, name + "/" + entry)
    fs.rmdir(name)


def _makedirs(fs, name):
    if fs.isdir(name):
        return
    parent = name.rsplit("/", 1)[0]
    if parent and parent != name:
        _makedirs(fs, parent)
    fs.mkdir(name)


def _read_json(fs, name):
    try:
        with fs.open(name, "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        return json.loads(data.decode())
    except (ValueError, UnicodeError):
        raise OtaError("%s is damaged" % fs.path(name))


def _write_json_atomic(fs, name, obj):
    with fs.open(name + ".tmp", "wb") as f:
        f.write(json.dumps(obj).encode())
    fs.rename(name + ".tmp", name)


def _hex(b):
    return hexlify(b).decode()


class Ota:
    """A/B OTA on ``fs`` (a ``Files``; its root directory is created if
    missing). ``release_key``: the TSM's release public key (65 bytes, SEC 1
    uncompressed); ``board``: this device's board name."""

    def __init__(self, fs, release_key, board):
        p256.decode_point(release_key)
        self.fs = fs
        self.release_key = release_key
        self.board = board
        _makedirs(fs, "")

    # -- state -------------------------------------------------------------

    def state(self):
        """The confirmed image: {"active", "version", "min_version"}; a
        device never updated runs its factory image in slot a, version 0."""
        st = _read_json(self.fs, "boot.json")
        if st is None:
            return {"active": "a", "version": 0, "min_version": 0}
        return st

    def pending(self):
        return _read_json(self.fs, "pending.json")

    def _other(self, slot):
        return "b" if slot == "a" else "a"

    # -- install -----------------------------------------------------------

    def install(self, stream):
        """Verify the package read from ``stream`` and stage it in the
        inactive slot; on success the pending marker names it (the next
        ``boot`` tries it). Returns the new version. Raises OtaError (or
        OtaRollback) and leaves the running image and its state untouched."""
        st = self.state()
        pend = self.pending()
        if pend is not None and pend.get("tries", 0) > 0 and pend.get("slot") != st["active"]:
            raise OtaError("an update is on trial: confirm it or reboot first")
        manifest, header = read_header(stream, self.release_key)
        if manifest["board"] != self.board:
            raise OtaError("package is for board %s, not %s" % (manifest["board"], self.board))
        floor = max(st["version"], st["min_version"])
        if manifest["version"] <= floor:
            raise OtaRollback("version %d is not above %d" % (manifest["version"], floor))
        fs = self.fs
        if pend is not None:
            fs.remove("pending.json")
        slot = self._other(st["active"])
        _rmtree(fs, slot)
        fs.mkdir(slot)
        try:
            for entry in manifest["files"]:
                self._write_file(stream, slot, entry)
            if stream.read(1):
                raise OtaError("data after the last file")
            with fs.open(slot + "/manifest.bin", "wb") as f:
                f.write(header)
        except OtaError:
            _rmtree(fs, slot)
            raise
        _write_json_atomic(
            fs, "pending.json", {"slot": slot, "version": manifest["version"], "tries": 0}
        )
        return manifest["version"]

    def _write_file(self, stream, target, entry):
        name = target + "/" + entry["path"]
        parent = name.rsplit("/", 1)[0]
        _makedirs(self.fs, parent)
        h = hashlib.sha256()
        left = entry["size"]
        with self.fs.open(name, "wb") as f:
            while left:
                chunk = stream.read(min(CHUNK, left))
                if not chunk:
                    raise OtaError("package truncated in %s" % entry["path"])
                h.update(chunk)
                f.write(chunk)
                left -= len(chunk)
        if _hex(h.digest()) != entry["sha256"].lower():
            raise OtaError("sha256 of %s differs from the manifest" % entry["path"])

    # -- verify a slot -----------------------------------------------------

    def verify_slot(self, slot):
        """The slot's manifest (signature re-checked) when every file is
        present with its hash; OtaError otherwise."""
        fs = self.fs
        if not fs.exists(slot + "/manifest.bin"):
            raise OtaError("slot %s holds no image" % slot)
        with fs.open(slot + "/manifest.bin", "rb") as f:
            manifest = read_header(f, self.release_key)[0]
        for entry in manifest["files"]:
            h = hashlib.sha256()
            size = 0
            try:
                with fs.open(slot + "/" + entry["path"], "rb") as g:
                    while True:
                        chunk = g.read(CHUNK)
                        if not chunk:
                            break
                        h.update(chunk)
                        size += len(chunk)
            except OSError:
                raise OtaError("slot %s: %s missing" % (slot, entry["path"]))
            if size != entry["size"] or _hex(h.digest()) != entry["sha256"].lower():
                raise OtaError("slot %s: %s differs from its manifest" % (slot, entry["path"]))
        return manifest

    # -- boot and confirm --------------------------------------------------

    def boot(self):
        """Decide which slot runs now: {"slot", "version", "trial",
        "rolled_back"}. A pending image gets exactly one trial boot; if that
        boot does not ``confirm``, the next ``boot`` returns to the old one."""
        st = self.state()
        pend = self.pending()
        rolled_back = None
        if pend is not None:
            fs = self.fs
            marker = "pending.json"
            if pend.get("slot") == st["active"]:
                fs.remove(marker)  # confirm was cut after boot.json: done
            elif pend.get("tries", 0) == 0:
                try:
                    manifest = self.verify_slot(pend["slot"])
                except OtaError:
                    manifest = None
                if manifest is not None and manifest["version"] == pend.get("version"):
                    pend["tries"] = 1
                    _write_json_atomic(fs, marker, pend)
                    return {
                        "slot": pend["slot"],
                        "version": pend["version"],
                        "trial": True,
                        "rolled_back": None,
                    }
                fs.remove(marker)
                rolled_back = pend.get("version")
            else:
                fs.remove(marker)  # the trial boot never confirmed
                rolled_back = pend.get("version")
        return {
            "slot": st["active"],
            "version": st["version"],
            "trial": False,
            "rolled_back": rolled_back,
        }

    def confirm(self):
        """The running trial image works: make it the active one and raise
        the anti-rollback floor to its version. Returns the new state."""
        pend = self.pending()
        if pend is None or pend.get("tries", 0) < 1:
            raise OtaError("no image on trial")
        st = self.state()
        new = {
            "active": pend["slot"],
            "version": pend["version"],
            "min_version": max(st["min_version"], pend["version"]),
        }
        _write_json_atomic(self.fs, "boot.json", new)
        self.fs.remove("pending.json")
        return new

    def slot_path(self, slot):
        """Where a slot's files are, as an absolute path (for the loader to
        put on sys.path)."""
        return self.fs.path(slot)
