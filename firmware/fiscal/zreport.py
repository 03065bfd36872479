"""X and Z reports: the period since the last Z report (docs/fiscal.md).

A report carries the Z number, the period's start, the first and last
sequence numbers it covers, the RFC 6962 root over ``leaf_hash(record
hash)`` of those records, and the period's totals per rate.  A Z report
closes the period; an X report is the same without closing.
"""

from protocols import fiscal_payload as fp

DEFAULT_Z_LIMIT_S = 24 * 3600


def build(z_number, period_start, first_seq, last_seq, frontier, counters, base):
    count = frontier.size
    totals = counters.minus(base).rates
    return fp.Report(z_number, period_start, first_seq, last_seq, count, frontier.root(), totals)


def overdue(now, last_z_time, limit_s):
    """True when the last Z report (or the journal's start) is older than
    the limit: sales must be refused until a Z report is made."""
    return now - last_z_time > limit_s
