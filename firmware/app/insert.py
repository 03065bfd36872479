"""The chip flow of a sale, refund or pre-authorisation (EMV Book 3
through firmware/emv/contact): the card powered, the kernel run with the
terminal's cardholder interface (application choice, offline PIN into
VERIFY, online PIN enciphered at once by the keys), the host asked when
the card wants it, the second GENERATE AC with the host's answer, the card
powered off.  Imported by ``Terminal._sale_insert`` once a card is in the
slot (docs/app.md "Sale by insert")."""

from firmware.app import cards as cards_mod
from firmware.app import messages as msgs
from firmware.app.keys import wipe
from firmware.app.terminal import OFFLINE_CODE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

OFFLINE_AFTER_FAILED_ONLINE = "Y3"


class KernelUi:
    """The contact kernel's cardholder interface: application choice, offline
    PIN into VERIFY, online PIN enciphered at once by the keys."""

    def __init__(self, terminal: "Any") -> None:
        self.t = terminal
        self.kernel: "Any" = None
        self.pin_block: "tuple[bytes, bytes] | None" = None

    def choose_application(self, candidates: "Any") -> int:
        return 0

    def confirm_application(self, candidate: "Any") -> bool:
        return True

    def offline_pin(self, tries: "int | None") -> "bytearray | None":
        self.t.ui.show("pin", self.t.amount)
        return self.t.inputs.pin()

    def online_pin(self) -> bool:
        self.t.ui.show("pin", self.t.amount)
        pin = self.t.inputs.pin()
        if pin is None:
            return False
        pan = self.kernel.store.get(0x5A) if self.kernel is not None else None
        if not pan:
            wipe(pin)
            return False
        self.pin_block = self.t.keys.pin_block(
            pin, cards_mod.card_from_tags({0x5A: pan}.get, "contact")["pan"]
        )
        return True


def sale_insert(t: "Any", amount: int, kind: str) -> "dict":
    """The terminal ``t``'s chip flow for ``amount`` fils (the card is in)."""
    try:
        t.contact.power_on()
    except Exception:  # CardAbsent (pulled meanwhile), CardTimeout, a bad ATR
        return t._result(kind, amount, "declined", "card_error")
    from firmware.emv.config import default_config
    from firmware.emv.contact.kernel import (
        APPROVED,
        NOT_ACCEPTED,
        ONLINE_REQUEST,
        ContactKernel,
        HostResponse,
    )

    kui = KernelUi(t)

    def clock6() -> "tuple":
        dt = t._dt()
        return (dt[0], dt[1], dt[2], dt[4], dt[5], dt[6])

    kernel = ContactKernel(t.contact, default_config(), clock6, t.rng, kui)
    kui.kernel = kernel
    t.trace = kernel.trace
    try:
        outcome = kernel.start(amount=amount, transaction_type=0x20 if kind == "refund" else 0x00)
        card = cards_mod.card_from_tags(kernel.store.get, "contact")
        txn = t._base_txn(kind, amount, card if card.get("pan") else None)
        if kind == "refund" and card.get("pan"):
            if outcome.result == ONLINE_REQUEST:
                outcome = kernel.complete(None)  # end the card's session
            t._decide(txn, t._authorise(txn, None, None))
        elif outcome.result == ONLINE_REQUEST:
            icc = kernel.online_data()
            if outcome.offline_pin:
                txn["cvm_text"] = "PIN VERIFIED"
            elif kui.pin_block is not None:
                txn["cvm_text"] = "PIN VERIFIED ONLINE"
            answer = t._authorise(txn, icc, kui.pin_block)
            if answer is None:
                outcome = kernel.complete(None)
                if outcome.result == APPROVED:
                    t._offline_approval(txn, icc, OFFLINE_AFTER_FAILED_ONLINE)
                else:
                    txn.update(result="declined", message="host_timeout")
            else:
                auth, scripts = cards_mod.issuer_data(answer.get("55"))
                arc = answer.get("39", "05").encode()
                outcome = kernel.complete(HostResponse(arc=arc, auth_data=auth, scripts=scripts))
                t._decide(txn, answer)
                if txn["result"] == "approved" and outcome.result != APPROVED:
                    # the card refused what the host approved: give it back
                    t._reverse(txn["request"], msgs.REVERSAL_CARD_DECLINED)
                    txn.update(result="declined", message="declined_card")
        elif outcome.result == APPROVED:
            if outcome.offline_pin:
                txn["cvm_text"] = "PIN VERIFIED"
            t._offline_approval(txn, kernel.online_data(), OFFLINE_CODE["contact"])
        elif outcome.result == NOT_ACCEPTED:
            txn.update(result="declined", message="not_accepted")
        elif outcome.result == "declined":
            expired = len(outcome.tvr) > 1 and outcome.tvr[1] & 0x40
            txn.update(result="declined", message="expired_card" if expired else "declined_card")
        else:
            gone = not t._card_present()
            txn.update(result="declined", message="card_removed" if gone else "card_error")
        txn["tvr"] = outcome.tvr
        txn["tsi"] = outcome.tsi
        txn["signature"] = outcome.signature
        txn["contact_outcome"] = outcome.result
        txn["reason"] = outcome.reason
        return txn
    finally:
        try:
            t.contact.power_off()
        except Exception:
            pass
