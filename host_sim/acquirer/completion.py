"""0220 with field 90 → 0230: completion of a pre-authorisation.

A pre-authorisation (0100, approved) placed a hold: the account's balance
went down by the held amount.  The completion is an 0220 advice (repeated
as 0221 until answered) that names the 0100 in field 90 — MTI (4), STAN
(6), transmission date and time (10), acquiring and forwarding institution
IDs (11 + 11, zero-filled) — with the final amount in field 4, processing
code 00, field 38 the pre-authorisation's approval code and field 60 the
batch.  It is told apart from an offline advice by field 90 alone.

The host, under the account's lock, in one SQLite transaction with the
completion's own row:

- releases the whole hold (posting ``hold release``, +held) and posts the
  final amount (posting ``completion``, -final): the balance ends exactly
  ``final`` below where it stood before the hold;
- marks the 0100 completed (``transactions.completed_by`` = the 0230's row),
  so neither a second completion nor a later reversal of the 0100 touches
  the account again; the completion itself is reversible (0400 naming the
  0220), and it counts in the batch as a sale of the final amount.

The final amount may exceed the hold by at most ``TOLERANCE_PERCENT`` of
it (a tip, a fuel top-up: what the scheme allows over an authorisation);
the part over the hold must fit the balance.  Answers (field 39):

- 00 completed;
- 13 the amount is zero or above the tolerance;
- 51 the part over the hold is above the balance;
- 25 no such pre-authorisation from this terminal (field 90 names none);
- 12 field 90 names something that is not an approved 0100 (a declined
  hold, a sale), or a hold already released by a reversal;
- 94 the pre-authorisation is already completed (by another completion);
- 30 field 90 malformed.

The same completion sent again (0221, or the same 0220) is answered with the
first answer, byte for byte, by the duplicate check (``processor``); nothing
is posted twice.
"""

from __future__ import annotations

import sqlite3

from host_sim.acquirer import codes
from host_sim.acquirer.context import HostContext
from host_sim.acquirer.db import Terminal
from host_sim.acquirer.messages import FormatProblem, amount_of, response_to
from host_sim.acquirer.reversal import original_key

TOLERANCE_PERCENT = 15


def is_completion(request: dict[str, str]) -> bool:
    return request["t"] == "0220" and "90" in request


def ceiling(held: int) -> int:
    """The largest final amount a hold of ``held`` can be completed for."""
    return held + held * TOLERANCE_PERCENT // 100


async def handle(
    ctx: HostContext, request: dict[str, str], terminal: Terminal, req_digest: bytes
) -> bytes:
    rrn = ctx.new_rrn()
    response = response_to(request, codes.APPROVED, "0230")
    response["37"] = rrn
    response["90"] = request["90"]
    final = amount_of(request)
    try:
        o_mti, o_stan, o_time = original_key(request["90"])
    except FormatProblem:
        response["39"] = codes.FORMAT_ERROR
        return await ctx.finish(response, terminal, None)
    row: dict[str, object] = {
        "tid": terminal.tid,
        "mid": terminal.mid,
        "mti": "0220",
        "stan": request["11"],
        "transmitted": request["7"],
        "rrn": rrn,
        "processing_code": request["3"],
        "amount": final,
        "currency": request["49"],
        "account_id": None,
        "pan_last4": request.get("2", "")[-4:],
        "response_code": codes.APPROVED,
        "auth_code": request["38"].strip()[:6],
        "batch_number": request["60"][-6:],
        "status": "approved",
        "original_mti": o_mti,
        "original_stan": o_stan,
        "original_transmitted": o_time,
        "request_digest": req_digest,
        "response": b"",
        "created": ctx.clock(),
    }

    async def refuse(code: str) -> bytes:
        response["39"] = row["response_code"] = code
        row["status"] = "declined"

        def record(conn: sqlite3.Connection, wire: bytes) -> None:
            row["response"] = wire
            ctx.db.insert_transaction(conn, row)

        return await ctx.finish(response, terminal, record)

    original = ctx.db.find_original(terminal.tid, o_mti, o_stan, o_time)
    if original is None:
        return await refuse(codes.UNABLE_TO_LOCATE)
    if original.account_id is None:
        return await refuse(codes.INVALID_TRANSACTION)
    account_id = original.account_id
    row["account_id"] = account_id

    async with ctx.account_lock(account_id):
        # Re-read under the lock: a concurrent completion or reversal may
        # have got here first.
        current = ctx.db.find_original(terminal.tid, o_mti, o_stan, o_time)
        account = ctx.db.account(account_id)
        assert current is not None and account is not None
        row["pan_last4"] = account.pan_last4
        if current.completed_by is not None:
            return await refuse(codes.DUPLICATE)
        if current.mti != "0100" or current.status != "approved" or current.reversed_amount:
            return await refuse(codes.INVALID_TRANSACTION)
        held = current.amount
        if final <= 0 or final > ceiling(held):
            return await refuse(codes.INVALID_AMOUNT)
        if final - held > account.balance:
            return await refuse(codes.INSUFFICIENT_FUNDS)
        day = ctx.today()

        def complete(conn: sqlite3.Connection, wire: bytes) -> None:
            row["response"] = wire
            txn_id = ctx.db.insert_transaction(conn, row)
            now = ctx.clock()
            ctx.db.post(conn, account_id, txn_id, "hold release", held, now, None, -held)
            ctx.db.post(conn, account_id, txn_id, "completion", -final, now, day, final)
            ctx.db.mark_completed(conn, current.id, txn_id)

        return await ctx.finish(response, terminal, complete)
