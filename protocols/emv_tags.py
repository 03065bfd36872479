"""The EMV tag dictionary, as data.

``TAGS`` maps an int tag to ``(name, format, source, min_length, max_length)``:
- format: ``n`` numeric BCD, ``cn`` compressed numeric (BCD padded with F),
  ``a`` / ``an`` / ``ans`` text, ``b`` binary, ``var`` (Book 3 writes
  "var." for templates and lists of mixed content);
- source: ``ICC``, ``Terminal``, ``Issuer`` or ``Issuer/Terminal``;
- lengths in bytes as Book 3 Annex A gives them; None where it gives none or a
  symbolic one (NI, NCA, NIC: the length of a key modulus).

Sources: EMV 4.3 Book 3 Annex A (Table 33, "Data Elements Dictionary") for
the contact data elements; EMV 4.3 Book 1 §11 for 6F/A5/BF0C/61 use; EMV
Contactless Book B (Entry Point), Book C-2 (Kernel 2) and Book C-3 (Kernel 3)
for the contactless ones, noted beside each.  Contactless kernels reuse some
tags with kernel-specific meanings; the name gives the Book C-3 meaning and
the other where they differ.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Tuple

    Entry = Tuple[str, str, str, Optional[int], Optional[int]]

TAGS: "dict[int, Entry]" = {
    # --- EMV 4.3 Book 3 Annex A ---------------------------------------
    0x42: ("Issuer Identification Number (IIN)", "n", "ICC", 3, 3),
    0x4F: ("Application Identifier (AID) - card", "b", "ICC", 5, 16),
    0x50: ("Application Label", "ans", "ICC", 1, 16),
    0x57: ("Track 2 Equivalent Data", "b", "ICC", None, 19),
    0x5A: ("Application Primary Account Number (PAN)", "cn", "ICC", None, 10),
    0x5F20: ("Cardholder Name", "ans", "ICC", 2, 26),
    0x5F24: ("Application Expiration Date", "n", "ICC", 3, 3),
    0x5F25: ("Application Effective Date", "n", "ICC", 3, 3),
    0x5F28: ("Issuer Country Code", "n", "ICC", 2, 2),
    0x5F2A: ("Transaction Currency Code", "n", "Terminal", 2, 2),
    0x5F2D: ("Language Preference", "an", "ICC", 2, 8),
    0x5F30: ("Service Code", "n", "ICC", 2, 2),
    0x5F34: ("Application Primary Account Number (PAN) Sequence Number", "n", "ICC", 1, 1),
    0x5F36: ("Transaction Currency Exponent", "n", "Terminal", 1, 1),
    0x5F50: ("Issuer URL", "ans", "ICC", None, None),
    0x5F53: ("International Bank Account Number (IBAN)", "var", "ICC", None, 34),
    0x5F54: ("Bank Identifier Code (BIC)", "var", "ICC", 8, 11),
    0x5F55: ("Issuer Country Code (alpha2 format)", "a", "ICC", 2, 2),
    0x5F56: ("Issuer Country Code (alpha3 format)", "a", "ICC", 3, 3),
    0x5F57: ("Account Type", "n", "Terminal", 1, 1),
    0x61: ("Application Template", "var", "ICC", None, 252),
    0x6F: ("File Control Information (FCI) Template", "var", "ICC", None, 252),
    0x70: ("READ RECORD Response Message Template", "var", "ICC", None, 252),
    0x71: ("Issuer Script Template 1", "var", "Issuer", None, None),
    0x72: ("Issuer Script Template 2", "var", "Issuer", None, None),
    0x73: ("Directory Discretionary Template", "var", "ICC", None, 252),
    0x77: ("Response Message Template Format 2", "var", "ICC", None, None),
    0x80: ("Response Message Template Format 1", "var", "ICC", None, None),
    0x81: ("Amount, Authorised (Binary)", "b", "Terminal", 4, 4),
    0x82: ("Application Interchange Profile", "b", "ICC", 2, 2),
    0x83: ("Command Template", "b", "Terminal", None, None),
    0x84: ("Dedicated File (DF) Name", "b", "ICC", 5, 16),
    0x86: ("Issuer Script Command", "b", "Issuer", None, 261),
    0x87: ("Application Priority Indicator", "b", "ICC", 1, 1),
    0x88: ("Short File Identifier (SFI)", "b", "ICC", 1, 1),
    0x89: ("Authorisation Code", "an", "Issuer", 6, 6),
    0x8A: ("Authorisation Response Code", "an", "Issuer/Terminal", 2, 2),
    0x8C: ("Card Risk Management Data Object List 1 (CDOL1)", "b", "ICC", None, 252),
    0x8D: ("Card Risk Management Data Object List 2 (CDOL2)", "b", "ICC", None, 252),
    0x8E: ("Cardholder Verification Method (CVM) List", "b", "ICC", 10, 252),
    0x8F: ("Certification Authority Public Key Index", "b", "ICC", 1, 1),
    0x90: ("Issuer Public Key Certificate", "b", "ICC", None, None),
    0x91: ("Issuer Authentication Data", "b", "Issuer", 8, 16),
    0x92: ("Issuer Public Key Remainder", "b", "ICC", None, None),
    0x93: ("Signed Static Application Data", "b", "ICC", None, None),
    0x94: ("Application File Locator (AFL)", "var", "ICC", None, 252),
    0x95: ("Terminal Verification Results", "b", "Terminal", 5, 5),
    0x97: ("Transaction Certificate Data Object List (TDOL)", "b", "ICC", None, 252),
    0x98: ("Transaction Certificate (TC) Hash Value", "b", "Terminal", 20, 20),
    0x99: ("Transaction Personal Identification Number (PIN) Data", "b", "Terminal", None, None),
    0x9A: ("Transaction Date", "n", "Terminal", 3, 3),
    0x9B: ("Transaction Status Information", "b", "Terminal", 2, 2),
    0x9C: ("Transaction Type", "n", "Terminal", 1, 1),
    0x9D: ("Directory Definition File (DDF) Name", "b", "ICC", 5, 16),
    0x9F01: ("Acquirer Identifier", "n", "Terminal", 6, 6),
    0x9F02: ("Amount, Authorised (Numeric)", "n", "Terminal", 6, 6),
    0x9F03: ("Amount, Other (Numeric)", "n", "Terminal", 6, 6),
    0x9F04: ("Amount, Other (Binary)", "b", "Terminal", 4, 4),
    0x9F05: ("Application Discretionary Data", "b", "ICC", 1, 32),
    0x9F06: ("Application Identifier (AID) - terminal", "b", "Terminal", 5, 16),
    0x9F07: ("Application Usage Control", "b", "ICC", 2, 2),
    0x9F08: ("Application Version Number (card)", "b", "ICC", 2, 2),
    0x9F09: ("Application Version Number (terminal)", "b", "Terminal", 2, 2),
    0x9F0A: ("Application Selection Registered Proprietary Data", "b", "ICC", None, None),
    0x9F0B: ("Cardholder Name Extended", "ans", "ICC", 27, 45),
    0x9F0C: ("Issuer Identification Number Extended (IINE)", "n", "ICC", 3, 4),
    0x9F0D: ("Issuer Action Code - Default", "b", "ICC", 5, 5),
    0x9F0E: ("Issuer Action Code - Denial", "b", "ICC", 5, 5),
    0x9F0F: ("Issuer Action Code - Online", "b", "ICC", 5, 5),
    0x9F10: ("Issuer Application Data", "b", "ICC", None, 32),
    0x9F11: ("Issuer Code Table Index", "n", "ICC", 1, 1),
    0x9F12: ("Application Preferred Name", "ans", "ICC", 1, 16),
    0x9F13: ("Last Online Application Transaction Counter (ATC) Register", "b", "ICC", 2, 2),
    0x9F14: ("Lower Consecutive Offline Limit", "b", "ICC", 1, 1),
    0x9F15: ("Merchant Category Code", "n", "Terminal", 2, 2),
    0x9F16: ("Merchant Identifier", "ans", "Terminal", 15, 15),
    0x9F17: ("Personal Identification Number (PIN) Try Counter", "b", "ICC", 1, 1),
    0x9F18: ("Issuer Script Identifier", "b", "Issuer", 4, 4),
    0x9F1A: ("Terminal Country Code", "n", "Terminal", 2, 2),
    0x9F1B: ("Terminal Floor Limit", "b", "Terminal", 4, 4),
    0x9F1C: ("Terminal Identification", "an", "Terminal", 8, 8),
    0x9F1D: ("Terminal Risk Management Data", "b", "Terminal", 1, 8),
    0x9F1E: ("Interface Device (IFD) Serial Number", "an", "Terminal", 8, 8),
    0x9F1F: ("Track 1 Discretionary Data", "ans", "ICC", None, None),
    0x9F20: ("Track 2 Discretionary Data", "cn", "ICC", None, None),
    0x9F21: ("Transaction Time", "n", "Terminal", 3, 3),
    0x9F22: ("Certification Authority Public Key Index (terminal)", "b", "Terminal", 1, 1),
    0x9F23: ("Upper Consecutive Offline Limit", "b", "ICC", 1, 1),
    0x9F26: ("Application Cryptogram", "b", "ICC", 8, 8),
    0x9F27: ("Cryptogram Information Data", "b", "ICC", 1, 1),
    0x9F2D: ("ICC PIN Encipherment Public Key Certificate", "b", "ICC", None, None),
    0x9F2E: ("ICC PIN Encipherment Public Key Exponent", "b", "ICC", 1, 3),
    0x9F2F: ("ICC PIN Encipherment Public Key Remainder", "b", "ICC", None, None),
    0x9F32: ("Issuer Public Key Exponent", "b", "ICC", 1, 3),
    0x9F33: ("Terminal Capabilities", "b", "Terminal", 3, 3),
    0x9F34: ("Cardholder Verification Method (CVM) Results", "b", "Terminal", 3, 3),
    0x9F35: ("Terminal Type", "n", "Terminal", 1, 1),
    0x9F36: ("Application Transaction Counter (ATC)", "b", "ICC", 2, 2),
    0x9F37: ("Unpredictable Number", "b", "Terminal", 4, 4),
    0x9F38: ("Processing Options Data Object List (PDOL)", "b", "ICC", None, None),
    0x9F39: ("Point-of-Service (POS) Entry Mode", "n", "Terminal", 1, 1),
    0x9F3A: ("Amount, Reference Currency", "b", "Terminal", 4, 4),
    0x9F3B: ("Application Reference Currency", "n", "ICC", 2, 8),
    0x9F3C: ("Transaction Reference Currency Code", "n", "Terminal", 2, 2),
    0x9F3D: ("Transaction Reference Currency Exponent", "n", "Terminal", 1, 1),
    0x9F40: ("Additional Terminal Capabilities", "b", "Terminal", 5, 5),
    0x9F41: ("Transaction Sequence Counter", "n", "Terminal", 2, 4),
    0x9F42: ("Application Currency Code", "n", "ICC", 2, 2),
    0x9F43: ("Application Reference Currency Exponent", "n", "ICC", 1, 4),
    0x9F44: ("Application Currency Exponent", "n", "ICC", 1, 1),
    0x9F45: ("Data Authentication Code", "b", "ICC", 2, 2),
    0x9F46: ("ICC Public Key Certificate", "b", "ICC", None, None),
    0x9F47: ("ICC Public Key Exponent", "b", "ICC", 1, 3),
    0x9F48: ("ICC Public Key Remainder", "b", "ICC", None, None),
    0x9F49: ("Dynamic Data Authentication Data Object List (DDOL)", "b", "ICC", None, 252),
    0x9F4A: ("Static Data Authentication Tag List", "var", "ICC", None, None),
    0x9F4B: ("Signed Dynamic Application Data", "b", "ICC", None, None),
    0x9F4C: ("ICC Dynamic Number", "b", "ICC", 2, 8),
    0x9F4D: ("Log Entry", "b", "ICC", 2, 2),
    0x9F4E: ("Merchant Name and Location", "ans", "Terminal", None, None),
    0x9F4F: ("Log Format", "b", "ICC", None, None),
    0xA5: ("File Control Information (FCI) Proprietary Template", "var", "ICC", None, None),
    0xBF0C: ("File Control Information (FCI) Issuer Discretionary Data", "var", "ICC", None, 222),
    # --- EMV Payment Tokenisation and Book 3 bulletins ---------------
    0x9F19: ("Token Requestor ID", "n", "ICC", 6, 6),
    0x9F24: ("Payment Account Reference (PAR)", "an", "ICC", 29, 29),
    0x9F25: ("Last 4 Digits of PAN", "n", "ICC", 2, 2),
    # --- Contactless Book B (Entry Point) -----------------------------
    0x9F29: ("Extended Selection", "b", "ICC", None, None),
    0x9F2A: ("Kernel Identifier", "b", "ICC", 1, 8),
    # --- Contactless Book C-2 (Kernel 2) -------------------------------
    0x56: ("Track 1 Data", "ans", "ICC", None, 76),
    0x9F53: ("Transaction Category Code", "an", "Terminal", 1, 1),
    0x9F6A: ("Unpredictable Number (Numeric)", "n", "Terminal", 4, 4),
    0x9F6B: ("Track 2 Data", "b", "ICC", None, 19),
    0x9F6D: ("Mag-stripe Application Version Number (Reader)", "b", "Terminal", 2, 2),
    0xDF8115: ("Error Indication", "b", "Terminal", 6, 6),
    0xDF8116: ("User Interface Request Data", "b", "Terminal", 22, 22),
    0xDF8129: ("Outcome Parameter Set", "b", "Terminal", 8, 8),
    # --- Contactless Book C-3 (Kernel 3) -------------------------------
    0x9F5A: ("Application Program Identifier (Program ID)", "b", "ICC", 1, 16),
    0x9F5D: ("Available Offline Spending Amount (AOSA)", "n", "ICC", 6, 6),
    0x9F66: ("Terminal Transaction Qualifiers (TTQ)", "b", "Terminal", 4, 4),
    0x9F6C: ("Card Transaction Qualifiers (CTQ)", "b", "ICC", 2, 2),
    0x9F6E: ("Form Factor Indicator (FFI) / Third Party Data (Kernel 2)", "b", "ICC", 4, 32),
    0x9F7C: (
        "Customer Exclusive Data (CED) / Merchant Custom Data (Kernel 2)",
        "b",
        "ICC",
        None,
        32,
    ),
}


def tag_info(tag: int) -> "dict[str, str | int | None] | None":
    """The dictionary entry for ``tag`` as a dict, or None if it is unknown."""
    entry = TAGS.get(tag)
    if entry is None:
        return None
    name, fmt, source, min_length, max_length = entry
    return {
        "name": name,
        "format": fmt,
        "source": source,
        "min_length": min_length,
        "max_length": max_length,
    }


def tag_name(tag: int) -> "str | None":
    entry = TAGS.get(tag)
    return entry[0] if entry else None


def tag_format(tag: int) -> "str | None":
    entry = TAGS.get(tag)
    return entry[1] if entry else None
