"""Transport-key establishment in the SE emulator (KA_PUBLIC_KEY, KBPK_NONCE,
KEY_AGREE of docs/secure-element.md): the KDF and ECDH against the published
RFC 7518 Appendix C example and the KDF against NIST ACVP KDA OneStep
vectors, the SE (pycryptodome, its own KDF) agreeing
with the TSM side (``cryptography``'s ConcatKDFHash and CMAC), the agreed KBPK
replacing the personalisation one across a restart, every refusal (forged,
foreign, replayed or spent signatures, no nonce, no key, locked, off-curve
points, no TSM key installed), a failed write leaving the old KBPK, and no
key in the state file or the log."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from se_support import IKID, dukpt_block, read_all, secret_hexes

from hsm_sim.crypto import aes, dukpt_aes, tr31
from hsm_sim.se import kagree
from hsm_sim.se.engine import Engine
from hsm_sim.se.testkeys import (
    TEST_KBPK,
    TEST_TSM_KEY_LOADING_PUBLIC,
    TEST_UNLOCK_KEY,
)
from hsm_sim.tsm import transport
from hsm_sim.tsm.keys import TEST_BDK, public_point, published_key_loading_key, sign_raw
from protocols import se_app as sa
from protocols import se_frame as sf

VECTORS = Path(__file__).parent / "vectors"
SERIAL = "PT-KA-0001"


def _engine(path: Path, personalise: str = "test", tsm_key: bytes | None = None) -> Engine:
    return Engine.open(path, personalise, SERIAL, tsm_key)


def _ok(engine: Engine, cmd: int, payload: bytes = b"") -> bytes:
    status, body = engine.execute(cmd, payload)
    assert status == sf.ST_OK, (sa.command_name(cmd), sf.status_name(status))
    return body


def _status(engine: Engine, cmd: int, payload: bytes = b"") -> int:
    return engine.execute(cmd, payload)[0]


def _agree(engine: Engine, ikid: bytes = IKID, serial: str = SERIAL) -> transport.Agreement:
    """The TSM's side of one key load for this SE (nonce taken from it)."""
    ka = _ok(engine, sa.CMD_KA_PUBLIC_KEY)
    nonce = _ok(engine, sa.CMD_KBPK_NONCE)
    return transport.agree(published_key_loading_key(), serial, ka, nonce, TEST_BDK, ikid)


def _stored_kbpk(engine: Engine) -> bytes:
    return engine.store.unwrap("kbpk", engine.store.data["secrets"]["kbpk"])


def test_rfc7518_appendix_c_ecdh_and_one_step_kdf() -> None:
    v = json.loads((VECTORS / "ka_kdf_rfc7518.json").read_text())
    u, w = v["party_u"], v["party_v"]
    z = bytes.fromhex(v["z"])
    assert kagree.ecdh(bytes.fromhex(w["private"]), bytes.fromhex(u["public"])) == z
    assert kagree.ecdh(bytes.fromhex(u["private"]), bytes.fromhex(w["public"])) == z
    got = kagree.one_step_kdf(z, bytes.fromhex(v["other_info"]), v["keydatalen_bits"])
    assert got.hex() == v["derived_key"]
    # more than one hash block (the SE derives 384 bits): the SE's code and
    # cryptography's ConcatKDFHash (SP 800-56A/C one-step) agree
    for n in (48, 64, 100):
        other = ConcatKDFHash(hashes.SHA256(), n, bytes.fromhex(v["other_info"])).derive(z)
        assert kagree.one_step_kdf(z, bytes.fromhex(v["other_info"]), n * 8) == other
    with pytest.raises(ValueError):
        kagree.one_step_kdf(z, b"", 12)


def test_one_step_kdf_nist_acvp_sha512_vectors() -> None:
    v = json.loads((VECTORS / "kda_onestep_acvp_sha512.json").read_text())
    passed = 0
    for t in v["tests"]:
        u = bytes.fromhex(t["u"]["partyId"] + t["u"].get("ephemeralData", ""))
        w = bytes.fromhex(t["v"]["partyId"] + t["v"].get("ephemeralData", ""))
        fixed = bytes.fromhex(t["t"]) + u + w + v["l_bits"].to_bytes(4, "big")
        got = kagree.one_step_kdf(bytes.fromhex(t["z"]), fixed, v["l_bits"], "sha512")
        assert (got.hex().upper() == t["dkm"]) is t["testPassed"], t["tcId"]
        passed += t["testPassed"]
    assert passed == 7


