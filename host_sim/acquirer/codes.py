"""Response codes (field 39) as ISO 8583:1987 and the card networks use them."""

from __future__ import annotations

APPROVED = "00"
INVALID_MERCHANT = "03"  # unknown or inactive terminal / merchant
DO_NOT_HONOUR = "05"  # generic decline; also a blocked card, a wrong ARQC
INVALID_TRANSACTION = "12"  # processing code the host does not serve
INVALID_AMOUNT = "13"
INVALID_CARD_NUMBER = "14"  # no such account, or the PAN fails Luhn
NO_ACTION_TAKEN = "21"
UNABLE_TO_LOCATE = "25"  # reversal of an unknown original
FORMAT_ERROR = "30"
LOST_CARD = "41"  # pick up
STOLEN_CARD = "43"  # pick up
INSUFFICIENT_FUNDS = "51"
EXPIRED_CARD = "54"
INCORRECT_PIN = "55"
NOT_PERMITTED_CARDHOLDER = "57"
NOT_PERMITTED_TERMINAL = "58"
EXCEEDS_LIMIT = "61"  # exceeds withdrawal amount limit
SECURITY_VIOLATION = "63"  # MAC missing or wrong
PIN_TRIES_EXCEEDED = "75"
NOT_SUPPORTED = "40"
RECONCILE_ERROR = "95"  # settlement totals out of balance
ISSUER_UNAVAILABLE = "91"  # the HSM (the issuer's security) cannot be reached
DUPLICATE = "94"
SYSTEM_MALFUNCTION = "96"

MEANING = {
    APPROVED: "approved",
    INVALID_MERCHANT: "invalid merchant",
    DO_NOT_HONOUR: "do not honour",
    INVALID_TRANSACTION: "invalid transaction",
    INVALID_AMOUNT: "invalid amount",
    INVALID_CARD_NUMBER: "invalid card number",
    NO_ACTION_TAKEN: "no action taken",
    UNABLE_TO_LOCATE: "unable to locate original",
    FORMAT_ERROR: "format error",
    NOT_SUPPORTED: "function not supported",
    LOST_CARD: "lost card, pick up",
    STOLEN_CARD: "stolen card, pick up",
    INSUFFICIENT_FUNDS: "insufficient funds",
    EXPIRED_CARD: "expired card",
    INCORRECT_PIN: "incorrect PIN",
    NOT_PERMITTED_CARDHOLDER: "not permitted to cardholder",
    NOT_PERMITTED_TERMINAL: "not permitted to terminal",
    EXCEEDS_LIMIT: "exceeds amount limit",
    SECURITY_VIOLATION: "security violation",
    PIN_TRIES_EXCEEDED: "PIN tries exceeded",
    RECONCILE_ERROR: "reconcile error",
    ISSUER_UNAVAILABLE: "issuer unavailable",
    DUPLICATE: "duplicate transmission",
    SYSTEM_MALFUNCTION: "system malfunction",
}
