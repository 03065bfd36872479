"""0100/0110 and 0200/0210 through the real HSM server over loopback TCP:
every response code path of host_sim/acquirer/authorisation.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from acquirer_support import Harness, profile_card, running_host

from host_sim.acquirer.codes import MEANING
from host_sim.acquirer.terminal_sim import SimCard, SimTerminal
from protocols import tlv

Scenario = Callable[[Harness], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario, **kwargs: int) -> None:
    async def main() -> None:
        async with running_host(tmp_path, **kwargs) as h:
            await scenario(h)

    asyncio.run(main())


def card0() -> SimCard:
    return SimCard.load_card(0)


def test_purchase_with_arqc_is_approved_posted_and_macd(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = card0()
        before = h.account(card.pan)["balance"]
        msg = h.term.financial("0200", "00", 12_500, card)
        raw = await h.send_wire(h.term.encode(msg))
        assert h.term.mac_ok(raw)
        from protocols import iso8583
        from protocols.iso8583_specs import PAYTERM_1987

        reply = iso8583.decode(raw, PAYTERM_1987)
        assert reply["t"] == "0210" and reply["39"] == "00"
        assert reply["11"] == msg["11"] and reply["41"] == msg["41"] and reply["4"] == msg["4"]
        assert len(reply["38"]) == 6 and len(reply["37"]) == 12
        auth_data = tlv.to_dict(tlv.decode(bytes.fromhex(reply["55"])))[0x91]
        assert len(auth_data) == 8 and auth_data[4:] == bytes.fromhex("00800000")  # CVN 18
        assert h.account(card.pan)["balance"] == before - 12_500
        rows = h.sql("SELECT mti, response_code, amount, status, rrn FROM transactions")
        assert rows == [("0200", "00", 12_500, "approved", reply["37"])]
        postings = h.sql("SELECT kind, amount, balance_after FROM postings")
        assert postings == [("purchase", -12_500, before - 12_500)]

    run(tmp_path, scenario)


def test_authorisation_holds_funds_and_balance_inquiry_reports_them(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = card0()
        before = h.account(card.pan)["balance"]
        reply = await h.send(h.term.financial("0100", "00", 7_000, card))
        assert (reply["t"], reply["39"]) == ("0110", "00") and "55" in reply
        reply = await h.send(h.term.financial("0200", "31", 0, card))
        assert reply["39"] == "00"
        assert reply["54"] == f"0002400C{before - 7_000:012d}"

    run(tmp_path, scenario)


def test_refund_credits_the_account(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = card0()
        before = h.account(card.pan)["balance"]
        reply = await h.send(h.term.financial("0200", "20", 3_000, card))
        assert reply["39"] == "00"
        assert h.account(card.pan)["balance"] == before + 3_000

    run(tmp_path, scenario)


@pytest.mark.parametrize(
    ("change", "amount", "code"),
    [
        ({"balance": 1_000}, 5_000, "51"),
        ({"per_txn_limit": 4_000}, 5_000, "61"),
        ({"daily_limit": 9_000, "spent_today": 6_000, "spent_day": "TODAY"}, 5_000, "61"),
        ({"status": "blocked"}, 5_000, "05"),
        ({"status": "lost"}, 5_000, "41"),
        ({"status": "stolen"}, 5_000, "43"),
        ({"expiry": "2001"}, 5_000, "54"),
        ({"allowed_processing": "20,31"}, 5_000, "57"),
    ],
)
def test_account_declines(
    tmp_path: Path, change: dict[str, object], amount: int, code: str
) -> None:
    async def scenario(h: Harness) -> None:
        import time

        card = card0()
        values = {
            k: (time.strftime("%Y%m%d", time.gmtime()) if v == "TODAY" else v)
            for k, v in change.items()
        }
        h.set_account(card.pan, **values)
        before = h.account(card.pan)["balance"]
        reply = await h.send(h.term.financial("0200", "00", amount, card))
        assert reply["39"] == code
        assert "38" not in reply
        assert reply["44"] == MEANING[code][:25]  # the reason in words
        assert h.account(card.pan)["balance"] == before  # nothing posted
        assert h.sql("SELECT status, response_code FROM transactions") == [("declined", code)]
        assert h.sql("SELECT COUNT(*) FROM postings") == [(0,)]

    run(tmp_path, scenario)


def test_a_decline_with_a_good_arqc_still_carries_the_arpc_of_the_decline(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = card0()
        h.set_account(card.pan, balance=10)
        reply = await h.send(h.term.financial("0200", "00", 5_000, card))
        assert reply["39"] == "51"
        auth_data = tlv.to_dict(tlv.decode(bytes.fromhex(reply["55"])))[0x91]
        assert auth_data[4:] == bytes(4)  # CSU without the approve bit

    run(tmp_path, scenario)


def test_expired_profile_card_and_request_expiry_mismatch(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        expired = profile_card("expired")
        msg = h.term.financial("0200", "00", 1_000, expired, with_arqc=False)
        assert (await h.send(msg))["39"] == "54"
        card = card0()
        card.expiry = "2912"  # the account says 3012
        assert (await h.send(h.term.financial("0200", "00", 1_000, card)))["39"] == "54"

    run(tmp_path, scenario)


def test_unknown_card_and_bad_luhn_are_14(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        unknown = SimCard("4111111111111111", "01", "3012")
        msg = h.term.financial("0200", "00", 1_000, unknown, with_arqc=False)
        assert (await h.send(msg))["39"] == "14"
        bad = SimCard("4761731000000002", "01", "3012")  # Luhn digit off by one
        msg = h.term.financial("0200", "00", 1_000, bad, with_arqc=False)
        assert (await h.send(msg))["39"] == "14"

    run(tmp_path, scenario)


def test_processing_codes_not_served_are_12(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        msg = h.term.financial("0200", "40", 1_000, card0(), with_arqc=False)
        assert (await h.send(msg))["39"] == "12"
        msg = h.term.financial("0100", "20", 1_000, card0(), with_arqc=False)
        assert (await h.send(msg))["39"] == "12"  # a refund is not authorised, it is financial

    run(tmp_path, scenario)


def test_wrong_arqc_is_05_and_amount_mismatch_is_13(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = card0()
        msg = h.term.financial("0200", "00", 2_000, card)
        nodes = tlv.decode(bytes.fromhex(msg["55"]))
        for node in nodes:
            if node.tag == 0x9F26:
                node._value = bytes([node.value[0] ^ 1]) + node.value[1:]
        msg["55"] = tlv.encode(nodes).hex().upper()
        reply = await h.send(msg)
        assert reply["39"] == "05" and "55" not in reply
        msg = h.term.financial("0200", "00", 2_000, card)
        msg["4"] = "000000002001"
        assert (await h.send(msg))["39"] == "13"

    run(tmp_path, scenario)


def test_online_pin_pvv_wrong_then_tries_exceeded(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = card0()
        assert (await h.send(h.term.financial("0200", "00", 500, card, pin="1234")))["39"] == "00"
        assert (await h.send(h.term.financial("0200", "00", 500, card, pin="4321")))["39"] == "55"
        assert h.account(card.pan)["pin_tries"] == 1
        assert (await h.send(h.term.financial("0200", "00", 500, card, pin="1234")))["39"] == "00"
        assert h.account(card.pan)["pin_tries"] == 0  # a right PIN resets the counter
        codes = []
        for _ in range(4):
            msg = h.term.financial("0200", "00", 500, card, pin="0000")
            codes.append((await h.send(msg))["39"])
        assert codes == ["55", "55", "75", "75"]
        msg = h.term.financial("0200", "00", 500, card, pin="1234")
        assert (await h.send(msg))["39"] == "75"  # even the right PIN, once blocked

    run(tmp_path, scenario)


def test_online_pin_ibm_offset_for_the_online_pin_card(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = profile_card("contact_online_pin")
        ok = h.term.financial("0200", "00", 500, card, pin="1234", with_arqc=False)
        assert (await h.send(ok))["39"] == "00"
        bad = h.term.financial("0200", "00", 500, card, pin="1235", with_arqc=False)
        assert (await h.send(bad))["39"] == "55"

    run(tmp_path, scenario)


def test_format_errors_are_answered_30(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        msg = h.term.financial("0200", "00", 500, card0())
        msg["55"] = "9F2603AABB"  # BER-TLV length beyond the value
        assert (await h.send(msg))["39"] == "30"
        msg = h.term.financial("0200", "00", 500, card0())
        del msg["49"]
        assert (await h.send(msg))["39"] == "30"
        msg = h.term.financial("0200", "00", 500, card0())
        msg["55"] = msg["55"].replace("9F0206000000000500", "9F02060000000005AA")
        assert (await h.send(msg))["39"] == "30"  # 9F02 not BCD
        msg = h.term.financial("0200", "00", 500, card0(), pin="1234")
        msg["53"] = "0102" + msg["53"][4:]  # TDES DUKPT named, AES block sent
        assert (await h.send(msg))["39"] == "30"
        ok = await h.send(h.term.financial("0200", "00", 500, card0()))
        assert ok["39"] == "00"  # and the connection keeps serving

    run(tmp_path, scenario)


def test_unknown_or_suspended_terminal_and_wrong_merchant(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        stranger = SimTerminal(99)  # not seeded
        msg = stranger.financial("0200", "00", 500, card0())
        assert (await h.send(msg, stranger))["39"] == "03"
        msg = h.term.financial("0200", "00", 500, card0())
        msg["42"] = "000000000999999"
        assert (await h.send(msg))["39"] == "03"
        h.sql("UPDATE terminals SET status = 'suspended' WHERE tid = ?", (h.term.tid,))
        assert (await h.send(h.term.financial("0200", "00", 500, card0())))["39"] == "58"

    run(tmp_path, scenario)


def test_hsm_down_is_91_and_nothing_is_posted(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = card0()
        before = h.account(card.pan)["balance"]
        await h.hsm.close()
        await h.service.security.close()  # type: ignore[attr-defined]
        reply = await h.send(h.term.financial("0200", "00", 500, card))
        assert reply["39"] == "91"
        assert h.account(card.pan)["balance"] == before

    run(tmp_path, scenario)


def test_database_failure_is_96_and_rolls_back(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        card = card0()
        before = h.account(card.pan)["balance"]
        # Make the posting fail inside the commit: the transaction row written
        # just before it in the same SQLite transaction must vanish too.
        h.sql(
            "CREATE TRIGGER no_postings BEFORE INSERT ON postings "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
        reply = await h.send(h.term.financial("0200", "00", 500, card))
        assert reply["39"] == "96" and "38" not in reply and "55" not in reply
        assert h.account(card.pan)["balance"] == before
        assert h.sql("SELECT COUNT(*) FROM transactions") == [(0,)]
        h.sql("DROP TRIGGER no_postings")
        assert (await h.send(h.term.financial("0200", "00", 500, card)))["39"] == "00"

    run(tmp_path, scenario)


def test_auth_codes_are_six_uniform_characters_of_the_alphabet() -> None:
    """One CSPRNG draw per code written in base 34: every character of the
    alphabet turns up in every position, nothing else ever does, and codes
    do not repeat in a few thousand."""
    from host_sim.acquirer.context import AUTH_CODE_ALPHABET, HostContext

    codes_seen = [HostContext.new_auth_code() for _ in range(4000)]
    assert all(len(code) == 6 for code in codes_seen)
    for position in range(6):
        assert {code[position] for code in codes_seen} == set(AUTH_CODE_ALPHABET)
    assert len(set(codes_seen)) > 3990  # 34**6 ≈ 1.5e9: collisions are rare
