"""Fiscal journal exports for the host (docs/fiscal.md "Export", docs/service.md).

Two sources:

- **a flash image** (``export_image``): the fiscal littlefs read with the
  littlefs C library (``littlefs-python``), geometry from the board's
  ``flash.fiscal``.  The image is opened read-only and the block device the
  library sees refuses every program and erase.  The export is assembled as
  ``Journal.export`` writes it, without the trailer (the host has no
  signer): ``payterm fiscal verify --no-trailer`` accepts it.
- **a running terminal** (``ServiceClient``): the service protocol
  (``protocols/service_frame.py``) over any pyserial port
  (``socket://127.0.0.1:7100`` for the sim board, ``/dev/ttyUSB0`` for a
  cable).  The technician answers the terminal's challenge with an ECDSA
  P-256 signature; the terminal streams ``Journal.export`` with its
  SE-signed trailer.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from littlefs import LFSConfig, LFSStat, LittleFS, LittleFSError, UserContext

import boards
from protocols import service_frame as sf
from protocols.errors import DecodeError
from protocols.fiscal_reader import Reader, get_text

EXPORT_MAGIC = b"PTFX"
FORMAT_VERSION = 1
HEADER_MAGIC = b"PTFJ"
STATE_MAGIC = b"PTFS"
SEG_DIR = "j"
LFS_ERR_IO = -5


class ImageUnreadable(ValueError):
    """The image file cannot be read, or is not the board's flash size (bad
    input: exit 2)."""


class ImageError(Exception):
    """The image is no littlefs, or holds no fiscal journal (exit 1)."""


class ServiceError(Exception):
    """The terminal refused a request, answered garbage or fell silent (exit 1)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# -- flash image --------------------------------------------------------------------


@dataclass(frozen=True)
class Geometry:
    block_size: int
    block_count: int
    read_size: int
    prog_size: int
    lookahead: int

    @classmethod
    def for_board(cls, board: str) -> Geometry:
        spec = boards.load(board)["flash"]["fiscal"]
        if spec.get("fs") != "littlefs2":
            raise ImageUnreadable(f"board {board}: fiscal flash is {spec.get('fs')}, not littlefs2")
        return cls(
            int(spec["block_size"]),
            int(spec["block_count"]),
            int(spec.get("readsize", 32)),
            int(spec.get("progsize", 32)),
            int(spec.get("lookahead", 32)),
        )

    @property
    def size(self) -> int:
        return self.block_size * self.block_count

    @property
    def cache_size(self) -> int:
        # As MicroPython's VfsLfs2 sets it.
        return min(self.block_size, 4 * max(self.read_size, self.prog_size))


class ReadOnlyDevice(UserContext):
    """A littlefs block device over immutable bytes: every program and erase
    is refused (LFS_ERR_IO) and counted."""

    def __init__(self, data: bytes) -> None:
        self.buffer = data  # type: ignore[assignment]
        self.in_size = len(data)
        self.refused_writes = 0

    def read(self, cfg: LFSConfig, block: int, off: int, size: int) -> bytearray:
        start = block * cfg.block_size + off
        return bytearray(self.buffer[start : start + size])

    def prog(self, cfg: LFSConfig, block: int, off: int, data: bytes) -> int:
        self.refused_writes += 1
        return LFS_ERR_IO

    def erase(self, cfg: LFSConfig, block: int) -> int:
        self.refused_writes += 1
        return LFS_ERR_IO


@dataclass
class ImageExport:
    data: bytes
    root: str
    device_id: str | None
    header_ok: bool
    state_ok: bool
    segments: list[int]
    warnings: list[str] = field(default_factory=list)
    refused_writes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": "image",
            "root": self.root,
            "device_id": self.device_id,
            "header_ok": self.header_ok,
            "state_ok": self.state_ok,
            "segments": self.segments,
            "bytes": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "signed_trailer": False,
            "warnings": self.warnings,
        }


