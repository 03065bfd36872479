"""``payterm host load``: N simulated terminals against a running host.

Each terminal is one asyncio task with its own TCP connection, its own
cards (``cards`` synthetic CVN 18 cards per terminal, seeded by
``payterm host seed --load-cards``), its MAC key and DUKPT registers.  It
sends one request, waits for the answer, checks the answer's MAC, and sends
the next (as a real terminal does).  The requests are prepared before the
clock starts (``prepare``: ARQCs, PIN blocks, MACs), so during the run a
terminal only sends, receives, decodes and checks.  The mix, per request
drawn at random (seeded, so runs repeat):

| share | message |
|---|---|
| 55 % | 0200 purchase with an ARQC (field 55) |
| 20 % | 0100 authorisation with an ARQC |
| 10 % | 0200 purchase with an ARQC and an online PIN (AES DUKPT, format 4) |
| 10 % | 0420 reversal of this terminal's last approved 0200 |
| 5 % | 0800 echo test |

Reported (JSON): messages and messages per second, authorisations with
ARQC verification and their rate (0100 and 0200 answered 00 with tag 91),
latency percentiles p50/p95/p99 over all exchanges and over the ARQC
authorisations alone, response codes, MAC failures and errors.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

from host_sim.acquirer.terminal_sim import FastLink, SimCard, SimTerminal
from protocols import iso8583
from protocols.errors import DecodeError
from protocols.iso8583_specs import PAYTERM_1987

MIX: tuple[tuple[str, float], ...] = (
    ("purchase", 0.55),
    ("auth", 0.20),
    ("purchase_pin", 0.10),
    ("reversal", 0.10),
    ("echo", 0.05),
)


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    arqc_latencies: list[float] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    arqc_approved: int = 0
    mac_failures: int = 0
    errors: int = 0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def _pick(rng: random.Random) -> str:
    x = rng.random()
    for kind, share in MIX:
        if x < share:
            return kind
        x -= share
    return MIX[-1][0]


@dataclass
class Prepared:
    kind: str
    msg: dict[str, str]
    wire: bytes
    ksn: bytes | None = None  # the KSN its DUKPT MAC is under (the answer's too)


def prepare(
    term: SimTerminal, wallet: list[SimCard], rng: random.Random, count: int
) -> list[Prepared]:
    """``count`` requests of the mix, encoded and MACed, with fresh ARQCs and
    PIN blocks: the expensive card and terminal cryptography happens here,
    before the clock starts, so the simulated terminals take as little of
    the machine as possible from the host they measure."""
    out: list[Prepared] = []
    last_purchase: dict[str, str] | None = None
    for _ in range(count):
        kind = _pick(rng)
        card = rng.choice(wallet)
        amount = rng.randrange(100, 50_000)
        if kind == "reversal" and last_purchase is None:
            kind = "purchase"
        if kind == "purchase":
            msg = term.financial("0200", "00", amount, card)
            last_purchase = msg
        elif kind == "auth":
            msg = term.financial("0100", "00", amount, card)
        elif kind == "purchase_pin":
            msg = term.financial("0200", "00", amount, card, pin="1234")
            last_purchase = msg
        elif kind == "reversal":
            assert last_purchase is not None
            msg = term.reversal(last_purchase)
            last_purchase = None
        else:
            msg = term.echo()
        term.last_ksn = None
        wire = term.encode(msg)
        out.append(Prepared(kind, msg, wire, term.last_ksn))
    return out


def _new_terminal(
    index: int, cards: int, seed: int
) -> tuple[SimTerminal, list[SimCard], random.Random]:
    rng = random.Random(seed * 1_000_003 + index)
    term = SimTerminal(index)
    term.stan = rng.randrange(0, 900_000)
    wallet = [SimCard.load_card((index - 1) * cards + j) for j in range(cards)]
    for card in wallet:
        card.atc = rng.randrange(0, 30_000)
    return term, wallet, rng


async def _terminal(
    index: int,
    host: str,
    port: int,
    prepared: list[Prepared],
    deadline: float,
    stats: Stats,
    refill: tuple[SimTerminal, list[SimCard], random.Random],
) -> None:
    term = refill[0]
    link = await FastLink.open(host, port)
    queue = iter(prepared)
    try:
        while time.monotonic() < deadline:
            item = next(queue, None)
            if item is None:  # ran out: prepare more (inside the run, counted)
                queue = iter(prepare(*refill, 50))
                continue
            start = time.perf_counter()
            try:
                raw = await link.send_raw(item.wire)
            except (OSError, TimeoutError):
                stats.errors += 1
                link = await FastLink.open(host, port)
                continue
            elapsed = time.perf_counter() - start
            stats.latencies.append(elapsed)
            stats.kinds[item.kind] = stats.kinds.get(item.kind, 0) + 1
            try:
                reply = iso8583.decode(raw, PAYTERM_1987)
            except DecodeError:
                stats.errors += 1
                continue
            code = reply.get("39", "")
            stats.codes[code] = stats.codes.get(code, 0) + 1
            if item.kind != "echo" and not term.mac_ok(raw, item.ksn):
                stats.mac_failures += 1
            arqc = item.kind in ("purchase", "auth", "purchase_pin")
            if arqc and code == "00" and reply.get("55", "").startswith("91"):
                stats.arqc_approved += 1
                stats.arqc_latencies.append(elapsed)
    finally:
        await link.close()


async def run_load(
    host: str,
    port: int,
    terminals: int,
    seconds: float,
    cards: int = 16,
    seed: int = 1,
    per_terminal: int | None = None,
) -> dict[str, Any]:
    """Prepare the requests, run the terminals for ``seconds`` and return
    the report.  ``per_terminal`` requests are prepared for each terminal
    (default: 60 per second of the run); a terminal that runs out prepares
    more during the run."""
    stats = Stats()
    count = per_terminal if per_terminal is not None else max(10, int(seconds * 60))
    setups = [_new_terminal(i, cards, seed) for i in range(1, terminals + 1)]
    batches = [prepare(*setup, count) for setup in setups]
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(
        *(
            _terminal(i + 1, host, port, batches[i], deadline, stats, setups[i])
            for i in range(terminals)
        )
    )
    wall = time.monotonic() - started
    ms = 1000.0
    return {
        "terminals": terminals,
        "seconds": round(wall, 3),
        "messages": len(stats.latencies),
        "messages_per_second": round(len(stats.latencies) / wall, 1),
        "arqc_authorisations": stats.arqc_approved,
        "arqc_authorisations_per_second": round(stats.arqc_approved / wall, 1),
        "latency_ms": {
            "p50": round(percentile(stats.latencies, 50) * ms, 3),
            "p95": round(percentile(stats.latencies, 95) * ms, 3),
            "p99": round(percentile(stats.latencies, 99) * ms, 3),
        },
        "arqc_latency_ms": {
            "p50": round(percentile(stats.arqc_latencies, 50) * ms, 3),
            "p95": round(percentile(stats.arqc_latencies, 95) * ms, 3),
            "p99": round(percentile(stats.arqc_latencies, 99) * ms, 3),
        },
        "mix": dict(sorted(stats.kinds.items())),
        "response_codes": dict(sorted(stats.codes.items())),
        "mac_failures": stats.mac_failures,
        "errors": stats.errors,
    }
