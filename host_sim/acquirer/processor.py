"""The card-payment pipeline in front of the handlers.

For every decoded 0100, 0200, 0220, 0400, 0420 and 0500 (and the repeats
0221, 0401, 0421):

1. mandatory fields (``messages.MANDATORY``) → else 30;
2. the terminal (field 41) must exist and be active, its merchant (field 42)
   must be the terminal's → else 03 (unknown) or 58 (suspended); with a TSM
   (``ctx.devices``), its device must be ``active`` there → else 58 (91 when
   the TSM cannot be reached and the host fails closed; devices.py);
3. MAC: when the terminal MACs, the last 8 bytes of the request (field 64,
   or 128 with a secondary bitmap) must be the AES-CMAC of the bytes before
   them, verified by the HSM → else 63; the HSM unreachable → 91.  Scheme
   ``static``: under the terminal's MAC key (M8), when it has one.  Scheme
   ``dukpt``: under the AES DUKPT MAC generation key of the KSN in field 53
   (GY), which must be a valid KSN of the terminal's own initial key ID →
   else 63; the answer is MACed under the same KSN (``MAC_KSN``).  The
   check is sent at once and runs beside the handler's own HSM work (PIN,
   ARQC); the handler's result is committed, and a stored answer replayed,
   only after it has passed (``context.pass_gate``), so a request with a
   bad MAC changes nothing;
4. duplicates: the same terminal, STAN, transmission time (field 7) and
   message type as an earlier request — with the same content (field 53
   aside: a DUKPT terminal's repeat carries a new KSN), the first response
   is sent again byte for byte (under DUKPT, re-MACed under the repeat's
   KSN); with other content, 94.  A request that arrives while its twin is
   still being processed waits for it.
   Nothing is ever posted twice;
5. the handler (authorisation, advice — or completion, an 0220 with field
   90 —, reversal, settlement).

Any unexpected exception in a handler gives 96 (system malfunction), with
nothing committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from host_sim.acquirer import advice, authorisation, codes, completion, reversal, settlement
from host_sim.acquirer.context import (
    MAC_GATE,
    MAC_KSN,
    GateClosed,
    HostContext,
    digest,
    pass_gate,
)
from host_sim.acquirer.db import Terminal
from host_sim.acquirer.messages import missing_fields, response_to
from host_sim.acquirer.security import SecurityUnavailable
from protocols.crypto import aes_dukpt

log = logging.getLogger("payterm.acquirer")

SERVED = ("0100", "0200", "0220", "0221", "0400", "0401", "0420", "0421", "0500")
MAC_LEN = 8
# Field 53 of a DUKPT-MACed request: PIN block format (FF: no PIN block;
# checked by the PIN step), 02 (AES DUKPT), the 12-byte KSN (docs/iso8583.md).
AES_DUKPT = 0x02

DupKey = tuple[str, str, str, str]


def _retrieve(future: asyncio.Future[bool]) -> None:
    # The gate's failure is read by pass_gate; read it here too so a request
    # that ended before reaching its gate leaves no "never retrieved" warning.
    if not future.cancelled():
        future.exception()


def base_mti(mti: str) -> str:
    """A repeat (xxx1) is handled as its original (xxx0)."""
    return mti[:3] + "0" if mti[3] == "1" else mti


def content_digest(raw: bytes, request: dict[str, str], mti_len: int = 2) -> bytes:
    """What makes two requests 'the same': the message bytes after the MTI
    and before the MAC (so a repeat, xxx1, matches its original xxx0, whose
    MAC differs only because the MTI does), under the base MTI.  The codec
    writes one message one way only, so equal content means equal bytes.
    Field 53's value is not content: a DUKPT terminal sends each try under a
    new KSN (its 14 bytes are left out; its length prefix and bitmap bit
    stay)."""
    end = len(raw) - MAC_LEN if ("64" in request or "128" in request) else len(raw)
    body = raw[mti_len:end]
    if "53" in request:
        try:
            control = bytes.fromhex(request["53"])
        except ValueError:
            control = b""
        if control:
            body = body.replace(control, b"", 1)
    return digest(base_mti(request["t"]).encode() + body)


def request_ksn(request: dict[str, str], terminal: Terminal) -> bytes | None:
    """The KSN a DUKPT terminal's request is MACed under: field 53 is a
    format byte (``FF``, or the PIN block's, which the PIN step checks),
    ``02`` (AES DUKPT) and a valid KSN of the terminal's own initial key ID;
    None otherwise (the request is refused with 63)."""
    try:
        control = bytes.fromhex(request.get("53", ""))
    except ValueError:
        return None
    if len(control) != 2 + aes_dukpt.KSN_LEN or control[1] != AES_DUKPT:
        return None
    if not terminal.bdk_ref or not terminal.dukpt_ikid:
        return None
    ksn = control[2:]
    if ksn[: aes_dukpt.IKID_LEN].hex().upper() != terminal.dukpt_ikid.upper():
        return None
    return ksn if aes_dukpt.ksn_is_valid(ksn) else None


class Processor:
    def __init__(self, ctx: HostContext) -> None:
        self.ctx = ctx
        self._in_flight: dict[DupKey, asyncio.Future[bytes]] = {}

    async def process(self, raw: bytes, request: dict[str, str]) -> bytes:
        ctx = self.ctx
        mti = base_mti(request["t"])
        normalised = dict(request, t=mti)
        if missing_fields(normalised):
            return await ctx.encode(self._reply(mti, request, codes.FORMAT_ERROR), None)
        terminal = ctx.db.terminal(request["41"])
        if terminal is None or terminal.status == "closed" or terminal.mid != request["42"]:
            return await ctx.encode(self._reply(mti, request, codes.INVALID_MERCHANT), None)
        if terminal.status != "active":
            return await ctx.encode(self._reply(mti, request, codes.NOT_PERMITTED_TERMINAL), None)
        if ctx.devices is not None:  # the device's status at the TSM (devices.py)
            refused = await ctx.devices.refusal(terminal, f"{request['t']} stan {request['11']}")
            if refused is not None:
                return await ctx.encode(self._reply(mti, request, refused), None)
        token = ksn_token = None
        dukpt = terminal.mac_scheme == "dukpt"
        if dukpt or terminal.mac_key_ref:
            if "64" not in request and "128" not in request:
                log.warning("no MAC from terminal %s stan %s", terminal.tid, request["11"])
                return await ctx.encode(self._reply(mti, request, codes.SECURITY_VIOLATION), None)
            check: Awaitable[bool]
            if dukpt:
                ksn = request_ksn(request, terminal)
                if ksn is None:
                    log.warning("no valid KSN from terminal %s stan %s", terminal.tid,
                                request["11"])  # fmt: skip
                    reply = self._reply(mti, request, codes.SECURITY_VIOLATION)
                    return await ctx.encode(reply, None)
                assert terminal.bdk_ref
                check = ctx.security.verify_dukpt_mac(
                    terminal.bdk_ref, ksn, raw[:-MAC_LEN], raw[-MAC_LEN:]
                )
                ksn_token = MAC_KSN.set(ksn)
            else:
                assert terminal.mac_key_ref
                check = ctx.security.verify_mac(
                    terminal.mac_key_ref, raw[:-MAC_LEN], raw[-MAC_LEN:]
                )
            gate = asyncio.ensure_future(check)
            gate.add_done_callback(_retrieve)
            token = MAC_GATE.set(gate)
        try:
            return await self._dispatch_checked(raw, normalised, request, terminal)
        finally:
            if token is not None:
                MAC_GATE.reset(token)
            if ksn_token is not None:
                MAC_KSN.reset(ksn_token)

    async def _dispatch_checked(
        self, raw: bytes, normalised: dict[str, str], request: dict[str, str], terminal: Terminal
    ) -> bytes:
        ctx = self.ctx
        mti = normalised["t"]
        if mti == "0500":
            return await self._guarded(settlement.handle(ctx, normalised, terminal), mti, request,
                                       terminal)  # fmt: skip
        return await self._once(raw, normalised, request, terminal)

    async def _once(
        self, raw: bytes, request: dict[str, str], original: dict[str, str], terminal: Terminal
    ) -> bytes:
        mti = request["t"]
        key: DupKey = (terminal.tid, request["11"], request["7"], mti)
        req_digest = content_digest(
            raw, original, 2 if self.ctx.spec["t"].get("data_enc") == "bcd" else 4
        )
        pending = self._in_flight.get(key)
        if pending is not None:
            await asyncio.shield(pending)
        stored = self.ctx.db.find_transaction(*key)
        if stored is not None:
            try:
                await pass_gate()
            except GateClosed as closed:
                return await self._closed(closed, mti, original, terminal)
            if stored.request_digest == req_digest:
                return await self.ctx.replay(stored.response, stored.response_code, terminal)
            return await self.ctx.encode(self._reply(mti, original, codes.DUPLICATE), terminal)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            reply = await self._guarded(
                self._dispatch(raw, request, terminal, req_digest), mti, original, terminal
            )
            future.set_result(reply)
            return reply
        finally:
            if not future.done():
                future.set_result(b"")
            del self._in_flight[key]

    def _dispatch(
        self, raw: bytes, request: dict[str, str], terminal: Terminal, req_digest: bytes
    ) -> Awaitable[bytes]:
        mti = request["t"]
        if mti in ("0100", "0200"):
            return authorisation.handle(self.ctx, request, req_digest, terminal)
        if completion.is_completion(request):
            return completion.handle(self.ctx, request, terminal, req_digest)
        if mti == "0220":
            return advice.handle(self.ctx, request, raw, terminal, req_digest)
        return reversal.handle(self.ctx, request, raw, terminal, req_digest, mti)

    async def _guarded(
        self, work: Awaitable[bytes], mti: str, request: dict[str, str], terminal: Terminal
    ) -> bytes:
        try:
            return await work
        except GateClosed as closed:
            return await self._closed(closed, mti, request, terminal)
        except SecurityUnavailable:
            reply = self._reply(mti, request, codes.ISSUER_UNAVAILABLE)
        except Exception:
            log.exception("system malfunction on %s from %s", mti, terminal.tid)
            reply = self._reply(mti, request, codes.SYSTEM_MALFUNCTION)
        try:
            return await self.ctx.encode(reply, terminal)
        except SecurityUnavailable:
            return await self.ctx.encode(reply, None)

    async def _closed(
        self, closed: GateClosed, mti: str, request: dict[str, str], terminal: Terminal
    ) -> bytes:
        if closed.code == codes.SECURITY_VIOLATION:
            log.warning("MAC failure from terminal %s stan %s", terminal.tid, request["11"])
            return await self.ctx.encode(self._reply(mti, request, closed.code), None)
        try:
            return await self.ctx.encode(self._reply(mti, request, closed.code), terminal)
        except SecurityUnavailable:
            return await self.ctx.encode(self._reply(mti, request, closed.code), None)

    @staticmethod
    def _reply(mti: str, request: dict[str, str], code: str) -> dict[str, str]:
        return response_to(dict(request, t=mti), code)
