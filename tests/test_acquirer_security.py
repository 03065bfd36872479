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
from host_sim.acquirer.terminal_sim import SimCard, SimTerminal
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


def _macd(term: SimTerminal, msg: dict[str, str], ksn: bytes, key: bytes | None = None) -> bytes:
    """``msg`` with field 53 naming ``ksn`` and MACed under ``key`` (default:
    the MAC generation key of ``ksn`` under the terminal's initial key)."""
    doc = dict(msg, **{"53": "FF02" + ksn.hex().upper(), "64": "00" * 8})
    body = iso8583.encode(doc, PAYTERM_1987)[:-8]
    return body + term.cmac(body, key if key is not None else term.dukpt_mac_key(ksn))


def test_dukpt_mac_request_and_answer_under_the_requests_ksn(tmp_path: Path) -> None:
    """A seeded terminal (scheme dukpt) MACs under the AES DUKPT MAC key of
    the KSN it names in field 53 (FF 02 + KSN): the host verifies it (GY)
    and MACs the answer under the same KSN's key (GW); a PIN request's MAC
    is under the PIN's KSN."""

    async def scenario(h: Harness) -> None:
        assert h.sql("SELECT DISTINCT mac_scheme FROM terminals") == [("dukpt",)]
        card = SimCard.load_card(0)
        msg = h.term.financial("0200", "00", 700, card)
        wire = h.term.encode(msg)
        sent = iso8583.decode(wire, PAYTERM_1987)
        ksn = h.term.last_ksn
        assert ksn is not None and sent["53"] == "FF02" + ksn.hex().upper()
        raw = await h.send_wire(wire)
        reply = iso8583.decode(raw, PAYTERM_1987)
        assert reply["39"] == "00" and "53" not in reply
        key = h.term.dukpt_mac_key(ksn)
        assert raw[-8:] == h.term.cmac(raw[:-8], key)
        assert raw[-8:] != h.term.cmac(raw[:-8])  # not the static key's
        # the next request has the next KSN; a PIN request MACs under its PIN's KSN
        pin = h.term.financial("0200", "00", 800, card, pin="1234")
        pin_ksn = bytes.fromhex(pin["53"])[2:]
        assert int.from_bytes(pin_ksn[8:], "big") > int.from_bytes(ksn[8:], "big")
        raw = await h.send_wire(h.term.encode(pin))
        assert iso8583.decode(raw, PAYTERM_1987)["39"] == "00"
        assert h.term.last_ksn == pin_ksn and h.term.mac_ok(raw, pin_ksn)

    async def main() -> None:
        async with running_host(tmp_path) as h:
            await scenario(h)

    asyncio.run(main())


