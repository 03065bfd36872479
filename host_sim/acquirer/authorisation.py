"""0100 → 0110 (authorisation) and 0200 → 0210 (financial).

Processing codes served (field 3, first two digits): 00 purchase, 01 cash,
20 refund (0200 only), 31 balance inquiry.  Checks, in this order, each
answering with the first code that applies (docs/acquirer.md):

1. processing code served → else 12; PAN from field 2 or track 2 → else 30;
   Luhn and a known account → else 14;
2. account status: blocked 05, lost 41, stolen 43;
3. expiry: the account's expiry before this month, or a request expiry
   (field 14 / track 2) that differs from the account's → 54;
4. transaction type allowed for the card → else 57;
5. field 55 well formed (when present) → else 30; its amount (9F02) equals
   field 4 → else 13;
6. online PIN (field 52 with field 53): tries already at the limit 75; the
   HSM translates the DUKPT PIN block and verifies it against the PVV or IBM
   offset — wrong: 55 (75 when this try reaches the limit), right: the try
   counter is reset;
7. amounts: zero or negative 13; above the per-transaction limit or the day's
   limit 61; above the balance 51;
8. ARQC (field 55): verified by the HSM, which returns the ARPC over the
   response code chosen so far (method 1: ARC = field 39; method 2: CSU with
   the approve bit when 39 = 00); a wrong ARQC turns the answer into 05
   without tag 91.  The HSM unreachable at 6 or 8: 91.

An approval posts (0100: a hold, 0200: a purchase debit or a refund credit)
in the same SQLite transaction as the transaction row; a decline writes the
transaction row only (plus the PIN try counter), and its answer carries
the reason in words in field 44 (additional response data, 25 characters).
"""

from __future__ import annotations

import sqlite3

from host_sim.acquirer import codes, emv
from host_sim.acquirer.context import HostContext
from host_sim.acquirer.db import Account, Terminal
from host_sim.acquirer.messages import (
    FormatProblem,
    amount_of,
    card_data,
    luhn_ok,
    response_to,
)
from host_sim.acquirer.security import ArqcCheck, PinCheck, SecurityUnavailable

PURCHASE = "00"
CASH = "01"
REFUND = "20"
BALANCE_INQUIRY = "31"
SERVED = {"0100": (PURCHASE, CASH, BALANCE_INQUIRY), "0200": (PURCHASE, CASH, REFUND,
          BALANCE_INQUIRY)}  # fmt: skip
STATUS_CODES = {"blocked": codes.DO_NOT_HONOUR, "lost": codes.LOST_CARD,
                "stolen": codes.STOLEN_CARD}  # fmt: skip
PIN_FORMATS = {0x04: 4, 0x00: 0, 0x03: 3}
AES_DUKPT = 0x02


