"""The transaction store: the open batch, its totals, and the queues of
reversals and advices still owed to the host (docs/app.md, "Batch").

The records are kept in RAM: a restart loses the open batch (the host keeps
the truth; the settlement then answers 95).  What the terminal still owes
the host does not get lost: with a ``store`` (firmware/app/owed.py) every
owed reversal and advice is kept on the flash, sealed by the secure
element, until the host has answered it, and the STAN counter goes on
from where it was.  Amounts are integers in fils.
What counts in the totals is what the host counts (docs/acquirer.md,
settlement): approved 0200 purchases and 0220 advices as sales, refunds as
refunds, a reversed transaction not at all; 0100 holds are not in a batch."""


class Batch:
    def __init__(self, number: int = 1, store: "object" = None) -> None:
        self.number = number
        self.records: "list[dict]" = []
        self.reversals: "list[dict]" = []  # 0400 requests not yet answered
        self.advices: "list[dict]" = []  # 0220 requests not yet answered
        self._stan = 0
        self.store = store
        if store is not None:  # what a power cut left: owed messages, the counter
            self._stan, self.reversals, self.advices = store.load()

    def batch_field(self) -> str:
        return "%06d" % self.number

    def next_stan(self) -> str:
        self._stan = self._stan % 999999 + 1
        if self.store is not None:
            self.store.save_stan(self._stan)
        return "%06d" % self._stan

    # -- what is owed to the host (kept in the store until answered) ------
    def owe(self, name: str, msg: "dict") -> None:
        """Queue ``msg`` on ``reversals`` or ``advices``."""
        getattr(self, name).append(msg)
        if self.store is not None:
            self.store.put(name, msg)

    def retry(self, name: str, msg: "dict") -> None:
        """The host did not answer ``msg``: the next try is a repeat (0401 /
        0221)."""
        msg["t"] = msg["t"][:3] + "1"
        if self.store is not None:
            self.store.put(name, msg)

    def answered(self, name: str) -> None:
        """The host answered the first message of the queue."""
        msg = getattr(self, name).pop(0)
        if self.store is not None:
            self.store.drop(name, msg)

    def withdraw(self, name: str, msg: "dict") -> None:
        """An owed message that need not go any more (an advice voided)."""
        getattr(self, name).remove(msg)
        if self.store is not None:
            self.store.drop(name, msg)

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
