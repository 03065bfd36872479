"""The PIN pad's AES DUKPT originator inside the SE (docs/secure-element.md).

LOAD_DUKPT takes the initial key as a TR-31 version D key block (usage B1,
algorithm A, the initial key ID in optional block IK) under the KBPK of the
state; the originator register (``protocols.crypto.aes_dukpt.Originator``)
is kept wrapped in the state and saved before any answer that used it.

One transaction = one KSN: PIN_BLOCK and MAC use the current KSN's working
keys (PIN encryption 1000, MAC generation 2000); a second PIN_BLOCK on the
same KSN first moves to the next one; NEXT_TRANSACTION moves on explicitly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hsm_sim.crypto import tr31
from hsm_sim.crypto.aes import AesBlock
from hsm_sim.se.errors import CommandFailed
from protocols import se_frame as sf
from protocols.crypto import aes_cmac, aes_dukpt, pin_format4
from protocols.errors import EncodeError

if TYPE_CHECKING:
    from hsm_sim.se.engine import Engine

_LABEL = "dukpt"


def _originator(engine: Engine) -> aes_dukpt.Originator:
    entry = engine.store.data.get("dukpt")
    if not entry:
        raise CommandFailed(sf.ST_KEY_NOT_FOUND, "no DUKPT key loaded")
    state = engine.store.unwrap(_LABEL, str(entry["state"]))
    return aes_dukpt.Originator.from_state(AesBlock, state)


def _keep(engine: Engine, orig: aes_dukpt.Originator, pin_used: bool, loads: int) -> None:
    engine.store.data["dukpt"] = {
        "state": engine.store.wrap(_LABEL, orig.to_state()),
        "pin_used": pin_used,
        "loads": loads,
    }
    engine.store.save()


def load_dukpt(engine: Engine, payload: bytes) -> bytes:
    """TR-31 block (ASCII) -> the first KSN (12)."""
    engine.require_unlocked()
    try:
        text = payload.decode("ascii")
    except UnicodeError:
        raise CommandFailed(sf.ST_BAD_PARAMETER, "key block is not ASCII") from None
    kbpk = engine.store.unwrap("kbpk", str(engine.store.data["secrets"]["kbpk"]))
    try:
        header, key = tr31.unwrap(kbpk, text)
    except tr31.AuthenticationError:
        raise CommandFailed(sf.ST_NOT_ALLOWED, "key block MAC does not verify") from None
    except (tr31.KeyBlockError, ValueError) as exc:
        raise CommandFailed(sf.ST_BAD_PARAMETER, f"key block refused: {exc}") from None
    if header.version != "D" or header.key_usage != "B1" or header.algorithm != "A":
        raise CommandFailed(sf.ST_BAD_PARAMETER, "need a version D, B1, algorithm A key block")
    if header.mode_of_use not in ("X", "N"):
        raise CommandFailed(sf.ST_BAD_PARAMETER, "mode of use must be X or N")
    ik_text = header.block("IK") or ""
    try:
        ikid = bytes.fromhex(ik_text)
    except ValueError:
        ikid = b""
    if len(ikid) != aes_dukpt.IKID_LEN:
        raise CommandFailed(sf.ST_BAD_PARAMETER, "optional block IK must hold 16 hex digits")
    if len(key) == 24:
        raise CommandFailed(sf.ST_BAD_PARAMETER, "AES-192 initial keys are not supported")
    orig = aes_dukpt.Originator(AesBlock, key, ikid)
    previous = engine.store.data.get("dukpt") or {}
    _keep(engine, orig, False, int(previous.get("loads", 0)) + 1)
    return orig.ksn()


def _parse_pin_request(payload: bytes) -> tuple[str, bytearray]:
    if len(payload) < 1 or len(payload) < 1 + payload[0]:
        raise CommandFailed(sf.ST_BAD_LENGTH, "PIN_BLOCK: PAN length beyond the payload")
    n = payload[0]
    pan_bytes = payload[1 : 1 + n]
    pin = bytearray(payload[1 + n :])
    if not all(0x30 <= b <= 0x39 for b in pan_bytes) or not 1 <= n <= pin_format4.MAX_PAN:
        raise CommandFailed(sf.ST_BAD_PARAMETER, "PAN must be 1..19 ASCII digits")
    if not all(0x30 <= b <= 0x39 for b in pin) or not 4 <= len(pin) <= 12:
        for i in range(len(pin)):
            pin[i] = 0
        raise CommandFailed(sf.ST_BAD_PARAMETER, "PIN must be 4..12 ASCII digits")
    return pan_bytes.decode("ascii"), pin


def pin_block(engine: Engine, payload: bytes) -> bytes:
    """PAN length u8 | PAN | PIN (ASCII digits) -> format 4 block (16) | KSN (12)."""
    engine.require_unlocked()
    orig = _originator(engine)
    pan, pin = _parse_pin_request(payload)
    try:
        entry = engine.store.data["dukpt"]
        if entry.get("pin_used"):
            orig.advance()
        key = orig.working_key(aes_dukpt.USAGE_PIN_ENCRYPTION)
        try:
            block = pin_format4.encipher(AesBlock(key), pin.decode("ascii"), pan)
        except EncodeError as exc:
            raise CommandFailed(sf.ST_BAD_PARAMETER, str(exc)) from None
    except aes_dukpt.DukptError:
        raise CommandFailed(sf.ST_NOT_ALLOWED, "DUKPT counter exhausted") from None
    finally:
        for i in range(len(pin)):
            pin[i] = 0
    _keep(engine, orig, True, int(entry.get("loads", 1)))
    return block + orig.ksn()


def mac(engine: Engine, payload: bytes) -> bytes:
    """data -> AES-CMAC (16) under the current KSN's MAC generation key | KSN."""
    engine.require_unlocked()
    orig = _originator(engine)
    key = orig.working_key(aes_dukpt.USAGE_MAC_GENERATION)
    return aes_cmac.cmac(AesBlock(key), payload) + orig.ksn()


def next_transaction(engine: Engine, payload: bytes) -> bytes:
    """-> the next KSN (12)."""
    if payload:
        raise CommandFailed(sf.ST_BAD_LENGTH, "NEXT_TRANSACTION takes no payload")
    engine.require_unlocked()
    orig = _originator(engine)
    try:
        orig.advance()
    except aes_dukpt.DukptError:
        raise CommandFailed(sf.ST_NOT_ALLOWED, "DUKPT counter exhausted") from None
    _keep(engine, orig, False, int(engine.store.data["dukpt"].get("loads", 1)))
    return orig.ksn()


def get_ksn(engine: Engine, payload: bytes) -> bytes:
    if payload:
        raise CommandFailed(sf.ST_BAD_LENGTH, "GET_KSN takes no payload")
    return _originator(engine).ksn()