async def handle(
    ctx: HostContext, request: dict[str, str], req_digest: bytes, terminal: Terminal
) -> bytes:
    mti = request["t"]
    rrn = ctx.new_rrn()
    pcode = request["3"][:2]
    response = response_to(request, codes.APPROVED)
    response["37"] = rrn
    if mti == "0200":
        response["15"] = ctx.settlement_mmdd()
    row = _row(ctx, request, req_digest, terminal, rrn)

    async def decline(
        code: str, account: Account | None = None, pin_tries: int | None = None
    ) -> bytes:
        response["39"] = code
        response["44"] = codes.MEANING.get(code, "declined")[:25]
        row["response_code"] = code
        row["status"] = "declined"
        if account is not None:
            row["account_id"] = account.id
            row["pan_last4"] = account.pan_last4
        return await _commit(ctx, response, terminal, row, None, pin_tries, account)

    if pcode not in SERVED[mti]:
        return await decline(codes.INVALID_TRANSACTION)
    try:
        card = card_data(request)
    except FormatProblem:
        return await decline(codes.FORMAT_ERROR)
    row["pan_last4"] = card.pan[-4:]
    found = ctx.db.account_by_pan(card.pan) if luhn_ok(card.pan) else None
    if found is None:
        return await decline(codes.INVALID_CARD_NUMBER)

    lock = ctx.account_lock(found.id)
    # Acquiring a free asyncio lock does not yield: what was read above is
    # still current.  A waiter re-reads after the holder's commit.
    contended = lock.locked()
    async with lock:
        account = ctx.db.account(found.id) if contended else found
        assert account is not None
        row["account_id"] = account.id
        row["pan_last4"] = account.pan_last4
        code = _card_checks(ctx, request, account, pcode, card.expiry)
        if code:
            return await decline(code, account)
        icc: emv.IccRequest | None = None
        if "55" in request:
            try:
                icc = emv.parse_request(request["55"])
            except emv.IccDataError:
                return await decline(codes.FORMAT_ERROR, account)
            if pcode != BALANCE_INQUIRY and int(icc.amount.hex()) != amount_of(request):
                return await decline(codes.INVALID_AMOUNT, account)
        pin_tries: int | None = None
        if "52" in request:
            try:
                code, pin_tries = await _check_pin(ctx, request, account, terminal, card.pan)
            except SecurityUnavailable:
                return await decline(codes.ISSUER_UNAVAILABLE, account)
            except FormatProblem:
                return await decline(codes.FORMAT_ERROR, account)
            if code:
                return await decline(code, account, pin_tries)
        code = _amount_checks(ctx, request, account, pcode)
        if icc is not None and account.cvn is not None and account.issuer_key_ref:
            try:
                auth_data = await ctx.security.verify_arqc(
                    arqc_check(account, card.pan, request, icc, code or codes.APPROVED)
                )
            except SecurityUnavailable:
                return await decline(codes.ISSUER_UNAVAILABLE, account, pin_tries)
            except emv.IccDataError:
                return await decline(codes.FORMAT_ERROR, account, pin_tries)
            if auth_data is None:
                return await decline(codes.DO_NOT_HONOUR, account, pin_tries)
            if icc.cid & 0xC0 == emv.CID_ARQC:
                response["55"] = emv.response_field55(auth_data)
        if code:
            return await decline(code, account, pin_tries)
        return await _approve(ctx, request, response, terminal, row, account, pcode, pin_tries)


def _row(
    ctx: HostContext, request: dict[str, str], req_digest: bytes, terminal: Terminal, rrn: str
) -> dict[str, object]:
    return {
        "tid": terminal.tid,
        "mid": terminal.mid,
        "mti": request["t"],
        "stan": request["11"],
        "transmitted": request["7"],
        "rrn": rrn,
        "processing_code": request["3"],
        "amount": amount_of(request),
        "currency": request.get("49", ""),
        "account_id": None,
        "pan_last4": "",
        "response_code": codes.APPROVED,
        "auth_code": "",
        "batch_number": request.get("60", terminal.batch_number)[-6:],
        "status": "approved",
        "request_digest": req_digest,
        "response": b"",
        "created": ctx.clock(),
    }


def _card_checks(
    ctx: HostContext, request: dict[str, str], account: Account, pcode: str, expiry: str | None
) -> str:
    if account.status != "active":
        return STATUS_CODES.get(account.status, codes.DO_NOT_HONOUR)
    if account.expiry < ctx.yymm() or (expiry is not None and expiry != account.expiry):
        return codes.EXPIRED_CARD
    if pcode not in account.allowed_processing.split(","):
        return codes.NOT_PERMITTED_CARDHOLDER
    return ""


def _amount_checks(ctx: HostContext, request: dict[str, str], account: Account, pcode: str) -> str:
    if pcode == BALANCE_INQUIRY:
        return ""
    amount = amount_of(request)
    if amount <= 0:
        return codes.INVALID_AMOUNT
    if pcode == REFUND:
        return ""
    spent = account.spent_today if account.spent_day == ctx.today() else 0
    if amount > account.per_txn_limit or spent + amount > account.daily_limit:
        return codes.EXCEEDS_LIMIT
    if amount > account.balance:
        return codes.INSUFFICIENT_FUNDS
    return ""


