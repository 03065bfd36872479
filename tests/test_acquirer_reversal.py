"""Reversals (0400/0410, 0420/0430), advices (0220/0230) and duplicate
requests, through the real HSM server over loopback TCP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from acquirer_support import Harness, running_host, same_answer

from host_sim.acquirer.terminal_sim import SimCard
from protocols import iso8583
from protocols.iso8583_specs import PAYTERM_1987

Scenario = Callable[[Harness], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario) -> None:
    async def main() -> None:
        async with running_host(tmp_path) as h:
            await scenario(h)

    asyncio.run(main())


def test_reversal_gives_the_money_back_once(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(0)
        before = h.account(card.pan)["balance"]
        purchase = h.term.financial("0200", "00", 9_000, card)
        assert (await h.send(purchase))["39"] == "00"
        assert h.account(card.pan)["balance"] == before - 9_000
        reply = await h.send(h.term.reversal(purchase, advice=False))
        assert (reply["t"], reply["39"]) == ("0410", "00")
        assert reply["90"] == purchase["t"] + purchase["11"] + purchase["7"] + "0" * 22
        assert h.account(card.pan)["balance"] == before
        # A second reversal of the same original (new STAN, both message types):
        for advice in (False, True):
            reply = await h.send(h.term.reversal(purchase, advice=advice))
            assert reply["39"] == "00"
        assert h.account(card.pan)["balance"] == before
        assert h.sql("SELECT status, reversed_amount FROM transactions WHERE mti = '0200'") == [
            ("reversed", 9_000)
        ]
        kinds = h.sql("SELECT kind, amount FROM postings ORDER BY id")
        assert kinds == [("purchase", -9_000), ("reversal", 9_000)]

    run(tmp_path, scenario)


def test_repeated_reversal_advice_gets_the_first_answer_byte_for_byte(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(1)
        purchase = h.term.financial("0200", "00", 4_000, card)
        await h.send(purchase)
        advice = h.term.reversal(purchase)
        first, again, repeat = await h.tries(advice, advice, dict(advice, t="0421"))
        # each try under its own KSN: the first answer, re-MACed under the try's
        assert same_answer(first, again, repeat)
        assert len({first[-8:], again[-8:], repeat[-8:]}) == 3
        assert iso8583.decode(first, PAYTERM_1987)["t"] == "0430"
        assert h.sql("SELECT COUNT(*) FROM postings WHERE kind = 'reversal'") == [(1,)]

    run(tmp_path, scenario)


def test_partial_reversal_with_replacement_amounts(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(0)
        before = h.account(card.pan)["balance"]
        purchase = h.term.financial("0200", "00", 10_000, card)
        await h.send(purchase)
        partial = h.term.reversal(purchase)
        partial["95"] = f"{6_000:012d}{6_000:012d}C00000000C00000000"
        assert (await h.send(partial))["39"] == "00"
        assert h.account(card.pan)["balance"] == before - 6_000
        again = h.term.reversal(purchase)
        again["95"] = partial["95"]
        assert (await h.send(again))["39"] == "00"  # idempotent: already at 6.000
        assert h.account(card.pan)["balance"] == before - 6_000
        assert h.sql("SELECT status FROM transactions WHERE mti = '0200'") == [("approved",)]

    run(tmp_path, scenario)


def test_reversals_of_unknown_declined_and_refund_originals(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(0)
        before = h.account(card.pan)["balance"]
        never_sent = h.term.financial("0200", "00", 1_000, card)
        assert (await h.send(h.term.reversal(never_sent, advice=False)))["39"] == "25"
        assert (await h.send(h.term.reversal(never_sent, advice=True)))["39"] == "00"
        h.set_account(card.pan, balance=500)
        declined = h.term.financial("0200", "00", 1_000, card)
        assert (await h.send(declined))["39"] == "51"
        assert (await h.send(h.term.reversal(declined)))["39"] == "00"
        assert h.account(card.pan)["balance"] == 500
        h.set_account(card.pan, balance=before)
        refund = h.term.financial("0200", "20", 2_500, card)
        assert (await h.send(refund))["39"] == "00"
        assert h.account(card.pan)["balance"] == before + 2_500
        assert (await h.send(h.term.reversal(refund)))["39"] == "00"
        assert h.account(card.pan)["balance"] == before
        hold = h.term.financial("0100", "00", 3_000, card)
        assert (await h.send(hold))["39"] == "00"
        assert (await h.send(h.term.reversal(hold)))["39"] == "00"
        assert h.account(card.pan)["balance"] == before
        bad = h.term.reversal(hold)
        del bad["90"]
        assert (await h.send(bad))["39"] == "30"

    run(tmp_path, scenario)


def test_offline_advice_is_posted_even_past_the_balance_and_once(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(2)
        h.set_account(card.pan, balance=1_000)
        advice = h.term.financial("0220", "00", 5_000, card)
        advice["38"] = "Y1    "
        (first,) = await h.tries(advice)
        reply = iso8583.decode(first, PAYTERM_1987)
        assert (reply["t"], reply["39"]) == ("0230", "00") and len(reply["37"]) == 12
        assert h.account(card.pan)["balance"] == -4_000
        (repeat,) = await h.tries(dict(advice, t="0221"))
        assert same_answer(repeat, first)
        assert h.account(card.pan)["balance"] == -4_000
        rows = h.sql("SELECT mti, status, auth_code, cryptogram_ok FROM transactions")
        assert rows == [("0220", "advice", "Y1", 1)]  # the card's cryptogram verified
        stranger = SimCard("4111111111111111", "01", "3012")
        unknown = h.term.financial("0220", "00", 100, stranger, with_arqc=False)
        unknown["38"] = "Y3    "
        assert (await h.send(unknown))["39"] == "14"

    run(tmp_path, scenario)


def test_duplicate_request_answers_the_first_response_and_posts_once(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(3)
        before = h.account(card.pan)["balance"]
        msg = h.term.financial("0200", "00", 2_000, card, pin="1234")
        wire = h.term.encode(msg)
        first = await h.send_wire(wire)
        second = await h.send_wire(wire)
        assert first == second
        assert h.account(card.pan)["balance"] == before - 2_000
        # Same terminal, STAN and transmission time, other content: 94.
        other = dict(msg, **{"4": "000000002001"})
        reply = await h.send(other)
        assert reply["39"] == "94"
        assert h.account(card.pan)["balance"] == before - 2_000
        assert h.sql("SELECT COUNT(*) FROM transactions") == [(1,)]

    run(tmp_path, scenario)


def test_twins_in_flight_on_two_connections_post_once(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        from host_sim.acquirer.terminal_sim import Link

        card = SimCard.load_card(0)
        before = h.account(card.pan)["balance"]
        wire = h.term.encode(h.term.financial("0200", "00", 1_500, card))
        other = await Link.open("127.0.0.1", h.service.port)
        try:
            a, b = await asyncio.gather(h.link.send_raw(wire), other.send_raw(wire))
        finally:
            await other.close()
        assert a == b
        assert h.account(card.pan)["balance"] == before - 1_500

    run(tmp_path, scenario)


def test_advice_with_a_forged_cryptogram_is_posted_and_flagged(tmp_path: Path) -> None:
    from protocols import tlv

    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(1)
        before = h.account(card.pan)["balance"]
        advice = h.term.financial("0220", "00", 700, card)
        advice["38"] = "Y3    "
        nodes = tlv.decode(bytes.fromhex(advice["55"]))
        for node in nodes:
            if node.tag == 0x9F26:
                node._value = bytes(8)
        advice["55"] = tlv.encode(nodes).hex().upper()
        assert (await h.send(advice))["39"] == "00"  # an advice cannot be refused
        assert h.account(card.pan)["balance"] == before - 700
        assert h.sql("SELECT cryptogram_ok FROM transactions") == [(0,)]
        plain = h.term.financial("0220", "00", 100, card, with_arqc=False)
        plain["38"] = "Y1    "
        assert (await h.send(plain))["39"] == "00"
        assert h.sql("SELECT cryptogram_ok FROM transactions ORDER BY id") == [(0,), (None,)]

    run(tmp_path, scenario)