def test_key_agree_replaces_the_personalisation_kbpk(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "se.json")
    assert json.loads(_ok(engine, sf.CMD_INFO))["kbpk"] == "personalisation"
    # before any agreement the personalisation KBPK opens blocks
    _ok(engine, sa.CMD_LOAD_DUKPT, dukpt_block().encode())
    ka = _ok(engine, sa.CMD_KA_PUBLIC_KEY)
    assert len(ka) == 65 and ka[0] == 4
    assert _ok(engine, sa.CMD_KA_PUBLIC_KEY) == ka  # generated once, kept
    # the key-agreement key is not a signing slot
    assert _ok(engine, sa.CMD_GET_STATUS)[5] == 0
    ikid = bytes.fromhex("A1B2C3D400000001")
    ag = _agree(engine, ikid)
    body = _ok(engine, sa.CMD_KEY_AGREE, ag.ephemeral + ag.signature)
    assert body[:65] == ka
    assert transport.tag_matches(ag.tag_digest, body[65:])
    kbpk = _stored_kbpk(engine)
    assert kbpk != TEST_KBPK and len(kbpk) == 32
    # the TSM's block opens under the KBPK the SE stored (independent check)
    header, key = tr31.unwrap(kbpk, ag.key_block)
    assert (header.key_usage, key) == ("B1", dukpt_aes.initial_key(TEST_BDK, ikid))
    assert _ok(engine, sa.CMD_LOAD_DUKPT, ag.key_block.encode()) == ikid + b"\0\0\0\1"
    # the personalisation KBPK no longer opens anything
    assert _status(engine, sa.CMD_LOAD_DUKPT, dukpt_block().encode()) == sf.ST_NOT_ALLOWED
    info = json.loads(_ok(engine, sf.CMD_INFO))
    assert (info["kbpk"], info["ka_key"]) == ("agreed", True)
    # kept across a restart, and a second agreement gives another KBPK
    again = Engine.open(tmp_path / "se.json", None)
    assert _ok(again, sa.CMD_KA_PUBLIC_KEY) == ka
    assert _ok(again, sa.CMD_LOAD_DUKPT, ag.key_block.encode()) == ikid + b"\0\0\0\1"
    assert _status(again, sa.CMD_LOAD_DUKPT, dukpt_block().encode()) == sf.ST_NOT_ALLOWED
    ag2 = _agree(again, ikid)
    _ok(again, sa.CMD_KEY_AGREE, ag2.ephemeral + ag2.signature)
    assert _stored_kbpk(again) != kbpk
    assert _status(again, sa.CMD_LOAD_DUKPT, ag.key_block.encode()) == sf.ST_NOT_ALLOWED
    assert again.store.data["kbpk_agreements"] == 2


def test_key_agree_refusals(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "se.json")
    ag = _agree(engine)
    eph, sig = ag.ephemeral, ag.signature
    # lengths
    assert _status(engine, sa.CMD_KEY_AGREE, eph + sig[:-1]) == sf.ST_BAD_LENGTH
    assert _status(engine, sa.CMD_KA_PUBLIC_KEY, b"\0") == sf.ST_BAD_LENGTH
    assert _status(engine, sa.CMD_KBPK_NONCE, b"\0") == sf.ST_BAD_LENGTH
    # a forged signature (another key signs the right message): refused, and
    # the nonce is spent by the attempt
    nonce = _ok(engine, sa.CMD_KBPK_NONCE)
    forger = ec.generate_private_key(ec.SECP256R1())
    good = transport.agree(
        published_key_loading_key(), SERIAL, ag_ka(engine), nonce, TEST_BDK, IKID
    )
    forged = sign_raw(forger, sa.key_agree_message(good.ephemeral, nonce, SERIAL))
    assert _status(engine, sa.CMD_KEY_AGREE, good.ephemeral + forged) == sf.ST_NOT_ALLOWED
    assert _status(engine, sa.CMD_KEY_AGREE, good.ephemeral + good.signature) == sf.ST_NOT_ALLOWED
    # the ephemeral key swapped under a genuine signature
    nonce = _ok(engine, sa.CMD_KBPK_NONCE)
    good = transport.agree(
        published_key_loading_key(), SERIAL, ag_ka(engine), nonce, TEST_BDK, IKID
    )
    other = public_point(ec.generate_private_key(ec.SECP256R1()).public_key())
    assert _status(engine, sa.CMD_KEY_AGREE, other + good.signature) == sf.ST_NOT_ALLOWED
    # signed for another device
    nonce = _ok(engine, sa.CMD_KBPK_NONCE)
    foreign = transport.agree(
        published_key_loading_key(), "PT-OTHER", ag_ka(engine), nonce, TEST_BDK, IKID
    )
    assert _status(engine, sa.CMD_KEY_AGREE, foreign.ephemeral + foreign.signature) == 6
    # a replay of an earlier answer under a new nonce
    _ok(engine, sa.CMD_KBPK_NONCE)
    assert _status(engine, sa.CMD_KEY_AGREE, eph + sig) == sf.ST_NOT_ALLOWED
    # no nonce outstanding
    assert _status(engine, sa.CMD_KEY_AGREE, eph + sig) == sf.ST_NOT_ALLOWED
    # an ephemeral point off the curve
    _ok(engine, sa.CMD_KBPK_NONCE)
    off = eph[:-1] + bytes((eph[-1] ^ 1,))
    assert _status(engine, sa.CMD_KEY_AGREE, off + sig) == sf.ST_BAD_PARAMETER
    assert _status(engine, sa.CMD_KEY_AGREE, b"\x05" + eph[1:] + sig) == sf.ST_BAD_PARAMETER
    # none of this touched the personalisation KBPK
    assert _stored_kbpk(engine) == TEST_KBPK
    assert json.loads(_ok(engine, sf.CMD_INFO))["kbpk"] == "personalisation"
    _ok(engine, sa.CMD_LOAD_DUKPT, dukpt_block().encode())


