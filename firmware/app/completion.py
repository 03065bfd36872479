"""Completion of a pre-authorisation (docs/app.md, "Completion of a
pre-authorisation"), for ``Terminal.complete``: imported when first used, so
a terminal that never completes carries none of it in its heap."""

from firmware.app import messages as msgs
from firmware.app.screens import for_response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def complete(terminal: "Any", stan: str, amount: int) -> "dict":
    """Complete the approved pre-authorisation ``stan`` of the open batch
    for ``amount`` fils (the final amount: at most the hold, or within
    the host's tolerance): an 0220 whose field 90 names the 0100.  The
    host releases the hold and posts ``amount``.  Not answered in time:
    the 0220 is owed (forwarded, as 0221, before the next exchange), as an
    offline approval's advice is.  A pre-authorisation completes once."""
    if not isinstance(amount, int) or amount <= 0:
        raise ValueError("amount: a positive whole number of fils")
    terminal.forward()
    record = None
    for r in terminal.batch.records:
        if r["kind"] == "preauth" and r["stan"] == stan:
            record = r
    txn = {"kind": "completion", "amount": amount, "preauth_stan": stan, "card": None,
           "dt": terminal._dt(), "batch": terminal.batch.batch_field(), "stan": ""}  # fmt: skip
    refusal = terminal.fiscal.refusal() if terminal.fiscal is not None else None
    if refusal is not None:  # the completion is the sale: the journal must take it
        txn.update(result="declined", message=refusal)
        return terminal._finish(txn)
    if record is None or record["status"] not in ("approved", "completed"):
        txn.update(result="declined", message="nothing_to_complete")
        return terminal._finish(txn)
    if record["status"] == "completed":
        txn.update(result="declined", message="already_completed")
        return terminal._finish(txn)
    terminal.ui.show("processing", amount)
    original = record["request"]
    msg = msgs.completion(original, terminal.batch.next_stan(), txn["dt"], amount,
                          record.get("auth_code") or "", txn["batch"])  # fmt: skip
    txn["stan"] = msg["11"]
    txn["auth_code"] = record.get("auth_code")
    answer = terminal._exchange(msg)
    code = answer.get("39") if answer is not None else None
    txn["code"] = code
    if answer is None:
        terminal.batch.owe("advices", msg)
        txn.update(result="approved", message="approved_offline", queued=True)
    elif code == "00":
        txn.update(result="approved", message="approved", rrn=answer.get("37"))
    else:
        message = {"94": "already_completed", "25": "nothing_to_complete"}
        txn.update(result="declined", message=message.get(code, for_response(code)))
    if txn["result"] == "approved" or code == "94":
        record["status"] = "completed"
    status = "approved" if txn["result"] == "approved" else "declined"
    terminal.batch.add({"kind": "completion", "amount": amount, "stan": msg["11"], "mti": "0220",
                    "status": status, "offline": answer is None, "request": msg})  # fmt: skip
    if original.get("2"):
        interface = (
            "contactless" if original.get("22") == msgs.ENTRY_MODE["contactless"] else "contact"
        )
        txn["card"] = {"pan": original["2"], "interface": interface}
    return terminal._finish(txn)
