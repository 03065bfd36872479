"""The HSM's persistence and secrecy: a restart with the same DB keeps keys
usable (test and production LMK), a DB refuses another LMK, the schema is
versioned, and neither the logs nor the DB ever hold a clear key or PIN."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import psec.des
import psec.pinblock
import pytest
from hsm_support import lmk_block, running_hsm, tdes_key

from hsm_sim.client import HsmClient, HsmError
from hsm_sim.crypto import tr31
from hsm_sim.keystore import SCHEMA_VERSION, Keystore, KeystoreError
from hsm_sim.lmk import TEST_LMK_HEX, Lmk, LmkError, load

PAN = "4012345678909"


def test_restart_with_the_same_db_keeps_production_keys_usable(tmp_path: Path) -> None:
    db = tmp_path / "hsm.db"
    with running_hsm(db, passphrase="correct horse") as hsm:
        check = hsm.server.lmk.check_value
        assert check != Lmk.test().check_value
        with HsmClient(hsm.host, hsm.port) as client:
            assert client.diagnostics().lmk_check == check
            key = client.generate_key("M6", "A1", "C")
            mac = client.generate_mac(key.key, b"restart me")
            client.store_key("R01", key.key)
    with running_hsm(db, passphrase="correct horse") as hsm:
        with HsmClient(hsm.host, hsm.port) as client:
            assert client.diagnostics().lmk_check == check
            assert client.generate_mac(key.key, b"restart me") == mac
            assert client.generate_mac("KR01", b"restart me") == mac
            assert client.key_check_value(key.key) == key.kcv
        hsm.flush_audit()
        assert [r[1] for r in hsm.server.store.audit_rows()] == [
            "NC", "A0", "M6", "LA", "NC", "M6", "M6", "BU",
        ]  # fmt: skip
    with pytest.raises(LmkError), running_hsm(db, passphrase="wrong horse"):
        pass
    # keys under the production LMK: not with the test LMK
    with pytest.raises(KeystoreError), running_hsm(db):
        pass


def test_a_key_block_from_another_lmk_is_refused(tmp_path: Path) -> None:
    with (
        running_hsm(tmp_path / "a.db", passphrase="one") as hsm_a,
        HsmClient(hsm_a.host, hsm_a.port) as client,
    ):
        block = client.generate_key("P0", "T2").key
    with (
        running_hsm(tmp_path / "b.db", passphrase="two") as hsm_b,
        HsmClient(hsm_b.host, hsm_b.port) as client,
        pytest.raises(HsmError) as info,
    ):
        client.key_check_value(block)
    assert info.value.code == "A4"


def test_schema_is_versioned_and_newer_schemas_are_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Keystore(db)
    assert store.schema_version == SCHEMA_VERSION
    store.close()
    con = sqlite3.connect(db)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "keys", "audit", "lmk"} <= tables
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(KeystoreError, match="newer"):
        Keystore(db)


def test_migrations_apply_to_an_old_schema(tmp_path: Path) -> None:
    from hsm_sim.keystore import MIGRATIONS

    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    for statement in MIGRATIONS[0]:
        con.execute(statement)
    con.execute("INSERT INTO keys VALUES ('OLD', 'SX', '000000', 0)")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    store = Keystore(db)
    assert store.schema_version == SCHEMA_VERSION
    assert store.get_key("OLD") == "SX"
    assert store.lmk_record() is None


def test_no_clear_key_or_pin_in_logs_db_or_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="payterm.hsm")
    db = tmp_path / "secret.db"
    tpk, zpk, mac_key = tdes_key(70), tdes_key(71), tdes_key(72)
    pins = ["4729", "918273"]
    secrets = [tpk, zpk, mac_key, bytes.fromhex(TEST_LMK_HEX)]
    clear_blocks = [psec.pinblock.encode_pinblock_iso_0(p, PAN) for p in pins]
    with running_hsm(db, passphrase="audit me") as hsm:
        with HsmClient(hsm.host, hsm.port) as client:
            # keys enter under the production LMK via a ZMK import (A6)
            zmk = tdes_key(73)
            secrets.append(zmk)
            # the ZMK as a key ceremony would leave it: under the HSM's LMK
            zmk_block = hsm.server.lmk.wrap(tr31.Header("D", "K0", "T", "B", "00", "E"), zmk)
            blocks = {}
            for name, value in (("tpk", tpk), ("zpk", zpk), ("mac", mac_key)):
                usage = "M3" if name == "mac" else "P0"
                wrapped = tr31.wrap(zmk, tr31.Header("B", usage, "T", "N", "00", "E"), value)
                blocks[name] = client.import_key(zmk_block, wrapped).key
            for pin, clear in zip(pins, clear_blocks, strict=True):
                block = psec.des.encrypt_tdes_ecb(tpk, clear)
                out = client.translate_pin_tpk(blocks["tpk"], blocks["zpk"], block, 0, 0, PAN)
                assert (
                    psec.pinblock.decode_pinblock_iso_0(
                        psec.des.decrypt_tdes_ecb(zpk, out.pin_block), PAN
                    )
                    == pin
                )
                # error paths too: wrong key usage, PAN-bound to format 1
                with pytest.raises(HsmError):
                    client.translate_pin_tpk(blocks["mac"], blocks["zpk"], block, 0, 0, PAN)
                with pytest.raises(HsmError):
                    client.translate_pin_tpk(blocks["tpk"], blocks["zpk"], block, 0, 1, PAN)
            client.generate_mac(blocks["mac"], b"data", "alg3", 8, 2)
            client.exchange("QQ", "garbage" + tpk.hex())
        hsm.flush_audit()
        dump = hsm.server.store.dump()
        lmk_repr = repr(hsm.server.lmk)
    text = (caplog.text + dump + lmk_repr).upper()
    assert "A6" in caplog.text  # the log did record commands and errors
    for secret in secrets + clear_blocks:
        assert secret.hex().upper() not in text
    assert "918273" not in text  # the 6-digit PIN, in any form


def test_test_lmk_load_binds_the_store(tmp_path: Path) -> None:
    store = Keystore(tmp_path / "t.db")
    assert load(store, None).check_value == "809D767E968BA245"
    assert lmk_block("P0", tdes_key(1)).startswith("SD0")
    with pytest.raises(KeystoreError):
        load(store, "a passphrase")
