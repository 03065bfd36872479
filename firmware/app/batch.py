"""The transaction store: the open batch, its totals, and the queues of
reversals and advices still owed to the host (docs/app.md, "Batch").

Kept in RAM: a restart loses the open batch (the fiscal flash journal of the
terminal box will carry it; not done here).  Amounts are integers in fils.
What counts in the totals is what the host counts (docs/acquirer.md,
settlement): approved 0200 purchases and 0220 advices as sales, refunds as
refunds, a reversed transaction not at all; 0100 holds are not in a batch."""


class Batch:
    def __init__(self, number: int = 1) -> None:
        self.number = number
        self.records: "list[dict]" = []
        self.reversals: "list[dict]" = []  # 0400 requests not yet answered
        self.advices: "list[dict]" = []  # 0220 requests not yet answered
        self._stan = 0

    def batch_field(self) -> str:
        return "%06d" % self.number

    def next_stan(self) -> str:
        self._stan = self._stan % 999999 + 1
        return "%06d" % self._stan

    def add(self, record: "dict") -> None:
        """record: kind (sale / refund / preauth), amount, stan, mti, status
        (approved / declined / reversed), offline (bool)."""
        self.records.append(record)

    def mark_reversed(self, stan: str) -> None:
        for r in self.records:
            if r["stan"] == stan:
                r["status"] = "reversed"

    def totals(self) -> "tuple[int, int, int, int]":
        sales = sales_amount = refunds = refunds_amount = 0
        for r in self.records:
            if r["status"] != "approved" or r["kind"] == "preauth":
                continue
            if r["kind"] == "refund":
                refunds += 1
                refunds_amount += r["amount"]
            else:
                sales += 1
                sales_amount += r["amount"]
        return sales, sales_amount, refunds, refunds_amount

    def close(self) -> None:
        """The host agreed with the totals: the next batch opens."""
        self.number = self.number % 999999 + 1
        self.records = []
