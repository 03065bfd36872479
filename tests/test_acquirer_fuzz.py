"""Mutated requests, re-MACed by the terminal so they get past the MAC check
and into the handlers: the host answers every one whose MTI it can read with
a well-formed response of the right type — never 96 (an unexpected
exception) — and closes only connections whose MTI is unreadable."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from acquirer_support import running_host

from host_sim.acquirer.terminal_sim import Link, SimCard
from protocols import iso8583
from protocols.errors import DecodeError
from protocols.iso8583_specs import PAYTERM_1987

CASES = 300


def mutate(rng: random.Random, wire: bytes) -> bytes:
    data = bytearray(wire[:-8])
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        pos = rng.randrange(2, len(data))  # keep the MTI readable
        if choice < 0.6:
            data[pos] = rng.randrange(256)
        elif choice < 0.8:
            del data[pos : pos + rng.randint(1, 6)]
        else:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
    return bytes(data)


def test_mutated_requests_are_answered_never_96(tmp_path: Path) -> None:
    async def main() -> None:
        rng = random.Random(7)
        async with running_host(tmp_path) as h:
            link = h.link
            card = SimCard.load_card(0)
            codes: dict[str, int] = {}
            for _ in range(CASES):
                kind = rng.choice(["0100", "0200", "0220", "0420", "0500"])
                if kind == "0420":
                    msg = h.term.reversal(h.term.financial("0200", "00", 100, card))
                elif kind == "0500":
                    msg = h.term.settlement("0" * 30)
                else:
                    pin = "1234" if rng.random() < 0.3 else None
                    msg = h.term.financial(kind, "00", rng.randrange(1, 9999), card, pin=pin)
                    if kind == "0220":
                        msg["38"] = "Y1    "
                body = mutate(rng, h.term.encode(msg))
                assert h.term.last_ksn is not None  # the seeded terminals MAC under DUKPT
                wire = body + h.term.cmac(body, h.term.dukpt_mac_key(h.term.last_ksn))
                raw = await link.send_raw(wire, timeout=10)
                try:
                    request_mti = iso8583.decode(wire, PAYTERM_1987)["t"]
                except DecodeError:
                    request_mti = wire[:2].hex()
                reply = iso8583.decode(raw, PAYTERM_1987)
                code = reply["39"]
                codes[code] = codes.get(code, 0) + 1
                assert code != "96", (wire.hex(), reply)
                base = request_mti[:3] + "0"
                assert reply["t"] == base[:2] + str(int(base[2]) + 1) + "0"
            # The mutations reach past decoding: 30 mostly, then 00, 03, 05,
            # 13, 14, 63 (field 53's KSN hit), 95 with this seed.
            assert len(codes) >= 5
            # And the host still serves a clean request on the same connection.
            clean = h.term.financial("0200", "00", 100, card)
            assert (
                iso8583.decode(await link.send_raw(h.term.encode(clean)), PAYTERM_1987)["39"]
                == "00"
            )
            assert isinstance(link, Link)

    asyncio.run(main())
