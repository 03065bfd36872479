"""The terminal's flows (docs/app.md): sale by tap or insert, refund,
pre-authorisation and completion, reversal of what the host did not answer,
advices for offline approvals, sign-on / echo and batch close.

Everything is injected: the card readers (PN532 driver, ISO 7816 reader),
the ``Online`` link, the keys (PIN block, MAC), the printer, the ``Ui``, the
input source (``pin() -> bytearray | None``: the keypad, or a script in an
unattended run), the board's clock and a random source.  Each flow returns
a result dict and leaves the terminal ready for the next one."""

import gc

from firmware.app import cards as cards_mod
from firmware.app import messages as msgs
from firmware.app import receipt as receipt_mod
from firmware.app.online import HostTimeout
from firmware.app.screens import for_response
from firmware.hostlink import HostLinkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CARD_WAIT_MS = 5000
OFFLINE_CODE = {"contactless": "Y1", "contact": "Y1"}


def _bcd2(n: int) -> int:
    return ((n // 10) << 4) | (n % 10)


class Terminal:
    def __init__(
        self,
        terminal: "dict",
        online: "Any",
        keys: "Any",
        ui: "Any",
        inputs: "Any",
        clock: "Any",
        rng: "Any",
        batch: "Any",
        nfc: "Any" = None,
        contact: "Any" = None,
        printer: "Any" = None,
    ) -> None:
        self.terminal = terminal
        self.online = online
        self.keys = keys
        self.ui = ui
        self.inputs = inputs
        self.clock = clock
        self.rng = rng
        self.batch = batch
        self.nfc = nfc
        self.contact = contact
        self.printer = printer
        self.amount: "int | None" = None
        self.receipts = 0
        self.trace: "Any" = None  # the card transaction's EMV trace (masked)
        # trace_sink(head, trace) takes each card transaction's trace before
        # the receipts print (then it is let go: its many small strings,
        # kept, would leave the heap no block for the receipt's rasters)
        self.trace_sink: "Any" = None
        self._reserve: "bytearray | None" = None
        # the fiscal memory (firmware/app/fiscal_link.py), None on a
        # terminal that keeps none
        self.fiscal: "Any" = None
        self._reserve_size = 0

    # -- helpers ---------------------------------------------------------
    def _dt(self) -> "tuple":
        return self.clock.datetime()

    def _result(self, kind: str, amount: int, result: str, message: str, **kw: "Any") -> "dict":
        r = {"kind": kind, "amount": amount, "result": result, "message": message}
        r.update(kw)
        return r

    def _exchange(self, msg: "dict") -> "dict[str, str] | None":
        """The host's answer, or None when it did not answer in time."""
        try:
            return self.online.exchange(msg)
        except HostTimeout:
            return None

    def _reverse(self, original: "dict", reason: str) -> None:
        """Queue an 0400 for ``original`` and try to deliver it now."""
        msg = msgs.reversal(original, self.batch.next_stan(), self._dt(), reason)
        self.batch.owe("reversals", msg)
        self.batch.mark_reversed(original["11"])
        self.forward()

    def forward(self) -> "dict":
        """Deliver owed reversals, then advices; a repeat (0401 / 0221) after
        a try that got no answer.  Stops at the first silence."""
        sent = {"reversals": 0, "advices": 0}
        for queue, name in ((self.batch.reversals, "reversals"), (self.batch.advices, "advices")):
            while queue:
                msg = queue[0]
                try:
                    answer = self.online.exchange(msg)
                except HostLinkError:
                    answer = None
                if answer is None:
                    self.batch.retry(name, msg)  # the next try is a repeat
                    return sent
                self.batch.answered(name)
                sent[name] += 1
        return sent

    def reserve_receipt_memory(self, size: int) -> None:
        """Hold ``size`` bytes in one block, taken at boot, and give it up
        only while a receipt is built and printed.  A sale leaves its
        survivors (the batch record, the queues) scattered over the heap:
        with half of it free, no block of 2.5 KB may be left for the
        receipt's Arabic rasters.  The reserve is such a block."""
        self._reserve_size = size
        try:
            self._reserve = bytearray(size)
        except MemoryError:  # a heap too small for it: run without
            self._reserve = None

    def _print(self, txn: "dict") -> None:
        if self.printer is None:
            return
        if self._reserve is not None:
            self._reserve = None
            gc.collect()
        try:
            self._print_copies(txn)
        finally:
            if self._reserve_size:
                gc.collect()
                try:
                    self._reserve = bytearray(self._reserve_size)
                except MemoryError:  # kept going without: the next receipt may fail
                    self._reserve = None

    def _print_copies(self, txn: "dict") -> None:
        copies = ("MERCHANT", "CUSTOMER") if txn["result"] == "approved" else ("CUSTOMER",)
        try:
            for copy in copies:
                r = receipt_mod.build(self.printer.receipt(), self.terminal, txn, copy)
                self.printer.print(r)
                self.receipts += 1
        except Exception as exc:  # PrinterError, a dead link: the sale stands
            self.ui.show("printer")
            txn["printer_error"] = str(exc)

    def _fiscal_record(self, txn: "dict") -> None:
        """The approved sale / refund / completion as a signed fiscal record
        (its sequence and QR go on the receipt); when the journal refuses
        or fails, the payment is given back: reversed, or its advice dropped."""
        try:
            rec = self.fiscal.record(txn["kind"], txn["amount"])
        except Exception as exc:  # FiscalError (refused, signer failed, flash)
            for r in self.batch.records:
                if r["stan"] == txn["stan"]:
                    request = r["request"]
                    if r["offline"] and request in self.batch.advices:
                        self.batch.withdraw("advices", request)
                        r["status"] = "reversed"
                    elif not r["offline"]:
                        self._reverse(request, msgs.REVERSAL_FISCAL)
            txn.update(result="declined", message="fiscal_failed", fiscal_error=str(exc))
            return
        from firmware.fiscal import receipt_qr

        txn["fiscal_seq"] = rec.seq
        txn["fiscal_qr"] = receipt_qr.content(rec)
        for r in self.batch.records:
            if r["stan"] == txn["stan"]:
                r["fiscal_seq"] = rec.seq

    def _finish(self, txn: "dict") -> "dict":
        if (self.fiscal is not None and txn["result"] == "approved"
                and txn["kind"] in ("sale", "refund", "completion")):  # fmt: skip
            self._fiscal_record(txn)
        self.ui.show(txn["message"], txn["amount"])
        if txn.get("card") is not None:
            self._print(txn)
            card = txn["card"]
            txn["pan_masked"] = receipt_mod.mask_pan(card.get("pan"))
            txn["card"] = None  # the PAN leaves RAM with the transaction
        if txn.get("fiscal_seq") is not None:  # real time, once the receipt is out
            upload = self.fiscal.upload()
            if upload is not None:
                txn["upload"] = upload
        self.amount = None
        self.ui.show("idle")
        return txn

    # -- network management ---------------------------------------------
    def sign_on(self) -> "dict":
        r = self._exchange(msgs.network("001", self.batch.next_stan(), self._dt(), self.terminal))
        return {"kind": "sign_on", "code": r.get("39") if r else None}

    def echo(self) -> "dict":
        r = self._exchange(msgs.network("301", self.batch.next_stan(), self._dt(), self.terminal))
        return {"kind": "echo", "code": r.get("39") if r else None}

    # -- card reading ----------------------------------------------------
    def _txn_data(self, amount: int, ttype: int) -> "dict":
        dt = self._dt()
        return {
            "amount": amount,
            "type": ttype,
            "date": bytes([_bcd2(dt[0] % 100), _bcd2(dt[1]), _bcd2(dt[2])]),
            "time": bytes([_bcd2(dt[4]), _bcd2(dt[5]), _bcd2(dt[6])]),
        }

    def _tap(self, amount: int, ttype: int) -> "Any":
        target = self.nfc.wait_for_card(CARD_WAIT_MS)
        if target is None:
            return None
        from firmware.emv.contactless.entry_point import EntryPoint

        try:
            return EntryPoint(rng=self.rng, clock=self.clock).start(
                target, self._txn_data(amount, ttype)
            )
        finally:
            try:
                self.nfc.release()
                self.nfc.rf_off()
            except Exception:  # the card left; the reader resets on the next poll
                pass

    # -- sale ------------------------------------------------------------
    def sale(self, amount: int, interface: str, kind: str = "sale") -> "dict":
        if not isinstance(amount, int) or amount <= 0:
            raise ValueError("amount: a positive whole number of fils")
        self.amount = amount
        self.trace = None
        self.ui.show("amount", amount)
        if self.fiscal is not None and kind != "preauth":
            refusal = self.fiscal.refusal()
            if refusal is not None:  # before any card: nothing may be charged
                self.ui.show(refusal, amount)
                self.ui.show("idle")
                self.amount = None
                return self._result(kind, amount, "declined", refusal)
        self.forward()
        self.ui.show("present_card", amount)
        if interface == "tap":
            txn = self._sale_tap(amount, kind)
        else:
            txn = self._sale_insert(amount, kind)
        trace = self.trace
        self.trace = None
        if trace is not None and self.trace_sink is not None:
            head = {"kind": kind, "interface": "contactless" if interface == "tap" else "contact",
                    "stan": txn.get("stan") or "", "result": txn.get("result")}  # fmt: skip
            if txn.get("kernel") is not None:
                head["kernel"] = txn["kernel"]
            self.trace_sink(head, trace)
        trace = None
        return self._finish(txn)

    def _base_txn(self, kind: str, amount: int, card: "dict | None") -> "dict":
        return {
            "kind": kind,
            "amount": amount,
            "card": card,
            "dt": self._dt(),
            "batch": self.batch.batch_field(),
            "stan": "",
        }

    def _authorise(self, txn: "dict", icc: "bytes | None", pin: "Any") -> "dict[str, str] | None":
        mti = "0100" if txn["kind"] == "preauth" else "0200"
        pcode = msgs.REFUND if txn["kind"] == "refund" else msgs.PURCHASE
        stan = self.batch.next_stan()
        txn["stan"] = stan
        req = msgs.financial(
            mti, pcode, txn["amount"], stan, txn["dt"], self.terminal, txn["card"], icc, pin,
            self.batch.batch_field(),
        )  # fmt: skip
        txn["request"] = req
        self.ui.show("processing", txn["amount"])
        try:
            answer = self.online.exchange(req)
        except HostLinkError:
            answer = None
        kept = {}
        for k in req:
            if k not in ("52", "53", "55"):
                kept[k] = req[k]
        self.batch.add({"kind": txn["kind"], "amount": txn["amount"], "stan": stan, "mti": mti,
                        "status": "pending", "offline": False, "request": kept})  # fmt: skip
        if answer is None:
            self._reverse(req, msgs.REVERSAL_TIMEOUT)
            txn["reversed"] = True
            return None
        code = answer.get("39")
        self._set_status(stan, "approved" if code == "00" else "declined")
        if code == "00":
            self.batch.records[-1]["auth_code"] = answer.get("38")  # a completion names it
        txn["code"] = code
        txn["auth_code"] = answer.get("38")
        txn["rrn"] = answer.get("37")
        return answer

    def _set_status(self, stan: str, status: str) -> None:
        for r in self.batch.records:
            if r["stan"] == stan:
                r["status"] = status

    def _offline_approval(self, txn: "dict", icc: bytes, code: str) -> None:
        """An approval the card gave without the host: recorded, and an 0220
        owed to the host (38 = the offline code)."""
        mti_req = msgs.financial("0200", msgs.REFUND if txn["kind"] == "refund" else msgs.PURCHASE,
                                 txn["amount"], txn["stan"] or "000000", txn["dt"], self.terminal,
                                 txn["card"], icc, None, self.batch.batch_field())  # fmt: skip
        stan = self.batch.next_stan()
        advice = msgs.advice(mti_req, stan, self._dt(), code)
        self.batch.owe("advices", advice)
        self.batch.add({"kind": txn["kind"], "amount": txn["amount"], "stan": stan, "mti": "0220",
                        "status": "approved", "offline": True, "request": advice})  # fmt: skip
        txn["stan"] = stan
        txn["auth_code"] = code
        txn["result"] = "approved"
        txn["message"] = "approved_offline"

    def _sale_tap(self, amount: int, kind: str) -> "dict":
        ttype = 0x20 if kind == "refund" else 0x00
        outcome = self._tap(amount, ttype)
        self.trace = getattr(outcome, "trace", None)
        if outcome is None:
            return self._result(kind, amount, "declined", "no_card")
        status = outcome.status
        data = outcome.data or {}
        card = cards_mod.card_from_tags(data.get, "contactless") if data else None
        txn = self._base_txn(kind, amount, card)
        txn["kernel"] = outcome.kernel
        txn["outcome"] = status
        if kind == "refund" and card is not None and card.get("pan"):
            # A refund credits the cardholder: the host decides, whatever
            # cryptogram the card gave; no ICC data goes with it.
            return self._decide(txn, self._authorise(txn, None, None))
        if kind == "preauth" and status == "approved" and card is not None:
            # a hold is the host's to place: never approved offline; the
            # card's TC is no ARQC, so no ICC data goes with it
            return self._decide(txn, self._authorise(txn, None, None))
        if status == "approved" and card is not None:
            self._offline_approval(
                txn, cards_mod.contactless_icc(data), OFFLINE_CODE["contactless"]
            )
            return txn
        if status == "online request" and card is not None:
            pin = None
            if outcome.params.get("cvm") == "online PIN":
                pin = self._online_pin(amount, card["pan"])
                if pin is None:
                    txn.update(result="declined", message="cancelled")
                    return txn
                txn["cvm_text"] = "PIN VERIFIED ONLINE"
            elif outcome.params.get("cvm") == "obtain signature":
                txn["signature"] = True
            answer = self._authorise(txn, cards_mod.contactless_icc(data), pin)
            return self._decide(txn, answer)
        message = {
            "declined": "declined_card",
            "try another interface": "insert_card",
            "try again": "card_error",
            "end application": "card_error",
        }.get(status, "card_error")
        txn.update(result="declined", message=message)
        return txn

    def _online_pin(self, amount: int, pan: str) -> "tuple[bytes, bytes] | None":
        self.ui.show("pin", amount)
        pin = self.inputs.pin()
        if pin is None:
            return None
        return self.keys.pin_block(pin, pan)

    def _decide(self, txn: "dict", answer: "dict[str, str] | None") -> "dict":
        if answer is None:
            txn.update(result="declined", message="host_timeout")
        elif answer.get("39") == "00":
            txn.update(result="approved", message="approved")
        else:
            txn.update(result="declined", message=for_response(answer.get("39")))
        if txn["result"] != "approved" and txn.get("cvm_text") == "PIN VERIFIED ONLINE":
            txn["cvm_text"] = "ONLINE PIN"  # the host did not say the PIN was right
        return txn

    def _sale_insert(self, amount: int, kind: str) -> "dict":
        """The chip flow (firmware/app/insert.py, imported when a card is in)."""
        if not self._card_present():
            return self._result(kind, amount, "declined", "no_card")
        from firmware.app.insert import sale_insert

        return sale_insert(self, amount, kind)

    # -- void ------------------------------------------------------------
    def void(self, stan: "str | None" = None) -> "dict":
        """Cancel an approved transaction of the open batch (the last one by
        default): an advice not yet delivered is simply dropped; otherwise
        an 0400 (reason 17, customer cancellation) must be accepted."""
        record = None
        for r in self.batch.records:
            if r["status"] == "approved" and (stan is None or r["stan"] == stan):
                record = r
        if record is None:
            self.ui.show("declined")
            return {"kind": "void", "result": "declined", "message": "nothing to void"}
        original = record["request"]
        if original in self.batch.advices:
            self.batch.withdraw("advices", original)
            record["status"] = "reversed"
            code: "str | None" = "00"
        else:
            rev = msgs.reversal(original, self.batch.next_stan(), self._dt(), msgs.REVERSAL_VOID)
            answer = self._exchange(rev)
            code = answer.get("39") if answer else None
            if code == "00":
                record["status"] = "reversed"
            elif code is None:
                self.batch.owe("reversals", rev)  # owed: delivered before the next one
                record["status"] = "reversed"
        result = "approved" if record["status"] == "reversed" else "declined"
        fiscal_void = None
        if result == "approved" and self.fiscal is not None and record.get("fiscal_seq"):
            try:  # the voided sale's record stays; a void event names it
                fiscal_void = self.fiscal.void(record["fiscal_seq"]).seq
            except Exception:  # the payment is voided either way; the record says so
                fiscal_void = None
        self.ui.show("voided" if result == "approved" else for_response(code), record["amount"])
        self.ui.show("idle")
        out = {"kind": "void", "result": result, "code": code, "stan": record["stan"],
               "amount": record["amount"]}  # fmt: skip
        if fiscal_void is not None:
            out["fiscal_seq"] = fiscal_void
        return out

    # -- completion ------------------------------------------------------
    def complete(self, stan: str, amount: int) -> "dict":
        """Complete the approved pre-authorisation ``stan`` for ``amount``
        fils (firmware/app/completion.py, imported when first used)."""
        from firmware.app.completion import complete

        return complete(self, stan, amount)

    def _card_present(self) -> bool:
        try:
            return bool(self.contact.present())
        except Exception:
            return False

    # -- batch close -----------------------------------------------------
    def batch_close(self) -> "dict":
        self.forward()
        totals = self.batch.totals()
        number = self.batch.batch_field()
        answer = self._exchange(
            msgs.settlement(self.batch.next_stan(), self._dt(), self.terminal, number, totals)
        )
        code = answer.get("39") if answer else None
        if code == "00":
            self.batch.close()
            self.ui.show("batch_closed")
        else:
            self.ui.show("batch_mismatch" if code == "95" else for_response(code))
        out = {"kind": "batch_close", "batch": number, "totals": list(totals), "code": code}
        if self.fiscal is not None:  # the fiscal day closes with the batch
            try:
                z = self.fiscal.z_report()
                out["z_report"] = {
                    "seq": z.seq,
                    "z_number": self.fiscal.journal.status()["z_number"],
                }
                upload = self.fiscal.upload(force=True)  # the day's close always tries
                if upload is not None:
                    out["upload"] = upload
            except Exception as exc:  # FiscalError: reported, the batch stands
                out["z_error"] = str(exc)
        return out
