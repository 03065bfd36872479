"""ISO 8583 requests of the PAYTERM_1987 dialect, as message dicts
(docs/iso8583.md, docs/acquirer.md "Messages").  Pure: the caller gives the
STAN, the clock reading and the card data; ``online`` adds the MAC.

Processing codes (field 3, digits 1-2): 00 purchase, 20 refund, 92 batch
close.  POS entry mode (22): 071 contactless chip, 051 contact chip.
NII (24) 003, POS condition (25) 00."""

CURRENCY = "400"  # JOD, exponent 3: amounts in fils
NII = "003"
ENTRY_MODE = {"contactless": "071", "contact": "051"}
PURCHASE = "00"
PREAUTH = "00"  # 0100 with processing code 00: a hold (pre-authorisation)
REFUND = "20"
SETTLEMENT = "92"
REVERSAL_TIMEOUT = "68"  # field 39 in a reversal: response received too late / none
REVERSAL_VOID = "17"  # customer cancellation
REVERSAL_FISCAL = "22"  # suspected malfunction: the fiscal memory refused the sale's record
REVERSAL_CARD_DECLINED = "06"  # the card refused what the host approved (2nd GEN AC AAC)


def mmddhhmmss(dt: "tuple") -> str:
    """Field 7 from an RTC datetime tuple (y, m, d, weekday, h, mi, s, ...)."""
    return "%02d%02d%02d%02d%02d" % (dt[1], dt[2], dt[4], dt[5], dt[6])


def base(mti: str, pcode: str, stan: str, dt: "tuple", terminal: "dict") -> "dict[str, str]":
    return {
        "t": mti,
        "3": pcode + "0000",
        "7": mmddhhmmss(dt),
        "11": stan,
        "12": "%02d%02d%02d" % (dt[4], dt[5], dt[6]),
        "13": "%02d%02d" % (dt[1], dt[2]),
        "24": NII,
        "25": "00",
        "41": terminal["tid"],
        "42": terminal["mid"],
        "49": CURRENCY,
    }


def card_fields(msg: "dict[str, str]", card: "dict") -> None:
    """PAN (2) and expiry (14), or track 2 equivalent data (35); PSN (23)."""
    if card.get("pan"):
        msg["2"] = card["pan"]
        if card.get("expiry"):
            msg["14"] = card["expiry"]
    elif card.get("track2"):
        msg["35"] = card["track2"]
    if card.get("psn") is not None:
        msg["23"] = "%03d" % card["psn"]
    msg["22"] = ENTRY_MODE[card["interface"]]


def financial(
    mti: str,
    pcode: str,
    amount: int,
    stan: str,
    dt: "tuple",
    terminal: "dict",
    card: "dict",
    icc: "bytes | None" = None,
    pin: "tuple[bytes, bytes] | None" = None,
    batch: "str | None" = None,
) -> "dict[str, str]":
    """0100 authorisation / 0200 financial request."""
    if not isinstance(amount, int) or amount < 0:
        raise ValueError("amount must be a whole number of fils")
    msg = base(mti, pcode, stan, dt, terminal)
    msg["4"] = "%012d" % amount
    card_fields(msg, card)
    if icc:
        msg["55"] = icc
    if pin is not None:
        block, ksn = pin
        msg["52"] = block
        msg["53"] = b"\x04\x02" + ksn  # format 4, AES DUKPT, KSN
    if batch is not None and mti == "0200":
        msg["60"] = batch
    return msg


def advice(original: "dict[str, str]", stan: str, dt: "tuple", auth_code: str) -> "dict[str, str]":
    """0220: an offline approval forwarded (38 = the offline code, Y1 / Y3)."""
    msg = dict(original)
    msg["t"] = "0220"
    msg["7"] = mmddhhmmss(dt)
    msg["11"] = stan
    msg["38"] = (auth_code + "      ")[:6]  # an, fixed 6
    for number in ("52", "53", "64", "128"):
        msg.pop(number, None)
    return msg


def completion(
    original: "dict[str, str]", stan: str, dt: "tuple", amount: int, auth_code: str, batch: str
) -> "dict[str, str]":
    """0220 completing a pre-authorisation: the card fields of the 0100,
    processing code 00, the final amount (4), the hold's approval code (38),
    the batch (60), and field 90 naming the 0100 as a reversal does."""
    if not isinstance(amount, int) or amount <= 0:
        raise ValueError("amount must be a positive whole number of fils")
    msg = {"t": "0220", "3": PURCHASE + "0000"}
    for number in ("2", "14", "22", "23", "24", "25", "35", "41", "42", "49"):
        if number in original:
            msg[number] = original[number]
    msg["4"] = "%012d" % amount
    msg["7"] = mmddhhmmss(dt)
    msg["11"] = stan
    msg["38"] = (auth_code + "      ")[:6]
    msg["60"] = batch
    msg["90"] = original["t"] + original["11"] + original["7"] + "0" * 22
    return msg


def reversal(
    original: "dict[str, str]", stan: str, dt: "tuple", reason: str, advice: bool = False
) -> "dict[str, str]":
    """0400 (or 0420): field 90 names the original (MTI, STAN, field 7,
    acquiring and forwarding institution IDs zero-filled); 39 the reason."""
    msg = {"t": "0420" if advice else "0400"}
    for number in ("2", "3", "4", "14", "22", "23", "24", "25", "35", "41", "42", "49", "60"):
        if number in original:
            msg[number] = original[number]
    msg["7"] = mmddhhmmss(dt)
    msg["11"] = stan
    msg["39"] = reason
    msg["90"] = original["t"] + original["11"] + original["7"] + "0" * 22
    return msg


def totals_field(totals: "tuple[int, int, int, int]") -> str:
    """Field 63 of an 0500: sales count (3), amount (12), refunds count (3), amount (12)."""
    return "%03d%012d%03d%012d" % totals


def settlement(
    stan: str, dt: "tuple", terminal: "dict", batch: str, totals: "tuple[int, int, int, int]"
) -> "dict[str, str]":
    msg = base("0500", SETTLEMENT, stan, dt, terminal)
    for number in ("12", "13", "25", "49"):
        del msg[number]
    msg["60"] = batch
    msg["63"] = totals_field(totals)
    return msg


def network(code: str, stan: str, dt: "tuple", terminal: "dict") -> "dict[str, str]":
    """0800: 001 sign-on, 002 sign-off, 301 echo (never MACed)."""
    return {
        "t": "0800",
        "7": mmddhhmmss(dt),
        "11": stan,
        "24": NII,
        "41": terminal["tid"],
        "42": terminal["mid"],
        "70": code,
    }
