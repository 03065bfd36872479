"""Completion of a pre-authorisation (0220 with field 90 naming the 0100,
host_sim/acquirer/completion.py), through the real host and the real HSM
server over loopback TCP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from acquirer_support import Harness, running_host, same_answer

from host_sim.acquirer import completion
from host_sim.acquirer.terminal_sim import SimCard
from protocols import iso8583
from protocols.iso8583_specs import PAYTERM_1987

Scenario = Callable[[Harness], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario) -> None:
    async def main() -> None:
        async with running_host(tmp_path) as h:
            await scenario(h)

    asyncio.run(main())


async def hold(h: Harness, card: SimCard, amount: int) -> tuple[dict[str, str], str]:
    preauth = h.term.financial("0100", "00", amount, card)
    reply = await h.send(preauth)
    assert (reply["t"], reply["39"]) == ("0110", "00")
    return preauth, reply["38"]


def test_completion_posts_the_final_amount_and_releases_the_rest(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(0)
        before = h.account(card.pan)["balance"]
        preauth, auth_code = await hold(h, card, 50_000)
        assert h.account(card.pan)["balance"] == before - 50_000
        msg = h.term.completion(preauth, 42_500, auth_code)
        reply = await h.send(msg)
        assert (reply["t"], reply["39"]) == ("0230", "00")
        assert reply["90"] == msg["90"] and "128" in reply
        assert h.account(card.pan)["balance"] == before - 42_500
        assert h.sql("SELECT kind, amount FROM postings ORDER BY id") == [
            ("hold", -50_000),
            ("hold release", 50_000),
            ("completion", -42_500),
        ]
        ((completed_by,),) = h.sql("SELECT completed_by FROM transactions WHERE mti = '0100'")
        assert h.sql(
            "SELECT mti, amount, status FROM transactions WHERE id = ?", (completed_by,)
        ) == [("0220", 42_500, "approved")]
        # the batch counts the completion as a sale of the final amount, never the hold
        close = await h.send(h.term.settlement(f"001{42_500:012d}000{0:012d}"))
        assert close["39"] == "00"

    run(tmp_path, scenario)


def test_a_repeated_completion_gets_the_first_answer_and_a_second_one_is_refused(
    tmp_path: Path,
) -> None:
    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(1)
        before = h.account(card.pan)["balance"]
        preauth, auth_code = await hold(h, card, 20_000)
        msg = h.term.completion(preauth, 15_000, auth_code)
        first, again, repeat = await h.tries(msg, msg, dict(msg, t="0221"))
        assert same_answer(first, again, repeat)
        assert iso8583.decode(first, PAYTERM_1987)["39"] == "00"
        # another completion (a new STAN) of the same pre-authorisation
        second = await h.send(h.term.completion(preauth, 15_000, auth_code))
        assert (second["t"], second["39"]) == ("0230", "94")
        # a reversal of the completed 0100 gives nothing back: the hold is gone
        assert (await h.send(h.term.reversal(preauth, advice=False)))["39"] == "00"
        assert h.account(card.pan)["balance"] == before - 15_000
        assert h.sql("SELECT COUNT(*) FROM postings WHERE kind = 'completion'") == [(1,)]
        # the completion itself is what a void reverses
        assert (await h.send(h.term.reversal(msg, advice=False)))["39"] == "00"
        assert h.account(card.pan)["balance"] == before

    run(tmp_path, scenario)


def test_completion_amount_tolerance_and_unknown_or_released_holds(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(0)
        before = h.account(card.pan)["balance"]
        preauth, auth_code = await hold(h, card, 10_000)
        over = completion.ceiling(10_000) + 1
        assert over == 11_501
        reply = await h.send(h.term.completion(preauth, over, auth_code))
        assert reply["39"] == "13"
        assert (await h.send(h.term.completion(preauth, 0, auth_code)))["39"] == "13"
        assert h.account(card.pan)["balance"] == before - 10_000  # refused: the hold stands
        # within the tolerance: the part over the hold is debited too
        assert (await h.send(h.term.completion(preauth, 11_500, auth_code)))["39"] == "00"
        assert h.account(card.pan)["balance"] == before - 11_500

        # a hold already released by a reversal cannot be completed
        released, code = await hold(h, card, 5_000)
        assert (await h.send(h.term.reversal(released, advice=False)))["39"] == "00"
        assert (await h.send(h.term.completion(released, 5_000, code)))["39"] == "12"
        # a sale is no hold
        sale = h.term.financial("0200", "00", 1_000, card)
        assert (await h.send(sale))["39"] == "00"
        assert (await h.send(h.term.completion(sale, 1_000, "000000")))["39"] == "12"
        # an 0100 this terminal never sent
        ghost = dict(preauth, **{"11": "999999"})
        assert (await h.send(h.term.completion(ghost, 1_000, auth_code)))["39"] == "25"
        assert h.account(card.pan)["balance"] == before - 11_500 - 1_000
        refused = h.sql(
            "SELECT response_code FROM transactions WHERE mti = '0220' AND status = 'declined'"
            " ORDER BY id"
        )
        assert refused == [("13",), ("13",), ("12",), ("12",), ("25",)]

    run(tmp_path, scenario)


def test_the_part_over_the_hold_must_fit_the_balance(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = SimCard.load_card(0)
        h.set_account(card.pan, balance=10_500)
        preauth, auth_code = await hold(h, card, 10_000)
        assert (await h.send(h.term.completion(preauth, 11_000, auth_code)))["39"] == "51"
        assert (await h.send(h.term.completion(preauth, 10_500, auth_code)))["39"] == "00"
        assert h.account(card.pan)["balance"] == 0

    run(tmp_path, scenario)


def test_concurrent_completions_of_one_hold_post_once(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        from host_sim.acquirer.terminal_sim import Link

        card = SimCard.load_card(1)
        before = h.account(card.pan)["balance"]
        preauth, auth_code = await hold(h, card, 30_000)
        first = h.term.completion(preauth, 25_000, auth_code)
        second = h.term.completion(preauth, 20_000, auth_code)
        other = await Link.open("127.0.0.1", h.service.port)
        try:
            a, b = await asyncio.gather(
                h.send_wire(h.term.encode(first)),
                other.send_raw(h.term.encode(second), timeout=10),
            )
        finally:
            await other.close()
        codes = sorted(iso8583.decode(w, PAYTERM_1987)["39"] for w in (a, b))
        assert codes == ["00", "94"]
        final = 25_000 if iso8583.decode(a, PAYTERM_1987)["39"] == "00" else 20_000
        assert h.account(card.pan)["balance"] == before - final

    run(tmp_path, scenario)
