"""End to end at the issuer side: a virtual card (host_sim.cards) computes an
ARQC in its first GENERATE AC; the acquirer host verifies it through the real
HSM server over TCP (KQ) and answers with tag 91; the card accepts that ARPC
(second GENERATE AC with CDOL2 tag 91, or EXTERNAL AUTHENTICATE) and gives a
TC.  A tampered ARQC is declined without tag 91."""

from __future__ import annotations

import asyncio
from pathlib import Path

from acquirer_support import Harness, running_host
from cards_terminal import Terminal

from host_sim.cards import load_profile
from protocols import apdu, tlv

ARQC, TC, AAC = 0x80, 0x40, 0x00
FIELD55_TAGS = (0x9F02, 0x9F03, 0x9F1A, 0x95, 0x5F2A, 0x9A, 0x9C, 0x9F37, 0x82)


def first_ac(name: str, amount: int) -> tuple[Terminal, dict[int, bytes]]:
    card = load_profile(name)
    card.power_on()
    term = Terminal(card)
    term.select_app(False)
    term.gpo()
    term.read_records()
    term.store[0x9F02] = bytes.fromhex(f"{amount:012d}")
    first, _cdol, sw = term.generate_ac(TC, 0x8C)
    assert sw == 0x9000 and first[0x9F27][0] & 0xC0 == ARQC
    return term, first


def request_for(h: Harness, term: Terminal, first: dict[int, bytes], amount: int) -> dict[str, str]:
    msg = h.term.base("0200", "00")
    store = term.store
    pan = store[0x5A].hex().upper().rstrip("F")
    nodes = [tlv.TLV(tag, store[tag]) for tag in FIELD55_TAGS]
    nodes += [tlv.TLV(tag, first[tag]) for tag in (0x9F36, 0x9F26, 0x9F27, 0x9F10)]
    msg.update(
        {
            "2": pan,
            "4": f"{amount:012d}",
            "14": store[0x5F24].hex()[:4],
            "23": "0" + store.get(0x5F34, b"\x00").hex(),
            "55": tlv.encode(nodes).hex().upper(),
            "60": h.term.batch,
        }
    )
    return msg


def issuer_auth_data(reply: dict[str, str]) -> bytes:
    return tlv.to_dict(tlv.decode(bytes.fromhex(reply["55"])))[0x91]


def test_cvn10_arpc_from_the_host_is_accepted_in_the_second_generate_ac(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        amount = 100_000  # above the card's offline limit: it asks to go online
        term, first = first_ac("contact_offline_pin", amount)
        reply = await h.send(request_for(h, term, first, amount))
        assert reply["39"] == "00"
        data = issuer_auth_data(reply)
        assert len(data) == 10 and data[8:] == b"00"  # ARPC method 1 ‖ ARC
        second, _cdol2, sw = term.generate_ac(TC, 0x8D, {0x91: data, 0x8A: b"00"})
        assert sw == 0x9000 and second[0x9F27][0] & 0xC0 == TC
        assert second[0x9F10][4] & 0x08 == 0  # CVR: issuer authentication did not fail

    async def main() -> None:
        async with running_host(tmp_path) as h:
            await scenario(h)

    asyncio.run(main())


def test_cvn16_arpc_passes_external_authenticate(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        amount = 12_500
        term, first = first_ac("contact_online_pin", amount)
        reply = await h.send(request_for(h, term, first, amount))
        assert reply["39"] == "00"
        data = issuer_auth_data(reply)
        assert term.send(apdu.external_authenticate(data))[1] == 0x9000
        second, _c2, _sw2 = term.generate_ac(TC, 0x8D, {0x8A: b"00"})
        assert second[0x9F27][0] & 0xC0 == TC

    async def main() -> None:
        async with running_host(tmp_path) as h:
            await scenario(h)

    asyncio.run(main())


def test_declined_arpc_makes_the_card_decline(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        amount = 100_000
        term, first = first_ac("contact_offline_pin", amount)
        pan = term.store[0x5A].hex().upper().rstrip("F")
        h.set_account(pan, balance=10)
        reply = await h.send(request_for(h, term, first, amount))
        assert reply["39"] == "51"
        data = issuer_auth_data(reply)
        assert data[8:] == b"51"
        second, _c2, _sw2 = term.generate_ac(TC, 0x8D, {0x91: data, 0x8A: b"51"})
        assert second[0x9F27][0] & 0xC0 == AAC
        assert second[0x9F10][4] & 0x08 == 0  # the ARPC itself was good

    async def main() -> None:
        async with running_host(tmp_path) as h:
            await scenario(h)

    asyncio.run(main())


def test_tampered_transaction_data_fails_the_arqc(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        amount = 100_000
        term, first = first_ac("contact_offline_pin", amount)
        msg = request_for(h, term, first, amount)
        term.store[0x9F37] = bytes.fromhex("00000001")  # not what the card MACed
        forged = request_for(h, term, first, amount)
        msg["55"] = forged["55"]
        reply = await h.send(msg)
        assert reply["39"] == "05" and "55" not in reply

    async def main() -> None:
        async with running_host(tmp_path) as h:
            await scenario(h)

    asyncio.run(main())
