"""The terminal's EMV configuration, as data (docs/emv.md).

Default market: Jordan -- country 0400, currency JOD (400) with exponent 3,
so every amount and limit is an integer in fils (1 JOD = 1000 fils).
Data objects are hex strings keyed by tag; limits are integers in fils;
percentages are integers 0..99.  The CA public keys are in capk_data.py.
"""

# Terminal-wide data objects (Book 3 Annex A; Book 4 Annex A).
TERMINAL_DATA = {
    "9F1A": "0400",  # Terminal Country Code: Jordan
    "5F2A": "0400",  # Transaction Currency Code: JOD
    "5F36": "03",  # Transaction Currency Exponent: fils
    "9F3C": "0400",  # Transaction Reference Currency Code
    "9F3D": "03",  # Transaction Reference Currency Exponent
    "9F35": "22",  # Terminal Type: attended, merchant, offline with online capability
    # Terminal Capabilities (Book 4 A2): IC + magstripe + manual key entry;
    # plaintext offline PIN, online enciphered PIN, signature, no CVM
    # (offline enciphered PIN not offered); SDA, DDA, CDA.
    "9F33": "E0E8C8",
    # Additional Terminal Capabilities (Book 4 A3): goods, services;
    # numeric, command and function keys; print and display for attendant
    # and cardholder; code table 1.
    "9F40": "6000B0F001",
    "9F1E": "5054524D30303031",  # IFD Serial Number "PTRM0001"
    "9F1C": "5054303030303031",  # Terminal Identification "PT000001"
    "9F15": "5999",  # Merchant Category Code
    "9F16": "5041595445524D2D4A4F2D3031",  # Merchant Identifier "PAYTERM-JO-01"
    "9F4E": "5041595445524D20414D4D414E",  # Merchant Name and Location "PAYTERM AMMAN"
}

# Behaviour switches of this terminal.
OPTIONS = {
    "cardholder_confirmation": True,  # Book 1 §12.4: the cardholder may choose
    "pin_pad": True,  # a PIN pad is present and working
    "pse": True,  # try the Payment System Environment first
    "velocity_checking": True,
    "random_selection": True,
}

# Applications the terminal accepts (Book 1 §12.3.1; Book 3 §10.4, §10.6, §10.7).
# partial: ASI "partial selection allowed"; app_version: 9F09;
# tac_*: Terminal Action Codes (5 bytes); floor_limit: 9F1B in fils;
# random_*: Book 3 §10.6.2 threshold (fils) and target/maximum percentages;
# ddol/tdol: defaults when the card gives none.
AIDS = [
    {
        "aid": "A0000000031010",
        "label": "VISA CREDIT",
        "partial": True,
        "app_version": "0096",
        "tac_denial": "0010000000",
        "tac_online": "DC4004F800",
        "tac_default": "DC4000A800",
        "floor_limit": 100000,
        "random_threshold": 20000,
        "random_target": 10,
        "random_max": 50,
        "ddol": "9F3704",
        "tdol": "9F02065F2A029A039C0195059F3704",
    },
    {
        "aid": "A0000000041010",
        "label": "MASTERCARD",
        "partial": True,
        "app_version": "0002",
        "tac_denial": "0000000000",
        "tac_online": "FC50BCF800",
        "tac_default": "FC50BCA000",
        "floor_limit": 0,
        "random_threshold": 0,
        "random_target": 0,
        "random_max": 0,
        "ddol": "9F3704",
        "tdol": "9F02065F2A029A039C0195059F3704",
    },
]
