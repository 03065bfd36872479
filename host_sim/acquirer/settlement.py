"""0500 → 0510: batch close (settlement) with reconciliation.

The terminal sends its batch number (field 60) and its totals in field 63
(dialect, docs/iso8583.md): sales count (3), sales amount (12), refunds
count (3), refunds amount (12).  The host sums the same batch from its own
records — approved 0200 purchases/cash and 0220 advices as sales, 0200 and
0220 refunds as refunds, each less what was reversed; balance inquiries and
0100 authorisations are not in a batch — and compares:

- equal: 39 = 00, the batch is closed (a ``batches`` row) and, when it is the
  terminal's open batch, the next batch number becomes open;
- different: 39 = 95 (reconcile error); the batch stays open and the
  mismatch is recorded.  The terminal then uploads or reviews its batch.

A repeated 0500 for a batch already closed reconciles against the same
records and gets 00 again; nothing is posted by settlement.
"""

from __future__ import annotations

import sqlite3

from host_sim.acquirer import codes
from host_sim.acquirer.context import HostContext
from host_sim.acquirer.db import Terminal
from host_sim.acquirer.messages import response_to

TOTALS_LEN = 30


def parse_totals(field63: str) -> tuple[int, int, int, int]:
    if len(field63) != TOTALS_LEN or not field63.isdigit():
        raise ValueError("field 63 must be 30 digits of totals")
    return int(field63[:3]), int(field63[3:15]), int(field63[15:18]), int(field63[18:30])


def format_totals(totals: tuple[int, int, int, int]) -> str:
    sales_count, sales_amount, refunds_count, refunds_amount = totals
    sales = f"{sales_count % 1000:03d}{sales_amount:012d}"
    return sales + f"{refunds_count % 1000:03d}{refunds_amount:012d}"


def next_batch(batch: str) -> str:
    value = int(batch) + 1
    return f"{value if value <= 999_999 else 1:06d}"


async def handle(ctx: HostContext, request: dict[str, str], terminal: Terminal) -> bytes:
    response = response_to(request, codes.APPROVED, "0510")
    response["37"] = ctx.new_rrn()
    response["60"] = request["60"]
    batch = request["60"][-6:]
    try:
        theirs = parse_totals(request["63"])
    except ValueError:
        response["39"] = codes.FORMAT_ERROR
        return await ctx.finish(response, terminal, None)
    if not batch.isdigit():
        response["39"] = codes.FORMAT_ERROR
        return await ctx.finish(response, terminal, None)
    ours = ctx.db.batch_totals(terminal.tid, batch)
    # Counts travel in 3 digits: compare them modulo 1000 as the field holds them.
    in_balance = format_totals(ours) == format_totals(theirs)
    code = codes.APPROVED if in_balance else codes.RECONCILE_ERROR
    response["39"] = code
    advance = next_batch(batch) if in_balance and batch == terminal.batch_number else None
    at = ctx.clock()

    def close(conn: sqlite3.Connection, wire: bytes) -> None:
        ctx.db.close_batch(conn, terminal.tid, batch, ours, code, at, advance)

    return await ctx.finish(response, terminal, close)
