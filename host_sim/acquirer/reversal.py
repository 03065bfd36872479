"""0400 → 0410 (reversal request) and 0420 → 0430 (reversal advice).

Field 90 names the original: MTI (4), STAN (6), transmission date and time
(10), then the acquiring and forwarding institution IDs (11 + 11).  The host
looks the original up by terminal (field 41), MTI, STAN and field 7.

- Original found and approved: the amount still standing is given back to
  the account (a debit is credited, a refund is debited) and the original is
  marked reversed, in one SQLite transaction with the reversal's own row.
  Field 95 (replacement amounts), when present, makes it a partial reversal:
  the original stands at the "actual amount", so only the difference is
  given back.  Answer 00.
- Original already reversed (fully, or to the same actual amount): nothing
  is posted — reversals are idempotent — and the answer is 00 again.
- Original declined or a balance inquiry: nothing to give back; 00.
- Original a pre-authorisation already completed (completion.py): its hold
  was released by the completion, so nothing is given back; 00.  The
  completion (the 0220) is what to reverse then.
- Original unknown: 0410 with 25 (unable to locate); 0430 with 00, because
  an advice is acknowledged whatever the host finds (the terminal stops
  repeating it; nothing was posted).

A repeated reversal (0401, 0421, or the same 0400/0420 again) is answered
with the first response by the duplicate check (``processor``).
"""

from __future__ import annotations

import sqlite3

from host_sim.acquirer import codes
from host_sim.acquirer.context import HostContext
from host_sim.acquirer.db import Terminal
from host_sim.acquirer.messages import FormatProblem, response_to

REFUND = "20"
BALANCE_INQUIRY = "31"


def original_key(field90: str) -> tuple[str, str, str]:
    """(MTI, STAN, transmission date and time) from field 90."""
    if len(field90) != 42 or not field90.isdigit():
        raise FormatProblem("field 90 must be 42 digits")
    return field90[:4], field90[4:10], field90[10:20]


async def handle(
    ctx: HostContext,
    request: dict[str, str],
    raw: bytes,
    terminal: Terminal,
    req_digest: bytes,
    base_mti: str,
) -> bytes:
    response_mti = "0410" if base_mti == "0400" else "0430"
    rrn = ctx.new_rrn()
    response = response_to(request, codes.APPROVED, response_mti)
    response["37"] = rrn
    response["90"] = request["90"]
    try:
        o_mti, o_stan, o_time = original_key(request["90"])
        actual = int(request["95"][:12]) if "95" in request else None
    except (FormatProblem, ValueError):
        response["39"] = codes.FORMAT_ERROR
        return await ctx.finish(response, terminal, None)
    row: dict[str, object] = {
        "tid": terminal.tid,
        "mid": terminal.mid,
        "mti": base_mti,
        "stan": request["11"],
        "transmitted": request["7"],
        "rrn": rrn,
        "processing_code": request["3"],
        "amount": 0,
        "currency": request["49"],
        "account_id": None,
        "pan_last4": request.get("2", "")[-4:],
        "response_code": codes.APPROVED,
        "auth_code": "",
        "batch_number": request.get("60", terminal.batch_number)[-6:],
        "status": "reversal",
        "original_mti": o_mti,
        "original_stan": o_stan,
        "original_transmitted": o_time,
        "request_digest": req_digest,
        "response": b"",
        "created": ctx.clock(),
    }
    original = ctx.db.find_original(terminal.tid, o_mti, o_stan, o_time)
    if original is None:
        code = codes.UNABLE_TO_LOCATE if base_mti == "0400" else codes.APPROVED
        response["39"] = row["response_code"] = code

        def record(conn: sqlite3.Connection, wire: bytes) -> None:
            row["response"] = wire
            ctx.db.insert_transaction(conn, row)

        return await ctx.finish(response, terminal, record)

    account_id = original.account_id
    row["account_id"] = account_id
    if actual is not None and actual > original.amount:
        response["39"] = row["response_code"] = codes.INVALID_AMOUNT
        actual = None
    lock_id = account_id if account_id is not None else -1

    async with ctx.account_lock(lock_id):
        # Re-read under the lock: a concurrent reversal may have got here first.
        current = ctx.db.find_original(terminal.tid, o_mti, o_stan, o_time)
        assert current is not None
        standing = current.status in ("approved", "advice") and current.completed_by is None
        kept = actual if actual is not None else 0
        delta = current.amount - kept - current.reversed_amount
        if response["39"] != codes.APPROVED or not standing or account_id is None:
            delta = 0
        if current.processing_code.startswith(BALANCE_INQUIRY):
            delta = 0
        row["amount"] = max(delta, 0)
        refund = current.processing_code.startswith(REFUND)
        day_spend = 0 if refund else -max(delta, 0)

        def reverse(conn: sqlite3.Connection, wire: bytes) -> None:
            row["response"] = wire
            txn_id = ctx.db.insert_transaction(conn, row)
            if delta > 0 and account_id is not None:
                amount = -delta if refund else delta
                ctx.db.post(conn, account_id, txn_id, "reversal", amount, ctx.clock(),
                            None, day_spend)  # fmt: skip
                ctx.db.mark_reversed(conn, current.id, delta)

        return await ctx.finish(response, terminal, reverse)