def test_dukpt_wrong_mac_or_ksn_is_63_unmaced_and_nothing_is_posted(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(0)
        before = h.account(card.pan)["balance"]
        term = h.term
        ksn = term.dukpt.ksn()
        other = SimTerminal(2)  # another terminal under the same BDK
        cases = {
            "wrong MAC": _macd(term, term.financial("0200", "00", 700, card), ksn, bytes(16)),
            # right MAC for the KSN, but field 53 names another terminal's key
            "other terminal's KSN": _macd(
                term, term.financial("0200", "00", 700, card), other.dukpt.ksn(),
                other.dukpt_mac_key(other.dukpt.ksn()),
            ),
            "counter 0": _macd(
                term, term.financial("0200", "00", 700, card), ksn[:8] + bytes(4), bytes(16)
            ),
            "17 one-bits": _macd(
                term, term.financial("0200", "00", 700, card), ksn[:8] + b"\x00\x01\xff\xff",
                bytes(16),
            ),
            "TDES scheme": _macd(term, term.financial("0200", "00", 700, card), ksn).replace(
                b"\xff\x02" + ksn, b"\xff\x01" + ksn
            ),
        }  # fmt: skip
        # a MAC under the static key without field 53
        static = SimTerminal(1, mac_scheme="static")
        static.stan = 500
        cases["static MAC, no 53"] = static.encode(static.financial("0200", "00", 700, card))
        for name, wire in cases.items():
            reply = iso8583.decode(await h.send_wire(wire), PAYTERM_1987)
            assert reply["39"] == "63" and "64" not in reply, name
        # a KSN the MAC was not made under: 63 too
        moved = bytearray(_macd(term, term.financial("0200", "00", 700, card), ksn))
        at = bytes(moved).index(ksn)
        moved[at + 11] ^= 0x02  # counter 1 -> 3, still valid, not the MAC's
        reply = iso8583.decode(await h.send_wire(bytes(moved)), PAYTERM_1987)
        assert reply["39"] == "63"
        assert h.account(card.pan)["balance"] == before
        assert h.sql("SELECT COUNT(*) FROM transactions") == [(0,)]
        # and the terminal's next good request goes through
        assert (await h.send(term.financial("0200", "00", 700, card)))["39"] == "00"

    async def main() -> None:
        async with running_host(tmp_path) as h:
            await scenario(h)

    asyncio.run(main())


def test_a_replayed_dukpt_request_is_answered_as_a_duplicate(tmp_path: Path) -> None:
    """The same bytes again (a captured request replayed, KSN and all): the
    duplicate gate answers with the first answer and posts nothing more (a
    KSN the MAC was not made under is 63: the test above)."""

    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(0)
        wire = h.term.encode(h.term.financial("0200", "00", 1_500, card))
        first = await h.send_wire(wire)
        again = await h.send_wire(wire)
        assert first == again and iso8583.decode(first, PAYTERM_1987)["39"] == "00"
        rows = h.sql("SELECT kind FROM postings")
        assert rows == [("purchase",)]

    async def main() -> None:
        async with running_host(tmp_path) as h:
            await scenario(h)

    asyncio.run(main())


def test_static_scheme_terminals_keep_working(tmp_path: Path) -> None:
    """A terminal configured ``static`` MACs under its own AES-CMAC key (no
    field 53 needed) and gets its repeats' answers byte for byte; a DUKPT
    MAC from it is refused."""

    async def scenario(h: Harness) -> None:
        h.sql("UPDATE terminals SET mac_scheme = 'static' WHERE tid = 'PT000002'")
        term = SimTerminal(2, mac_scheme="static")
        card = SimCard.load_card(1)
        purchase = term.financial("0200", "00", 2_000, card)
        wire = term.encode(purchase)
        assert "53" not in iso8583.decode(wire, PAYTERM_1987)
        raw = await h.send_wire(wire)
        assert iso8583.decode(raw, PAYTERM_1987)["39"] == "00" and term.mac_ok(raw)
        advice = term.reversal(purchase)
        first = await h.send_wire(term.encode(advice))
        repeat = await h.send_wire(term.encode(dict(advice, t="0421")))
        assert first == repeat and term.mac_ok(first)
        pin = term.financial("0200", "00", 300, card, pin="1234")
        raw = await h.send_wire(term.encode(pin))
        assert iso8583.decode(raw, PAYTERM_1987)["39"] == "00" and term.mac_ok(raw)
        dukpt = SimTerminal(2)
        dukpt.stan = 100
        reply = await h.send(dukpt.financial("0200", "00", 300, card), dukpt)
        assert reply["39"] == "63"

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
    conn.execute("INSERT INTO terminals (tid, mid) VALUES ('T1', 'M1')")
    conn.close()
    db = HostDb(path)
    try:
        assert db.schema_version == SCHEMA_VERSION == 4
        columns = [row[1] for row in db._db.execute("PRAGMA table_info(transactions)")]
        assert "cryptogram_ok" in columns and "completed_by" in columns
        terminal = db.terminal("T1")  # written before version 4: stays static
        assert terminal is not None and terminal.mac_scheme == "static"
        assert db._db.execute("SELECT mid FROM merchants").fetchall() == [("M1",)]
    finally:
        db.close()
