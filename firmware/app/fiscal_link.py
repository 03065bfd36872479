"""The payment flows and the fiscal memory (firmware/fiscal, docs/fiscal.md;
docs/app.md "Fiscal memory").

A sale is refused before any card is read when the journal would refuse
its record (Z report overdue, memory full, header damaged, secure element
failed): a card must never be charged for a sale the law does not let the
terminal record.  An approved sale, refund or completion becomes one signed
record (one line at the terminal's tax rate, method card) whose QR the
receipt carries; a void is a void event naming the record; batch close
makes the Z report.
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
                 label: str = "CARD PAYMENT") -> None:  # fmt: skip
        self.journal = journal
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