def _unseal(data: bytes, what: str) -> bytes:
    if len(data) < 32 or hashlib.sha256(data[:-32]).digest() != data[-32:]:
        raise DecodeError(f"{what} checksum does not match", offset=max(0, len(data) - 32))
    return data[:-32]


def decode_header(data: bytes) -> str:
    """The device ID of a journal header file (docs/fiscal.md, "Files");
    DecodeError when it is cut short, its seal is wrong or its version
    unknown."""
    r = Reader(_unseal(data, "header"))
    if r.take(4, "magic") != HEADER_MAGIC:
        raise DecodeError("not a journal header", offset=0, field="magic")
    v = r.uint(1, "version")
    if v != FORMAT_VERSION:
        raise DecodeError(f"unknown journal format version {v}", offset=4, field="version")
    dev = get_text(r, "device_id")
    r.uint(4, "created")
    r.done("header")
    return dev


def decode_state(data: bytes) -> tuple[str, int]:
    """(device ID, open segment) of a journal state file; DecodeError otherwise."""
    r = Reader(_unseal(data, "state"))
    if r.take(4, "magic") != STATE_MAGIC:
        raise DecodeError("not a journal state", offset=0, field="magic")
    v = r.uint(1, "version")
    if v != FORMAT_VERSION:
        raise DecodeError(f"unknown state version {v}", offset=4, field="version")
    dev = get_text(r, "device_id")
    return dev, r.uint(4, "segment")


def _join(root: str, name: str) -> str:
    return root.rstrip("/") + "/" + name


class _Image:
    def __init__(self, fs: LittleFS) -> None:
        self.fs = fs

    def listdir(self, path: str) -> list[str]:
        return sorted(self.fs.listdir(path))

    def is_dir(self, path: str) -> bool:
        try:
            return self.fs.stat(path).type == LFSStat.TYPE_DIR
        except LittleFSError:
            return False

    def read(self, path: str) -> bytes:
        with self.fs.open(path, "rb") as f:
            data = f.read()
        assert isinstance(data, bytes)
        return data


def _find_root(img: _Image, root: str | None) -> str:
    marks = {"header", "state", SEG_DIR}
    if root is not None:
        path = "/" + root.strip("/")
        if not img.is_dir(path):
            raise ImageError(f"no directory {path} on the image")
        return path
    top = img.listdir("/")
    if marks & set(top):
        return "/"
    found = ["/" + n for n in top if img.is_dir("/" + n) and marks & set(img.listdir("/" + n))]
    if not found:
        raise ImageError("no fiscal journal on the image (no directory with header or state)")
    if len(found) > 1:
        raise ImageError(f"several journals on the image ({', '.join(found)}): choose with --root")
    return found[0]


def mount_image(data: bytes, geom: Geometry) -> tuple[LittleFS, ReadOnlyDevice]:
    if len(data) != geom.size:
        raise ImageUnreadable(
            f"image is {len(data)} bytes; the board's fiscal flash is {geom.size} "
            f"({geom.block_count} blocks of {geom.block_size})"
        )
    dev = ReadOnlyDevice(data)
    fs = LittleFS(
        dev,
        mount=False,
        block_size=geom.block_size,
        block_count=geom.block_count,
        read_size=geom.read_size,
        prog_size=geom.prog_size,
        lookahead_size=geom.lookahead,
        cache_size=geom.cache_size,
    )
    try:
        fs.mount()
    except LittleFSError as exc:
        raise ImageError(f"not a littlefs filesystem (unformatted or damaged): {exc}") from exc
    return fs, dev


