"""Contactless reader configuration for Jordan, as data (Book B §3.1, Book A
§5.7; C-2 and C-3 reader data).

Amounts are integers in minor units: fils, JOD exponent 3 (1 JOD = 1000 fils).
One entry per combination {AID, kernel ID}.  Chosen values (docs/contactless.md):

- contactless floor limit 20.000 JOD: above it the reader asks for an online
  cryptogram (TTQ) or sets TVR "floor limit exceeded" (Kernel 2);
- CVM required limit 50.000 JOD: at or above it a CVM is required (TTQ
  "CVM required"; Kernel 2 uses the "CVM required" capability);
- reader contactless transaction limit 300.000 JOD without an on-device CVM,
  1000.000 JOD when the card does an on-device CVM (Kernel 2 DF8124/DF8125;
  Kernel 3 uses the entry point check with the first value);
- status check off, zero amount allowed (then online only).
"""

JOD = 400
COUNTRY_JORDAN = 400

# Terminal data common to every combination (tags as ints, values as bytes)
TERMINAL = {
    0x9F1A: b"\x04\x00",  # terminal country code: Jordan
    0x5F2A: b"\x04\x00",  # transaction currency code: JOD
    0x5F36: b"\x03",  # currency exponent
    0x9F35: b"\x22",  # terminal type: attended, merchant, online with offline capability
    0x9F33: b"\xe0\x68\xc8",  # terminal capabilities (9F33)
    0x9F40: b"\x60\x00\xf0\xa0\x01",  # additional terminal capabilities
    0x9F15: b"\x59\x99",  # merchant category code
    0x9F09: b"\x00\x02",  # application version number (terminal)
}

# Kernel IDs (Book B Table 3-6) and the default kernel per RID when the
# directory entry has no 9F2A (Book B §3.3.2.5)
KERNEL_MASTERCARD = 2
KERNEL_VISA = 3
DEFAULT_KERNEL_BY_RID = (
    (b"\xa0\x00\x00\x00\x04", KERNEL_MASTERCARD),
    (b"\xa0\x00\x00\x00\x03", KERNEL_VISA),
)

COMBINATIONS = [
    {
        "aid": b"\xa0\x00\x00\x00\x03\x10\x10",
        "kernel": KERNEL_VISA,
        # TTQ 9F66: qVSDC, EMV contact chip, online PIN, signature; online capable; CDCVM
        # supported (byte 3 b7); reset of b8/b7 of byte 2 by pre-processing
        "ttq": b"\x36\x00\x40\x00",
        "transaction_limit": 300000,
        "transaction_limit_odcvm": 1000000,
        "floor_limit": 20000,
        "cvm_required_limit": 50000,
        "status_check": False,
        "zero_amount_allowed": True,
        "application_version": b"\x00\x96",
    },
    {
        "aid": b"\xa0\x00\x00\x00\x04\x10\x10",
        "kernel": KERNEL_MASTERCARD,
        "transaction_limit": None,  # checked by Kernel 2 after GPO (on-device CVM or not)
        "transaction_limit_no_odcvm": 300000,  # DF8124
        "transaction_limit_odcvm": 1000000,  # DF8125
        "floor_limit": 20000,  # DF8123
        "cvm_required_limit": 50000,  # DF8126
        "status_check": False,
        "zero_amount_allowed": True,
        "application_version": b"\x00\x02",
        # Kernel 2 CVM capabilities (DF8118 / DF8119): online PIN + signature
        # above the CVM limit, no CVM below; kernel configuration (DF811B):
        # on-device cardholder verification supported
        "cvm_capability_required": b"\x60",
        "cvm_capability_not_required": b"\x08",
        "odcvm_supported": True,
        # terminal action codes (Mastercard-style defaults)
        "tac_denial": b"\x00\x00\x00\x00\x00",
        "tac_online": b"\xf4\x50\x84\x80\x0c",
        "tac_default": b"\xf4\x50\x84\x80\x0c",
        "online_capable": True,
    },
]


def combination(aid, kernel):
    """The reader combination for an AID (exact) and kernel ID, or None."""
    for entry in COMBINATIONS:
        if entry["aid"] == aid and entry["kernel"] == kernel:
            return entry
    return None
