"""Turnover counters: how each record type moves them (docs/fiscal.md).

Sales add their per-rate line totals to ``sales``, refunds to ``refunds``;
training, void, reports and events leave them unchanged.  The counters in a
record are the lifetime totals *after* that record.
"""

from protocols import fiscal_record as fr


def apply(counters, rtype, receipt):
    """New counters and the record's amount for a record of ``rtype`` with
    ``receipt`` (a ``fiscal_payload.Receipt`` or None)."""
    out = counters.copy()
    if receipt is None:
        return out, 0
    amount = receipt.total()
    if rtype == fr.SALE:
        for rate, total in receipt.totals():
            out.add(rate, total, 0)
    elif rtype == fr.REFUND:
        for rate, total in receipt.totals():
            out.add(rate, 0, total)
    return out, amount
