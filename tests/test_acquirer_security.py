"""MAC verification of requests and MACs on responses; what the host keeps:
no PAN, PIN block or track data in its database or its logs; the schema's
migrations."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest
from acquirer_support import Harness, profile_card, running_host

from host_sim.acquirer.db import SCHEMA_VERSION, HostDb, SchemaError
from host_sim.acquirer.terminal_sim import SimCard
from protocols import iso8583
from protocols.iso8583_specs import PAYTERM_1987


def test_bad_or_missing_mac_is_63_and_nothing_is_posted(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(0)
        before = h.account(card.pan)["balance"]
        wire = bytearray(h.term.encode(h.term.financial("0200", "00", 700, card)))
        wire[-1] ^= 0x01
        reply = iso8583.decode(await h.send_wire(bytes(wire)), PAYTERM_1987)
        assert reply["39"] == "63" and "64" not in reply
        unsigned = iso8583.encode(h.term.financial("0200", "00", 700, card), PAYTERM_1987)
        reply = iso8583.decode(await h.send_wire(unsigned), PAYTERM_1987)
        assert reply["39"] == "63"
        # A byte changed before the MAC: the MAC no longer covers the message.
        good = bytearray(h.term.encode(h.term.financial("0200", "00", 700, card)))
        good[12] ^= 0x01
        reply = iso8583.decode(await h.send_wire(bytes(good)), PAYTERM_1987)
        assert reply["39"] in ("63", "30")
        assert h.account(card.pan)["balance"] == before
        assert h.sql("SELECT COUNT(*) FROM transactions") == [(0,)]

    async def main() -> None:
        async with running_host(tmp_path) as h:
            await scenario(h)

    asyncio.run(main())


def test_mac_in_field_128_when_a_secondary_bitmap_is_present(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(0)
        purchase = h.term.financial("0200", "00", 1_000, card)
        await h.send(purchase)
        wire = h.term.encode(h.term.reversal(purchase))  # field 90: secondary bitmap
        assert "128" in iso8583.decode(wire, PAYTERM_1987)
        raw = await h.send_wire(wire)
        reply = iso8583.decode(raw, PAYTERM_1987)
        assert reply["39"] == "00" and "128" in reply and "64" not in reply
        assert h.term.mac_ok(raw)

    async def main() -> None:
        async with running_host(tmp_path) as h:
            await scenario(h)

    asyncio.run(main())


def test_no_pan_pin_block_or_track_data_in_db_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secrets: list[str] = []

    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(0)
        msgs = [
            h.term.financial("0200", "00", 1_000, card, pin="1234"),
            h.term.financial("0200", "00", 1_000, card, pin="9876"),
            h.term.financial("0100", "00", 1_000, card),
        ]
        track = h.term.financial("0200", "00", 1_000, card)
        del track["2"], track["14"]
        track["35"] = card.pan + "=" + card.expiry + "2010000000000"
        msgs.append(track)
        for msg in msgs:
            await h.send(msg)
            secrets.extend(msg[k] for k in ("2", "35", "52") if k in msg)
        garbage = h.term.financial("0200", "00", 1_000, card, pin="1234")
        garbage["53"] = "FFFF" + garbage["53"][4:]
        secrets.append(garbage["52"])
        await h.send(garbage)
        await h.send(h.term.reversal(msgs[0]))

    async def main() -> None:
        async with running_host(tmp_path) as h:
            await scenario(h)
            dump = HostDb(h.db_path).dump()
            for secret in secrets:
                assert secret not in dump and secret.lower() not in dump
            assert SimCard.load_card(0).pan[-4:] in dump  # the last four are kept

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert logs  # the host did log its exchanges
    for secret in secrets:
        assert secret not in logs
    assert len(secrets) >= 6


def test_migrations_and_newer_schema_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    db = HostDb(path)
    assert db.schema_version == SCHEMA_VERSION
    key = db.pan_key
    db.close()
    again = HostDb(path)
    assert again.pan_key == key  # the PAN key survives a restart
    assert again.pan_ref("4761730000000011") != "4761730000000011"
    again.close()
    conn = sqlite3.connect(path)
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    assert mode == "wal"
    with pytest.raises(SchemaError):
        HostDb(path)


def test_local_security_gives_the_hsm_answers(tmp_path: Path) -> None:
    """The in-process implementation (for host-logic tests) against the HSM:
    the same requests get the same codes and the same tag 91."""
    from host_sim.acquirer.security_local import LocalSecurity

    async def main() -> None:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        async with (
            running_host(tmp_path / "a") as real,
            running_host(tmp_path / "b", security=LocalSecurity()) as local,
        ):
            card = SimCard.load_card(0)
            online_pin = profile_card("contact_online_pin")
            msgs = [
                real.term.financial("0200", "00", 1_000, card),
                real.term.financial("0100", "00", 2_000, card, pin="1234"),
                real.term.financial("0200", "00", 1_000, card, pin="9999"),
                real.term.financial("0200", "00", 500, online_pin, pin="1234", with_arqc=False),
                real.term.financial("0200", "00", 500, online_pin, pin="4321", with_arqc=False),
            ]
            for msg in msgs:
                a = await real.send(msg)
                b = await local.send(msg)
                assert (a["39"], a.get("55")) == (b["39"], b.get("55"))

    asyncio.run(main())


def test_an_hsm_that_never_answers_gives_91(tmp_path: Path) -> None:
    from host_sim.acquirer.security_hsm import HsmSecurity

    async def main() -> None:
        async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(-1)  # reads everything, answers nothing

        mute = await asyncio.start_server(swallow, "127.0.0.1", 0)
        port = mute.sockets[0].getsockname()[1]
        security = HsmSecurity("127.0.0.1", port, timeout=0.5)
        await security.connect()
        async with running_host(tmp_path, security=security) as h:
            card = SimCard.load_card(0)
            before = h.account(card.pan)["balance"]
            reply = await h.send(h.term.financial("0200", "00", 500, card))
            assert reply["39"] == "91" and "64" not in reply
            assert h.account(card.pan)["balance"] == before
        mute.close()

    asyncio.run(main())


def test_an_hsm_cluster_keeps_serving_past_a_dead_member(tmp_path: Path) -> None:
    from host_sim.acquirer.security_hsm import HsmSecurity
    from host_sim.acquirer.seed import KeyRefs
    from hsm_sim.keystore import Keystore
    from hsm_sim.lmk import Lmk
    from hsm_sim.server import HsmServer

    async def main() -> None:
        spare = HsmServer(Lmk.test(), Keystore())
        await spare.start()
        dead = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        dead_port = dead.sockets[0].getsockname()[1]
        dead.close()
        await dead.wait_closed()  # nothing listens there any more
        host, port = spare.address
        security = HsmSecurity(
            "127.0.0.1", dead_port, KeyRefs(Lmk.test()).zpk(), more=((host, port),)
        )
        await security.connect()  # one member down: still connects
        async with running_host(tmp_path, security=security) as h:
            card = SimCard.load_card(0)
            for pin in (None, "1234"):
                msg = h.term.financial("0200", "00", 500, card, pin=pin)
                assert (await h.send(msg))["39"] == "00"
        await spare.close()

    asyncio.run(main())


def test_a_failure_outside_the_handlers_is_still_answered_96(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        h.sql("ALTER TABLE terminals RENAME TO terminals_gone")
        msg = h.term.financial("0200", "00", 500, SimCard.load_card(0))
        reply = await h.send(msg)
        assert (reply["t"], reply["39"], reply["11"]) == ("0210", "96", msg["11"])
        echo = await h.send(h.term.echo())
        assert echo["39"] == "00"  # the connection still serves

    async def main() -> None:
        async with running_host(tmp_path) as h:
            await scenario(h)

    asyncio.run(main())


def test_a_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    from host_sim.acquirer.db import MIGRATIONS

    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO merchants (mid, name, mcc, city, country)"
        " VALUES ('M1', 'N', '5411', 'C', 'JO')"
    )
    conn.close()
    db = HostDb(path)
    try:
        assert db.schema_version == SCHEMA_VERSION == 3
        columns = [row[1] for row in db._db.execute("PRAGMA table_info(transactions)")]
        assert "cryptogram_ok" in columns and "completed_by" in columns
        assert db._db.execute("SELECT mid FROM merchants").fetchall() == [("M1",)]
    finally:
        db.close()
