"""The secure element's internal storage: one JSON file, written atomically.

The file IS the emulated chip's non-volatile memory.  Secrets in it (private
keys, the DUKPT register, the KBPK, the TSM unlock key) are wrapped with
AES-256-GCM under a device master key derived (HKDF-SHA256) from a
per-instance secret kept in a sidecar file ``<state>.secret`` (mode 0600):
the state file alone does not reveal a key.  This mimics a chip's protected
memory; it is an emulator, and anyone who can read both files holds the keys.

Writes are write-ahead: ``save()`` writes a temporary file, fsyncs it,
renames it over the old one and fsyncs the directory, so after a crash the
file is either the old state or the new one, never a mix.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF

FORMAT = "payterm-se-state/1"
_NONCE = 12
_TAG = 16


class StorageError(Exception):
    """The state file or its secret is missing, damaged or does not match."""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class Storage:
    """The state dict plus wrap/unwrap under the device master key."""

    def __init__(self, path: Path, data: dict[str, Any], master_key: bytes) -> None:
        self.path = path
        self.data = data
        self._dmk = master_key
        self.saves = 0

    @staticmethod
    def secret_path(path: Path) -> Path:
        return path.with_name(path.name + ".secret")

    @classmethod
    def create(cls, path: Path, serial: str, data: dict[str, Any]) -> Storage:
        """A new state file with a fresh instance secret (refuses to overwrite)."""
        if path.exists() or cls.secret_path(path).exists():
            raise StorageError(f"{path}: a secure-element state already exists")
        instance = secrets.token_bytes(32)
        _write_atomic(cls.secret_path(path), instance.hex().encode() + b"\n")
        full = {"format": FORMAT, "serial": serial}
        full.update(data)
        store = cls(path, full, _derive(instance, serial))
        store.save()
        return store

    @classmethod
    def open(cls, path: Path) -> Storage:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            instance = bytes.fromhex(cls.secret_path(path).read_text(encoding="ascii").strip())
        except (OSError, ValueError, UnicodeError) as exc:
            raise StorageError(f"{path}: cannot read the secure-element state: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise StorageError(f"{path}: not a {FORMAT} file")
        if len(instance) != 32:
            raise StorageError(f"{path}: instance secret must be 32 bytes")
        return cls(path, data, _derive(instance, str(data.get("serial", ""))))

    def save(self) -> None:
        text = json.dumps(self.data, sort_keys=True, indent=1) + "\n"
        _write_atomic(self.path, text.encode("utf-8"))
        self.saves += 1

    def wrap(self, label: str, secret: bytes) -> str:
        """AES-256-GCM of ``secret`` under the device master key; ``label`` is
        the associated data, so a wrapped value cannot be moved to another
        field.  Hex of nonce | ciphertext | tag."""
        nonce = secrets.token_bytes(_NONCE)
        cipher = AES.new(self._dmk, AES.MODE_GCM, nonce=nonce)
        cipher.update(label.encode())
        ct, tag = cipher.encrypt_and_digest(secret)
        return (nonce + ct + tag).hex()

    def unwrap(self, label: str, wrapped: str) -> bytes:
        try:
            raw = bytes.fromhex(wrapped)
        except ValueError:
            raise StorageError(f"wrapped {label} is not hex") from None
        if len(raw) < _NONCE + _TAG:
            raise StorageError(f"wrapped {label} is too short")
        cipher = AES.new(self._dmk, AES.MODE_GCM, nonce=raw[:_NONCE])
        cipher.update(label.encode())
        try:
            return bytes(cipher.decrypt_and_verify(raw[_NONCE:-_TAG], raw[-_TAG:]))
        except ValueError:
            raise StorageError(f"wrapped {label} does not verify (wrong device?)") from None


def _derive(instance: bytes, serial: str) -> bytes:
    key = HKDF(instance, 32, serial.encode(), SHA256, context=b"payterm-se-dmk/1")
    assert isinstance(key, bytes)
    return key
