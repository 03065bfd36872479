"""Processing restrictions, EMV 4.3 Book 3 §10.4: application version
(9F08 / 9F09), Application Usage Control (9F07) against the transaction and
the issuer country (5F28 / 9F1A), effective and expiration dates."""

# 9C transaction types (ISO 8583 processing code, first two digits).
GOODS_SERVICES = 0x00
CASH = 0x01
CASHBACK = 0x09

# AUC byte 1 and 2 (Book 3 Annex C2), as (byte, mask).
AUC = {
    "domestic_cash": (0, 0x80),
    "international_cash": (0, 0x40),
    "domestic_goods": (0, 0x20),
    "international_goods": (0, 0x10),
    "domestic_services": (0, 0x08),
    "international_services": (0, 0x04),
    "atm": (0, 0x02),
    "not_atm": (0, 0x01),
    "domestic_cashback": (1, 0x80),
    "international_cashback": (1, 0x40),
}

# Terminal types 14, 15, 16 with a cash transaction are ATMs (Book 4 Annex A1).
ATM_TYPES = (0x14, 0x15, 0x16)


def bcd_date(value: bytes) -> int:
    """YYMMDD (n6) as YYYYMMDD; YY 00–49 is 20YY, 50–99 is 19YY (§10.4.3)."""
    text = "%02X%02X%02X" % (value[0], value[1], value[2])
    yy = int(text[:2])
    year = 2000 + yy if yy < 50 else 1900 + yy
    return year * 10000 + int(text[2:])


def _auc_allows(auc: bytes, name: str) -> bool:
    index, mask = AUC[name]
    return len(auc) > index and bool(auc[index] & mask)


def check(
    store: "object",
    tvr: "object",
    terminal_type: int,
    transaction_type: int,
    service: str,
    today: bytes,
) -> None:
    values = store.values  # type: ignore[attr-defined]
    # Application version (§10.4.1): only when the card has one.
    card_version = values.get(0x9F08)
    if card_version is not None and card_version != values.get(0x9F09):
        tvr.set("different_versions")  # type: ignore[attr-defined]
    # Application Usage Control (§10.4.2).
    auc = values.get(0x9F07)
    if auc is not None:
        allowed = True
        atm = terminal_type in ATM_TYPES and transaction_type == CASH
        if atm and not _auc_allows(auc, "atm"):
            allowed = False
        if not atm and not _auc_allows(auc, "not_atm"):
            allowed = False
        country = values.get(0x5F28)
        if allowed and country is not None:
            where = "domestic_" if country == values.get(0x9F1A) else "international_"
            if transaction_type == CASH:
                allowed = _auc_allows(auc, where + "cash")
            elif transaction_type == CASHBACK:
                allowed = _auc_allows(auc, where + ("goods" if service == "goods" else "services"))
                allowed = allowed and _auc_allows(auc, where + "cashback")
            elif transaction_type == GOODS_SERVICES:
                allowed = _auc_allows(auc, where + ("goods" if service == "goods" else "services"))
        if not allowed:
            tvr.set("service_not_allowed")  # type: ignore[attr-defined]
    # Dates (§10.4.3); a date that is not a valid n6 counts against the card.
    now = bcd_date(today)
    effective = values.get(0x5F25)
    if effective is not None and _date_after(effective, now, True):
        tvr.set("not_yet_effective")  # type: ignore[attr-defined]
    expiry = values.get(0x5F24)
    if expiry is not None and _date_after(expiry, now, False):
        tvr.set("expired_application")  # type: ignore[attr-defined]


def _date_after(value: bytes, now: int, effective: bool) -> bool:
    """Effective date after today, or expiry date before today."""
    if len(value) != 3:
        return True
    try:
        date = bcd_date(value)
    except ValueError:
        return True
    return date > now if effective else date < now
