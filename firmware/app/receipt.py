"""Customer and merchant receipts, bilingual (docs/app.md, "Receipts").

Masked PAN (last four digits only), AID, application label, entry mode,
CVM, auth code, RRN, STAN, and the TVR / TSI on contact-chip receipts (the
schemes ask for them there); the Arabic lines are shaped rasters."""

from firmware.drivers.printer.layout import money

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

KIND_TEXT = {
    "sale": ("SALE", "بيع"),
    "refund": ("REFUND", "استرداد"),
    "preauth": ("PRE-AUTHORISATION", "تفويض مسبق"),
    "completion": ("COMPLETION", "إتمام تفويض مسبق"),
}


def mask_pan(pan: "str | None") -> str:
    if not pan:
        return "****"
    return "*" * (len(pan) - 4) + pan[-4:]


def _hex(b: "bytes | None") -> str:
    return "".join("%02X" % x for x in b) if b else ""


def build(receipt: "Any", terminal: "dict", txn: "dict", copy: str) -> "Any":
    """Fill ``receipt`` (a firmware.drivers.printer Receipt) for ``txn``;
    ``copy`` is "CUSTOMER" or "MERCHANT"."""
    r = receipt
    r.header(terminal["name"], [terminal["city"]])
    r.arabic(terminal["name_ar"], align="center")
    dt = txn["dt"]
    lines = [
        "%04d-%02d-%02d %02d:%02d:%02d" % (dt[0], dt[1], dt[2], dt[4], dt[5], dt[6]),
        "TID %s  MID %s" % (terminal["tid"], terminal["mid"]),
        "BATCH %s  STAN %s" % (txn["batch"], txn["stan"]),
    ]
    r.lines(lines)
    r.separator()
    en, ar = KIND_TEXT[txn["kind"]]
    r.lines([en])
    r.arabic(ar)
    card = txn.get("card") or {}
    lines = ["CARD %s" % mask_pan(card.get("pan"))]
    if card.get("label"):
        lines.append("APP %s" % card["label"])
    if card.get("aid"):
        lines.append("AID %s" % _hex(card["aid"]))
    lines.append("ENTRY %s" % ("CONTACTLESS" if card.get("interface") == "contactless" else "CHIP"))
    if txn.get("tvr") is not None:
        lines.append("TVR %s  TSI %s" % (_hex(txn["tvr"]), _hex(txn.get("tsi"))))
    r.lines(lines)
    r.total("TOTAL JOD", money(txn["amount"]))
    r.arabic_item("المجموع دينار", money(txn["amount"]))
    r.separator()
    if txn["result"] == "approved":
        lines = ["APPROVED"]
        if txn.get("auth_code"):
            lines.append("AUTH CODE %s" % txn["auth_code"])
        if txn.get("rrn"):
            lines.append("RRN %s" % txn["rrn"])
        r.lines(lines)
        r.arabic("مقبولة")
    else:
        r.lines(["DECLINED %s" % txn.get("message", "")])
        r.arabic("مرفوضة")
    cvm = txn.get("cvm_text")
    if cvm:
        r.lines([cvm])
    if txn.get("signature") and copy == "MERCHANT":
        r.lines(["", "SIGNATURE ______________________"])
    if txn.get("fiscal_qr"):  # what an inspector verifies offline (docs/fiscal.md)
        r.lines(["FISCAL RECEIPT NO. %d" % txn["fiscal_seq"]])
        r.qr_code(txn["fiscal_qr"], "M")
    r.footer(["%s COPY" % copy, "THANK YOU"])
    r.arabic("شكراً لزيارتكم")
    r.finish()
    return r
