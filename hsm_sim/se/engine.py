"""The secure element's command processor: one request frame in, one
response frame out (docs/se.md, docs/secure-element.md).

``Engine.open(path)`` loads (or, with ``personalise``, creates) the state
file; ``Engine.handle(frame)`` answers any bytes: a damaged frame gets
CRC_ERROR, an unknown command UNKNOWN_COMMAND, a refused one its status, an
unexpected failure INTERNAL_ERROR; it never raises for the input.  Logs name
commands and statuses only, never payloads (PINs, keys, digests).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from hsm_sim.se import kagree, pinpad, signer, tamper, testkeys, vault
from hsm_sim.se.errors import CommandFailed
from hsm_sim.se.storage import Storage, StorageError
from protocols import se_app
from protocols import se_frame as sf
from protocols.errors import DecodeError

log = logging.getLogger("hsm_sim.se")

MODEL = "payterm-se-emulator"
VERSION = "1.0"

Handler = Callable[["Engine", bytes], bytes]


def _info(engine: Engine, payload: bytes) -> bytes:
    if payload:
        raise CommandFailed(sf.ST_BAD_LENGTH, "INFO takes no payload")
    info = {
        "model": MODEL,
        "serial": engine.serial,
        "version": VERSION,
        "emulator": True,
        "key_slots": se_app.KEY_SLOTS,
        "cert_slots": se_app.CERT_SLOTS,
        "curve": "P-256",
        "ka_key": bool(engine.store.data.get("ka")),
        "kbpk": str(engine.store.data.get("kbpk_source") or "personalisation"),
        "storage_key": vault.has_key(engine),
    }
    return json.dumps(info, sort_keys=True).encode()


def _random(engine: Engine, payload: bytes) -> bytes:
    if len(payload) != 1:
        raise CommandFailed(sf.ST_BAD_LENGTH, "RANDOM takes one byte")
    if payload[0] == 0:
        raise CommandFailed(sf.ST_BAD_PARAMETER, "RANDOM of 0 bytes")
    return secrets.token_bytes(payload[0])


def _echo(engine: Engine, payload: bytes) -> bytes:
    return bytes(payload)


HANDLERS: dict[int, Handler] = {
    sf.CMD_INFO: _info,
    sf.CMD_RANDOM: _random,
    sf.CMD_ECHO: _echo,
    se_app.CMD_GENERATE_KEY: signer.generate_key,
    se_app.CMD_GET_PUBLIC_KEY: signer.get_public_key,
    se_app.CMD_SIGN: signer.sign,
    se_app.CMD_GET_COUNTER: signer.get_counter,
    se_app.CMD_WRITE_CERT: signer.write_cert,
    se_app.CMD_READ_CERT: signer.read_cert,
    se_app.CMD_GET_STATUS: tamper.status,
    se_app.CMD_TAMPER_EVENT: tamper.tamper_event,
    se_app.CMD_UNLOCK_CHALLENGE: tamper.unlock_challenge,
    se_app.CMD_UNLOCK: tamper.unlock,
    se_app.CMD_LOAD_DUKPT: pinpad.load_dukpt,
    se_app.CMD_PIN_BLOCK: pinpad.pin_block,
    se_app.CMD_MAC: pinpad.mac,
    se_app.CMD_NEXT_TRANSACTION: pinpad.next_transaction,
    se_app.CMD_GET_KSN: pinpad.get_ksn,
    se_app.CMD_KA_PUBLIC_KEY: kagree.ka_public_key,
    se_app.CMD_KBPK_NONCE: kagree.kbpk_nonce,
    se_app.CMD_KEY_AGREE: kagree.key_agree,
    se_app.CMD_DATA_WRAP: vault.data_wrap,
    se_app.CMD_DATA_UNWRAP: vault.data_unwrap,
}


def _name(cmd: int) -> str:
    name = sf.command_name(cmd)
    return se_app.command_name(cmd) if name.startswith("CMD_") else name


class Engine:
    def __init__(self, store: Storage) -> None:
        self.store = store
        self.challenge: bytes | None = None
        self.ka_nonce: bytes | None = None
        self.counts: dict[str, int] = {}

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        personalise: str | None = "test",
        serial: str = "",
        tsm_key: bytes | None = None,
    ) -> Engine:
        """The SE of the state file ``path``; a missing file is created when
        ``personalise`` is ``"test"`` (TEST KBPK, unlock key and TSM
        key-loading key, testkeys.py) or ``"random"`` (fresh keys nobody
        outside knows).  ``tsm_key`` (65 bytes, the TSM key-loading key's
        public point) is installed instead of the TEST one; a ``random``
        state without it refuses KEY_AGREE."""
        p = Path(path)
        if p.exists():
            return cls(Storage.open(p))
        if personalise not in ("test", "random"):
            raise StorageError(f"{p}: no secure-element state (and no personalisation)")
        if personalise == "test":
            kbpk, unlock_key = testkeys.TEST_KBPK, testkeys.TEST_UNLOCK_KEY
            tsm_key = tsm_key or testkeys.TEST_TSM_KEY_LOADING_PUBLIC
        else:
            kbpk, unlock_key = secrets.token_bytes(32), secrets.token_bytes(16)
        if tsm_key is not None:
            kagree.check_point(tsm_key)
        serial = serial or "PTSE" + secrets.token_hex(6).upper()
        store = Storage.create(
            p,
            serial,
            {
                "personalisation": personalise,
                "slots": {},
                "certs": {},
                "locked": False,
                "tamper_count": 0,
                "tamper_log": [],
                "secrets": {},
                "dukpt": None,
            },
        )
        store.data["secrets"] = {
            "kbpk": store.wrap("kbpk", kbpk),
            "unlock_key": store.wrap("unlock_key", unlock_key),
        }
        store.data["kbpk_source"] = "personalisation"
        if tsm_key is not None:
            store.data[kagree.TSM_KEY_FIELD] = store.wrap(kagree.TSM_KEY_FIELD, tsm_key)
        store.save()
        return cls(store)

    @property
    def serial(self) -> str:
        return str(self.store.data["serial"])

    @property
    def locked(self) -> bool:
        return bool(self.store.data["locked"])

    def require_unlocked(self) -> None:
        if self.locked:
            raise CommandFailed(sf.ST_NOT_ALLOWED, "locked after a tamper event")

    def execute(self, cmd: int, payload: bytes) -> tuple[int, bytes]:
        """(status, response payload) of one command."""
        handler = HANDLERS.get(cmd)
        name = _name(cmd)
        if handler is None:
            status, body = sf.ST_UNKNOWN_COMMAND, b""
        else:
            try:
                status, body = sf.ST_OK, handler(self, payload)
            except CommandFailed as exc:
                status, body = exc.status, b""
                log.info("%s refused: %s", name, exc.reason)
            except Exception as exc:  # the SE keeps serving; the type names the fault
                status, body = sf.ST_INTERNAL_ERROR, b""
                log.error("%s failed: %s", name, type(exc).__name__)
        key = f"{name} {sf.status_name(status)}"
        self.counts[key] = self.counts.get(key, 0) + 1
        log.debug("%s -> %s", name, sf.status_name(status))
        return status, body

    def handle(self, frame: bytes) -> bytes:
        """The response frame for a request frame (RESEND is the bus's job)."""
        try:
            cmd, payload = sf.decode(frame)
        except DecodeError:
            log.info("damaged request frame (%d bytes)", len(frame))
            return sf.encode_response(sf.ST_CRC_ERROR)
        status, body = self.execute(cmd, payload)
        if len(body) > sf.MAX_PAYLOAD:
            status, body = sf.ST_INTERNAL_ERROR, b""
        return sf.encode_response(status, body)