def export_image(path: Path, board: str = "sim", root: str | None = None) -> ImageExport:
    """The PTFX export (no trailer) of the journal on a flash image."""
    geom = Geometry.for_board(board)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ImageUnreadable(f"cannot read {path}: {exc.strerror}") from exc
    fs, dev = mount_image(data, geom)
    img = _Image(fs)
    try:
        where = _find_root(img, root)
        names = img.listdir(where)
        warnings: list[str] = []
        header = b""
        header_dev: str | None = None
        if "header" in names:
            header = img.read(_join(where, "header"))
            try:
                header_dev = decode_header(header)
            except DecodeError as exc:
                warnings.append(f"header damaged: {exc}")
        else:
            warnings.append("header missing")
        state: tuple[str, int] | None = None
        if "state" in names:
            try:
                state = decode_state(img.read(_join(where, "state")))
            except DecodeError as exc:
                warnings.append(f"state damaged: {exc}")
        else:
            warnings.append("state missing")
        if not {"header", "state", SEG_DIR} & set(names):
            raise ImageError(f"no fiscal journal in {where}")
        if header_dev is not None and state is not None and header_dev != state[0]:
            warnings.append(f"header device {header_dev}, state device {state[0]}")
            header_dev = None
        header_ok = header_dev is not None
        seg_dir = _join(where, SEG_DIR)
        have: list[int] = []
        if SEG_DIR in names and img.is_dir(seg_dir):
            for n in img.listdir(seg_dir):
                if n.endswith(".tmp"):
                    continue
                if len(n) == 8 and n.isdigit():
                    have.append(int(n))
                else:
                    warnings.append(f"unknown file {SEG_DIR}/{n}")
        else:
            warnings.append("segment directory missing")
        if state is not None:
            wanted = list(range(1, state[1] + 1))
            segments = [n for n in wanted if n in have]
            missing = [n for n in wanted[:-1] if n not in have]
            if missing:
                warnings.append(f"closed segments missing: {missing}")
            beyond = [n for n in have if n > state[1]]
            if beyond:
                warnings.append(f"segments beyond the open one left out: {beyond}")
        else:
            segments = sorted(have)
        out = [EXPORT_MAGIC, bytes([FORMAT_VERSION])]
        hdr = header if header_ok else b""
        out.append(len(hdr).to_bytes(2, "big") + hdr)
        for seg in segments:
            out.append(img.read(_join(seg_dir, f"{seg:08d}")))
    except LittleFSError as exc:
        raise ImageError(f"littlefs: {exc} (damaged image)") from exc
    finally:
        with contextlib.suppress(LittleFSError):
            fs.unmount()
    device_id = header_dev if header_dev is not None else (state[0] if state else None)
    return ImageExport(
        b"".join(out),
        where,
        device_id,
        header_ok,
        state is not None,
        segments,
        warnings,
        dev.refused_writes,
    )


# -- service port ---------------------------------------------------------------------


class SerialLike(Protocol):
    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...


