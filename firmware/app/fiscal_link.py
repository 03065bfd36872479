"""The payment flows and the fiscal memory (firmware/fiscal, docs/fiscal.md;
docs/app.md "Fiscal memory").

A sale is refused before any card is read when the journal would refuse
its record (Z report overdue, memory full, header damaged, secure element
failed): a card must never be charged for a sale the law does not let the
terminal record.  An approved sale, refund or completion becomes one signed
record (one line at the terminal's tax rate, method card) whose QR the
receipt carries; a void is a void event naming the record; batch close
makes the Z report.  With an uploader (firmware/fiscal/uploader.py) each
record goes to the tax backend once the receipt is out, and what the
backend has not acknowledged (the terminal was offline) goes with the
next one: the journal is the queue.  After a failed upload the next ones
wait ``retry_s`` (the cashier does not wait for a link that is down after
every receipt); the day's close always tries.
"""

from firmware.fiscal.errors import FiscalError, MemoryFull, ZOverdue
from protocols import fiscal_record as fr

METHOD_CARD = 1  # protocols.fiscal_payload.METHODS
QTY_ONE = 1000  # quantities are in thousandths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class FiscalLink:
    def __init__(self, journal: "Any", clock: "Any", rate_bp: int = 1600,
                 label: str = "CARD PAYMENT", uploader: "Any" = None,
                 retry_s: int = 300, fs: "Any" = None) -> None:  # fmt: skip
        self.journal = journal
        self.fs = fs  # the fiscal flash's Files (the owed messages live there too)
        self.uploader = uploader
        self.retry_s = retry_s
        self.retry_at = 0  # no upload tried before this time (after a failure)
        self.clock = clock  # now() -> Unix seconds (the board's RTC)
        self.rate_bp = rate_bp
        self.label = label

    def refusal(self) -> "str | None":
        """The message key when the journal would refuse a sale now."""
        try:
            self.journal.check_selling(self.clock.now())
        except ZOverdue:
            return "z_overdue"
        except MemoryFull:
            return "fiscal_full"
        except FiscalError:
            return "fiscal_refused"
        return None

    def record(self, kind: str, amount: int) -> "Any":
        """The signed record of an approved sale / refund / completion
        (raises FiscalError when the journal refuses or fails)."""
        lines = [(self.rate_bp, QTY_ONE, amount, amount, self.label)]
        now = self.clock.now()
        if kind == "refund":
            return self.journal.refund(lines, now, 0, METHOD_CARD)
        return self.journal.sale(lines, now, METHOD_CARD)

    def void(self, seq: int) -> "Any":
        return self.journal.event(fr.VOID, self.clock.now(), 0, "card payment voided", seq)

    def z_report(self) -> "Any":
        return self.journal.z_report(self.clock.now())

    def upload(self, force: bool = False) -> "dict | None":
        """Send what the tax backend has not acknowledged; a short report
        (``accepted``, ``already_submitted``, ``rejected``, ``last_seq``,
        ``pending``, ``error``), None without an uploader.  Never raises:
        a backend that is away or answers badly leaves the records queued
        in the journal for the next call.  Within ``retry_s`` of a failure
        nothing is tried (``error`` kind ``deferred``) unless ``force``."""
        if self.uploader is None:
            return None
        now = self.clock.now()
        if not force and now < self.retry_at:
            return {"error": {"kind": "deferred", "message": "next try in %d s"
                              % (self.retry_at - now)}}  # fmt: skip
        try:
            res = self.uploader.upload(now)
        except Exception as exc:  # DecodeError, HttpRefused: reported, retried later
            self.retry_at = now + self.retry_s
            return {"error": {"kind": "failed", "message": str(exc)}}
        self.retry_at = now + self.retry_s if res.get("error") else 0
        out = {}
        for key in ("accepted", "already_submitted", "rejected", "last_seq", "pending",
                    "refused", "error"):  # fmt: skip
            if res.get(key) is not None:
                out[key] = res[key]
        return out
