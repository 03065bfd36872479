"""0220 → 0230: advices of offline approvals (store-and-forward).

A terminal that approved offline (field 38 carries its offline code, e.g.
``Y1``, ``Y3``) keeps the transaction and forwards it as a 0220 when the
host is reachable, repeating it (0221) until it gets a 0230.  The host
cannot decline what already happened: it posts the advice to the account —
even past the balance or the limits — in the same transaction as the
transaction row, and answers 00.  An advice for a card the host does not
know is recorded without posting and answered 14 (the 0230 still ends the
terminal's repeats).  A repeated advice is answered from the first
(``processor`` duplicates), so it is never posted twice.  The advice's
cryptogram (the card's TC in field 55) is verified through the HSM (KQ mode
0) and the verdict kept with the transaction (``cryptogram_ok``).
"""

from __future__ import annotations

import sqlite3

from host_sim.acquirer import codes, emv
from host_sim.acquirer.authorisation import arqc_check
from host_sim.acquirer.context import HostContext
from host_sim.acquirer.db import Account, Terminal
from host_sim.acquirer.messages import FormatProblem, amount_of, card_data, luhn_ok, response_to
from host_sim.acquirer.security import SecurityUnavailable

REFUND = "20"


async def handle(
    ctx: HostContext, request: dict[str, str], raw: bytes, terminal: Terminal, req_digest: bytes
) -> bytes:
    rrn = ctx.new_rrn()
    response = response_to(request, codes.APPROVED, "0230")
    response["37"] = rrn
    amount = amount_of(request)
    try:
        card = card_data(request)
    except FormatProblem:
        response["39"] = codes.FORMAT_ERROR
        return await ctx.finish(response, terminal, None)
    found = ctx.db.account_by_pan(card.pan) if luhn_ok(card.pan) else None
    row: dict[str, object] = {
        "tid": terminal.tid,
        "mid": terminal.mid,
        "mti": "0220",
        "stan": request["11"],
        "transmitted": request["7"],
        "rrn": rrn,
        "processing_code": request["3"],
        "amount": amount,
        "currency": request["49"],
        "account_id": None,
        "pan_last4": card.pan[-4:],
        "response_code": codes.APPROVED,
        "auth_code": request["38"].strip()[:6],
        "batch_number": request["60"][-6:],
        "status": "advice",
        "request_digest": req_digest,
        "response": b"",
        "created": ctx.clock(),
    }
    if found is None:
        response["39"] = row["response_code"] = codes.INVALID_CARD_NUMBER
        row["status"] = "declined"

        def record(conn: sqlite3.Connection, wire: bytes) -> None:
            row["response"] = wire
            ctx.db.insert_transaction(conn, row)

        return await ctx.finish(response, terminal, record)

    row["cryptogram_ok"] = await _check_cryptogram(ctx, request, found, card.pan)
    async with ctx.account_lock(found.id):
        row["account_id"] = found.id
        refund = request["3"].startswith(REFUND)
        day = ctx.today()

        def post(conn: sqlite3.Connection, wire: bytes) -> None:
            row["response"] = wire
            txn_id = ctx.db.insert_transaction(conn, row)
            if refund:
                ctx.db.post(conn, found.id, txn_id, "offline refund", amount, ctx.clock(), day)
            else:
                ctx.db.post(conn, found.id, txn_id, "offline", -amount, ctx.clock(), day, amount)

        return await ctx.finish(response, terminal, post)


async def _check_cryptogram(
    ctx: HostContext, request: dict[str, str], account: Account, pan: str
) -> int | None:
    """1 / 0 when the advice's cryptogram (field 55, the offline TC) does /
    does not verify through the HSM, None when it cannot be checked (no
    field 55, no issuer key, the HSM unreachable).  The advice is posted
    either way: a failed cryptogram is kept for the chargeback."""
    if "55" not in request or account.cvn is None or not account.issuer_key_ref:
        return None
    try:
        icc = emv.parse_request(request["55"])
        check = arqc_check(account, pan, request, icc, codes.APPROVED)
        return 1 if await ctx.security.verify_cryptogram(check) else 0
    except emv.IccDataError:
        return 0
    except SecurityUnavailable:
        return None
