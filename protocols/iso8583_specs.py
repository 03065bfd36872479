"""ISO 8583 field specs as data (format: see protocols/iso8583.py).

PAYTERM_1987 is the one dialect the payterm terminal and the acquirer host
speak: ISO 8583:1987 field layout, BCD message type, binary bitmaps, numeric
and track fields packed as BCD, BCD length prefixes, text in ASCII, carried
over TCP behind a 2-byte big-endian length.  docs/iso8583.md describes each
field and its use per message type.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# One dict per field, the same keys as the message dict.  Field names follow
# ISO 8583:1987 data element names; formats are ISO 8583:1987 unless marked
# "dialect" (a payterm choice, see docs/iso8583.md).
# fmt: off
PAYTERM_1987: "dict[str, dict[str, Any]]" = {
    "t": {"data_enc": "bcd", "desc": "Message type indicator"},
    "p": {"data_enc": "binary", "desc": "Bitmap, primary"},
    "1": {"data_enc": "binary", "desc": "Bitmap, secondary"},
    "2": {"type": "n", "data_enc": "bcd", "len_enc": "bcd", "len_type": 2, "max_len": 19,
          "desc": "Primary account number (PAN)"},
    "3": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 6,
          "desc": "Processing code"},
    "4": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 12,
          "desc": "Amount, transaction"},
    "7": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 10,
          "desc": "Transmission date and time (MMDDhhmmss, UTC)"},
    "11": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 6,
           "desc": "System trace audit number (STAN)"},
    "12": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 6,
           "desc": "Time, local transaction (hhmmss)"},
    "13": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 4,
           "desc": "Date, local transaction (MMDD)"},
    "14": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 4,
           "desc": "Date, expiration (YYMM)"},
    "15": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 4,
           "desc": "Date, settlement (MMDD)"},
    "18": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 4,
           "desc": "Merchant type (MCC)"},
    "22": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 3,
           "desc": "Point of service entry mode"},
    "23": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 3,
           "desc": "Card sequence number"},
    "24": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 3,
           "desc": "Network international identifier (NII)"},
    "25": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 2,
           "desc": "Point of service condition code"},
    "32": {"type": "n", "data_enc": "bcd", "len_enc": "bcd", "len_type": 2, "max_len": 11,
           "desc": "Acquiring institution identification code"},
    "35": {"type": "z", "data_enc": "bcd", "len_enc": "bcd", "len_type": 2, "max_len": 37,
           "desc": "Track 2 data"},
    "37": {"type": "an", "data_enc": "ascii", "len_type": 0, "max_len": 12,
           "desc": "Retrieval reference number"},
    "38": {"type": "an", "data_enc": "ascii", "len_type": 0, "max_len": 6,
           "desc": "Authorization identification response"},
    "39": {"type": "an", "data_enc": "ascii", "len_type": 0, "max_len": 2,
           "desc": "Response code"},
    "41": {"type": "ans", "data_enc": "ascii", "len_type": 0, "max_len": 8,
           "desc": "Card acceptor terminal identification"},
    "42": {"type": "ans", "data_enc": "ascii", "len_type": 0, "max_len": 15,
           "desc": "Card acceptor identification code"},
    "43": {"type": "ans", "data_enc": "ascii", "len_type": 0, "max_len": 40,
           "desc": "Card acceptor name/location"},
    "44": {"type": "ans", "data_enc": "ascii", "len_enc": "bcd", "len_type": 2, "max_len": 25,
           "desc": "Additional response data"},
    "48": {"type": "ans", "data_enc": "ascii", "len_enc": "bcd", "len_type": 3, "max_len": 999,
           "desc": "Additional data, private"},
    "49": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 3,
           "desc": "Currency code, transaction (ISO 4217 numeric)"},
    # dialect: b..16 LLVAR instead of 1987's fixed b 64, so one field carries
    # an 8-byte TDES PIN block or a 16-byte AES ISO 9564 format 4 block.
    "52": {"type": "b", "data_enc": "binary", "len_enc": "bcd", "len_type": 2, "max_len": 16,
           "desc": "Personal identification number (PIN) data"},
    # dialect: b..48 LLVAR (the ISO 8583:1993 format) to hold an AES DUKPT KSN.
    "53": {"type": "b", "data_enc": "binary", "len_enc": "bcd", "len_type": 2, "max_len": 48,
           "desc": "Security related control information"},
    "54": {"type": "ans", "data_enc": "ascii", "len_enc": "bcd", "len_type": 3, "max_len": 120,
           "desc": "Additional amounts"},
    "55": {"type": "b", "data_enc": "binary", "len_enc": "bcd", "len_type": 3, "max_len": 255,
           "desc": "ICC system related data (BER-TLV)"},
    "60": {"type": "ans", "data_enc": "ascii", "len_enc": "bcd", "len_type": 3, "max_len": 999,
           "desc": "Reserved private: batch number"},
    "61": {"type": "ans", "data_enc": "ascii", "len_enc": "bcd", "len_type": 3, "max_len": 999,
           "desc": "Reserved private: original transaction data"},
    "62": {"type": "ans", "data_enc": "ascii", "len_enc": "bcd", "len_type": 3, "max_len": 999,
           "desc": "Reserved private: invoice number"},
    "63": {"type": "ans", "data_enc": "ascii", "len_enc": "bcd", "len_type": 3, "max_len": 999,
           "desc": "Reserved private: settlement totals"},
    "64": {"type": "b", "data_enc": "binary", "len_type": 0, "max_len": 8,
           "desc": "Message authentication code (MAC)"},
    "70": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 3,
           "desc": "Network management information code"},
    "90": {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 42,
           "desc": "Original data elements"},
    "95": {"type": "ans", "data_enc": "ascii", "len_type": 0, "max_len": 42,
           "desc": "Replacement amounts"},
    "128": {"type": "b", "data_enc": "binary", "len_type": 0, "max_len": 8,
            "desc": "Message authentication code (MAC)"},
}
# fmt: on

# Specs by the name `payterm iso8583 --spec` takes.
SPECS: "dict[str, dict[str, dict[str, Any]]]" = {"PAYTERM_1987": PAYTERM_1987}
DEFAULT_SPEC_NAME = "PAYTERM_1987"