async def _check_pin(
    ctx: HostContext, request: dict[str, str], account: Account, terminal: Terminal, pan: str
) -> tuple[str, int | None]:
    """(response code or "", new PIN try count or None when unchanged)."""
    if account.pin_tries >= account.pin_try_limit:
        return codes.PIN_TRIES_EXCEEDED, None
    if not (account.pin_method and account.pin_key_ref and account.pin_data):
        return codes.NOT_PERMITTED_CARDHOLDER, None
    control = bytes.fromhex(request.get("53", ""))
    if len(control) < 3 or control[1] != AES_DUKPT or control[0] not in PIN_FORMATS:
        raise FormatProblem("field 53 must name the PIN block format and AES DUKPT")
    if not terminal.bdk_ref:
        return codes.NOT_PERMITTED_TERMINAL, None
    ok = await ctx.security.verify_pin(
        PinCheck(
            bdk_ref=terminal.bdk_ref,
            ksn=control[2:],
            pin_block=bytes.fromhex(request["52"]),
            pin_block_format=PIN_FORMATS[control[0]],
            pan=pan,
            method=account.pin_method,
            pin_key_ref=account.pin_key_ref,
            pin_data=account.pin_data,
        )
    )
    if ok:
        return "", (0 if account.pin_tries else None)
    tries = account.pin_tries + 1
    code = codes.PIN_TRIES_EXCEEDED if tries >= account.pin_try_limit else codes.INCORRECT_PIN
    return code, tries


def arqc_check(
    account: Account, pan: str, request: dict[str, str], icc: emv.IccRequest, code: str
) -> ArqcCheck:
    assert account.cvn is not None and account.issuer_key_ref is not None
    psn = request["23"][-2:] if "23" in request else account.psn
    return ArqcCheck(
        issuer_key_ref=account.issuer_key_ref,
        cvn=account.cvn,
        pan=pan,
        psn=psn,
        atc=icc.atc,
        un=icc.un,
        data=emv.ac_data(account.cvn, icc),
        arqc=icc.arqc,
        arc=code.encode("ascii"),
        csu=emv.CSU_APPROVE if code == codes.APPROVED else emv.CSU_DECLINE,
    )


async def _approve(
    ctx: HostContext,
    request: dict[str, str],
    response: dict[str, str],
    terminal: Terminal,
    row: dict[str, object],
    account: Account,
    pcode: str,
    pin_tries: int | None,
) -> bytes:
    amount = amount_of(request)
    if pcode == BALANCE_INQUIRY:
        row["amount"] = 0
        sign = "C" if account.balance >= 0 else "D"
        response["54"] = f"0002{account.currency}{sign}{abs(account.balance):012d}"
        posting = None
    elif pcode == REFUND:
        posting = ("refund", amount, 0)
    else:
        kind = "hold" if request["t"] == "0100" else "purchase"
        posting = (kind, -amount, amount)
    auth_code = ctx.new_auth_code()
    response["38"] = auth_code
    row["auth_code"] = auth_code
    return await _commit(ctx, response, terminal, row, posting, pin_tries, account)


async def _commit(
    ctx: HostContext,
    response: dict[str, str],
    terminal: Terminal,
    row: dict[str, object],
    posting: tuple[str, int, int] | None,
    pin_tries: int | None,
    account: Account | None,
) -> bytes:
    day = ctx.today()

    def commit(conn: sqlite3.Connection, wire: bytes) -> None:
        row["response"] = wire
        txn_id = ctx.db.insert_transaction(conn, row)
        if account is not None and pin_tries is not None:
            conn.execute("UPDATE accounts SET pin_tries = ? WHERE id = ?", (pin_tries, account.id))
        if account is not None and posting is not None:
            kind, amount, spend = posting
            ctx.db.post(conn, account.id, txn_id, kind, amount, float(str(row["created"])), day,
                        spend)  # fmt: skip

    return await ctx.finish(response, terminal, commit)