def ag_ka(engine: Engine) -> bytes:
    return _ok(engine, sa.CMD_KA_PUBLIC_KEY)


def test_no_key_no_tsm_key_and_tamper(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "a.json")
    # no key-agreement key yet
    _ok(engine, sa.CMD_KBPK_NONCE)
    eph = public_point(ec.generate_private_key(ec.SECP256R1()).public_key())
    assert _status(engine, sa.CMD_KEY_AGREE, eph + bytes(64)) == sf.ST_KEY_NOT_FOUND
    # locked: no new key, no agreement; a tamper event voids the nonce
    _ok(engine, sa.CMD_KA_PUBLIC_KEY)
    _ok(engine, sa.CMD_TAMPER_EVENT, b"\x01")
    fresh = _engine(tmp_path / "b.json")
    _ok(fresh, sa.CMD_TAMPER_EVENT, b"\x00")
    assert _status(fresh, sa.CMD_KA_PUBLIC_KEY) == sf.ST_NOT_ALLOWED
    ag = _agree(engine)  # the key exists: reading it works while locked
    assert _status(engine, sa.CMD_KEY_AGREE, ag.ephemeral + ag.signature) == sf.ST_NOT_ALLOWED
    ag = _agree(engine)
    _ok(engine, sa.CMD_TAMPER_EVENT, b"\x02")  # voids the nonce just handed out
    challenge = _ok(engine, sa.CMD_UNLOCK_CHALLENGE)
    count = int.from_bytes(_ok(engine, sa.CMD_GET_STATUS)[1:5], "big")
    mac = aes.cmac(TEST_UNLOCK_KEY, sa.unlock_message(SERIAL, challenge, count))
    _ok(engine, sa.CMD_UNLOCK, mac)
    assert _status(engine, sa.CMD_KEY_AGREE, ag.ephemeral + ag.signature) == sf.ST_NOT_ALLOWED
    ag = _agree(engine)
    _ok(engine, sa.CMD_KEY_AGREE, ag.ephemeral + ag.signature)
    # a random personalisation without a TSM key: KEY_NOT_FOUND
    rnd = _engine(tmp_path / "c.json", "random")
    ag = _agree(rnd)
    assert _status(rnd, sa.CMD_KEY_AGREE, ag.ephemeral + ag.signature) == sf.ST_KEY_NOT_FOUND
    # ... and with the TSM key given at personalisation: that key, not TEST's
    own = ec.generate_private_key(ec.SECP256R1())
    mine = _engine(tmp_path / "d.json", "random", public_point(own.public_key()))
    ag = _agree(mine)
    assert _status(mine, sa.CMD_KEY_AGREE, ag.ephemeral + ag.signature) == sf.ST_NOT_ALLOWED
    ka, nonce = _ok(mine, sa.CMD_KA_PUBLIC_KEY), _ok(mine, sa.CMD_KBPK_NONCE)
    ag = transport.agree(own, SERIAL, ka, nonce, TEST_BDK, IKID)
    _ok(mine, sa.CMD_KEY_AGREE, ag.ephemeral + ag.signature)
    _ok(mine, sa.CMD_LOAD_DUKPT, ag.key_block.encode())
    with pytest.raises(ValueError):
        _engine(tmp_path / "e.json", "random", TEST_TSM_KEY_LOADING_PUBLIC[:-1] + b"\0")


def test_failed_write_keeps_the_old_kbpk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "se.json"
    engine = _engine(path)
    ag = _agree(engine)
    before = path.read_bytes()

    def fail() -> None:
        raise OSError("disk full")

    monkeypatch.setattr(engine.store, "save", fail)
    assert _status(engine, sa.CMD_KEY_AGREE, ag.ephemeral + ag.signature) == sf.ST_INTERNAL_ERROR
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _stored_kbpk(engine) == TEST_KBPK
    _ok(engine, sa.CMD_LOAD_DUKPT, dukpt_block().encode())
    assert _status(engine, sa.CMD_LOAD_DUKPT, ag.key_block.encode()) == sf.ST_NOT_ALLOWED


def test_no_key_in_the_state_file_or_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "se.json"
    engine = _engine(path)
    ag = _agree(engine)
    body = _ok(engine, sa.CMD_KEY_AGREE, ag.ephemeral + ag.signature)
    _ok(engine, sa.CMD_LOAD_DUKPT, ag.key_block.encode())
    kbpk = _stored_kbpk(engine)
    ka_private = engine.store.unwrap("ka:private", engine.store.data["ka"]["private"])
    z = kagree.ecdh(ka_private, ag.ephemeral)
    secrets = (kbpk, ka_private, z, dukpt_aes.initial_key(TEST_BDK, IKID))
    text = read_all(path) + "\n".join(r.getMessage() for r in caplog.records) + body.hex()
    for spelled in secret_hexes(*secrets):
        assert spelled not in text
    assert "KEY_AGREE" in "\n".join(r.getMessage() for r in caplog.records)