def load_tech_key(data: bytes) -> ec.EllipticCurvePrivateKey:
    """A technician private key: PEM (PKCS#8 or SEC 1), unencrypted, P-256."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("not an ECDSA P-256 private key")
    return key


def public_point(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    """The 65-byte uncompressed point the terminal is configured with."""
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return pub.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def sign_challenge(key: ec.EllipticCurvePrivateKey, challenge: bytes, device_id: str) -> bytes:
    """The AUTH payload: raw r|s over ``service_frame.auth_message``."""
    der = key.sign(sf.auth_message(challenge, device_id), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@dataclass
class PortExport:
    data: bytes
    device_id: str
    signed: bool
    frames: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": "port",
            "device_id": self.device_id,
            "bytes": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "signed_trailer": self.signed,
            "frames": self.frames,
        }


class ServiceClient:
    """The technician's side of the service protocol over a pyserial port
    (``read`` returning what arrived before its timeout, ``write``)."""

    def __init__(self, port: SerialLike, timeout: float = 10.0) -> None:
        self.port = port
        self.timeout = timeout
        self.deframer = sf.Deframer()

    def _frame(self) -> tuple[int, bytes]:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                got = self.deframer.next()
            except DecodeError as exc:
                raise ServiceError(f"malformed answer from the terminal: {exc}") from exc
            if got is not None:
                return got
            if time.monotonic() > deadline:
                raise ServiceError(f"no answer from the terminal within {self.timeout:g} s")
            # What is waiting, else one byte: pyserial's read(n) waits for
            # all n bytes until its timeout.
            data = self.port.read(max(1, int(getattr(self.port, "in_waiting", 0) or 0)))
            if data:
                self.deframer.feed(data)
                deadline = time.monotonic() + self.timeout

    def drain(self) -> None:
        """Forget bytes left on the line by an earlier session."""
        reset = getattr(self.port, "reset_input_buffer", None)
        if reset is not None:
            reset()
        self.deframer.clear()

    def send(self, cmd: int, payload: bytes = b"") -> None:
        self.port.write(sf.encode(cmd, payload))

    def request(self, cmd: int, payload: bytes = b"") -> bytes:
        """One request, one answer: its payload when OK; ServiceError otherwise."""
        self.send(cmd, payload)
        status, body = self._frame()
        if status != sf.ST_OK:
            raise self._refused(cmd, status, body)
        return body

    @staticmethod
    def _refused(cmd: int, status: int, body: bytes) -> ServiceError:
        text = body.decode("utf-8", "replace")
        return ServiceError(
            f"{sf.command_name(cmd)} refused: {sf.status_name(status)}: {text}", status
        )

    def _json(self, cmd: int) -> dict[str, object]:
        try:
            return sf.decode_json(self.request(cmd))
        except DecodeError as exc:
            raise ServiceError(f"{sf.command_name(cmd)}: malformed answer: {exc}") from exc

    def hello(self) -> dict[str, object]:
        return self._json(sf.CMD_HELLO)

    def status(self) -> dict[str, object]:
        return self._json(sf.CMD_STATUS)

    def authenticate(self, key: ec.EllipticCurvePrivateKey, device_id: str) -> None:
        challenge = self.request(sf.CMD_CHALLENGE)
        if len(challenge) != sf.CHALLENGE_LEN:
            raise ServiceError(f"challenge of {len(challenge)} bytes")
        self.request(sf.CMD_AUTH, sign_challenge(key, challenge, device_id))

    def export(self) -> tuple[bytes, bool, int]:
        """(export bytes, signed trailer, DATA frames) once the terminal's
        summary (length and SHA-256) matches what arrived."""
        self.send(sf.CMD_EXPORT)
        parts: list[bytes] = []
        frames = 0
        while True:
            status, body = self._frame()
            if status == sf.ST_DATA:
                parts.append(body)
                frames += 1
                continue
            if status != sf.ST_OK:
                raise self._refused(sf.CMD_EXPORT, status, body)
            try:
                total, digest, signed = sf.decode_export_end(body)
            except DecodeError as exc:
                raise ServiceError(f"bad export summary: {exc}") from exc
            data = b"".join(parts)
            if len(data) != total or hashlib.sha256(data).digest() != digest:
                raise ServiceError(
                    f"export damaged on the line: {len(data)} bytes arrived, the terminal "
                    f"sent {total}, or the SHA-256 differs"
                )
            return data, signed, frames


def export_port(
    port: SerialLike, key: ec.EllipticCurvePrivateKey, timeout: float = 10.0
) -> PortExport:
    """HELLO, CHALLENGE/AUTH with ``key``, EXPORT, LOGOUT."""
    client = ServiceClient(port, timeout)
    client.drain()
    hello = client.hello()
    dev = hello.get("device_id")
    if not isinstance(dev, str):
        raise ServiceError("HELLO names no device")
    client.authenticate(key, dev)
    data, signed, frames = client.export()
    client.request(sf.CMD_LOGOUT)
    return PortExport(data, dev, signed, frames)


def status_port(port: SerialLike, timeout: float = 10.0) -> dict[str, object]:
    """HELLO and STATUS (no technician key needed)."""
    client = ServiceClient(port, timeout)
    client.drain()
    doc = client.hello()
    doc.update(client.status())
    return doc


def open_port(url: str, baudrate: int = 115200, timeout: float = 0.2) -> Any:
    """A pyserial port from a URL or device name (``socket://host:port``,
    ``/dev/ttyUSB0``, ``COM3``)."""
    import serial

    return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout)
