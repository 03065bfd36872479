"""0500/0510 batch close: the host's totals against the terminal's (field 63),
in balance → 00 and the next batch opens; out of balance → 95."""

from __future__ import annotations

import asyncio
from pathlib import Path

from acquirer_support import Harness, running_host

from host_sim.acquirer.settlement import format_totals, next_batch, parse_totals
from host_sim.acquirer.terminal_sim import SimCard


def test_totals_format_round_trip() -> None:
    assert format_totals((3, 12_500, 1, 700)) == "003000000012500001000000000700"
    assert parse_totals("003000000012500001000000000700") == (3, 12_500, 1, 700)
    assert next_batch("000041") == "000042" and next_batch("999999") == "000001"


def test_batch_close_reconciles_sales_refunds_advices_and_reversals(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(0)
        t = h.term
        sales = [t.financial("0200", "00", amount, card) for amount in (1_000, 2_000, 4_000)]
        for msg in sales:
            assert (await h.send(msg))["39"] == "00"
        assert (await h.send(t.financial("0200", "20", 500, card)))["39"] == "00"
        advice = t.financial("0220", "00", 300, card)
        advice["38"] = "Y1    "
        assert (await h.send(advice))["39"] == "00"
        assert (await h.send(t.financial("0100", "00", 9_999, card)))["39"] == "00"  # no batch
        assert (await h.send(t.financial("0200", "31", 0, card)))["39"] == "00"  # no batch
        assert (await h.send(t.reversal(sales[1])))["39"] == "00"
        h.set_account(card.pan, balance=0)
        assert (await h.send(t.financial("0200", "00", 50, card)))["39"] == "51"  # declined
        # Standing: sales 1.000 + 4.000 + advice 300 = 3 for 5.300; refunds 1 for 500.
        wrong = await h.send(t.settlement(format_totals((3, 5_301, 1, 500))))
        assert (wrong["t"], wrong["39"], wrong["60"]) == ("0510", "95", "000001")
        assert h.sql("SELECT batch_number FROM terminals WHERE tid = ?", (t.tid,)) == [("000001",)]
        right = await h.send(t.settlement(format_totals((3, 5_300, 1, 500))))
        assert (right["39"], right["60"]) == ("00", "000001")
        assert h.sql("SELECT batch_number FROM terminals WHERE tid = ?", (t.tid,)) == [("000002",)]
        closed = h.sql(
            "SELECT response_code, sales_count, sales_amount FROM batches ORDER BY closed"
        )
        assert closed == [("95", 3, 5_300), ("00", 3, 5_300)]
        # The closed batch settles again to 00 (a repeat), the new one is empty.
        assert (await h.send(t.settlement(format_totals((3, 5_300, 1, 500)))))["39"] == "00"
        t.batch = "000002"
        assert (await h.send(t.settlement(format_totals((0, 0, 0, 0)))))["39"] == "00"
        bad = t.settlement("not totals")
        assert (await h.send(bad))["39"] == "30"

    async def main() -> None:
        async with running_host(tmp_path) as h:
            await scenario(h)

    asyncio.run(main())


def test_rrns_stay_unique_across_a_restart(tmp_path: Path) -> None:
    """Settlements take RRNs without a transaction row; a restarted host must
    not hand out an RRN a stored transaction already has."""

    async def first() -> None:
        async with running_host(tmp_path) as h:
            card = SimCard.load_card(0)
            for _ in range(3):
                await h.send(h.term.settlement(format_totals((0, 0, 0, 0))))
                assert (await h.send(h.term.financial("0200", "00", 100, card)))["39"] == "00"

    async def second() -> None:
        from host_sim.acquirer.service import HostService
        from host_sim.acquirer.terminal_sim import Link, SimTerminal
        from hsm_sim.keystore import Keystore
        from hsm_sim.lmk import Lmk
        from hsm_sim.server import HsmServer
        from protocols import iso8583
        from protocols.iso8583_specs import PAYTERM_1987

        hsm = HsmServer(Lmk.test(), Keystore())
        await hsm.start()
        service = await HostService.start(tmp_path / "host.db", *hsm.address)
        link = await Link.open("127.0.0.1", service.port)
        term = SimTerminal(1)
        term.stan = 500
        try:
            for _ in range(3):
                msg = term.financial("0200", "00", 100, SimCard.load_card(0))
                reply = iso8583.decode(await link.send_raw(term.encode(msg)), PAYTERM_1987)
                assert reply["39"] == "00"
        finally:
            await link.close()
            await service.close()
            await hsm.close()

    asyncio.run(first())
    asyncio.run(second())
