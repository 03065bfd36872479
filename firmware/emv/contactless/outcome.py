"""Outcomes and User Interface Request Data (EMV Contactless Book A §6, §9).

A kernel or the entry point ends a transaction with an ``Outcome``: the
outcome status and its Outcome Parameter Set, the UI requests to show (as
data: message identifier, status, hold time, value), the data record for the
authorisation (tag -> value) and the EMV trace.  The device shows messages
and switches the field; nothing here does I/O.
"""

# Outcome statuses (Book A §6.2.1)
APPROVED = "approved"
DECLINED = "declined"
ONLINE_REQUEST = "online request"
TRY_ANOTHER_INTERFACE = "try another interface"
END_APPLICATION = "end application"
TRY_AGAIN = "try again"
SELECT_NEXT = "select next"

# Start (where to restart), Online Response Data, CVM, Alternate Interface
START_NA = "N/A"
START_A = "A"
START_B = "B"
START_C = "C"
START_D = "D"
NA = "N/A"
CVM_ONLINE_PIN = "online PIN"
CVM_CONFIRMATION_CODE_VERIFIED = "confirmation code verified"
CVM_OBTAIN_SIGNATURE = "obtain signature"
CVM_NO_CVM = "no CVM"
ALT_CONTACT_CHIP = "contact chip"
ALT_MAGSTRIPE = "magstripe"
ONLINE_DATA_EMV = "EMV data"
ONLINE_DATA_ANY = "any"

# Message identifiers (Book A Table 9-2, standard messages)
MSG_APPROVED = 0x03
MSG_NOT_AUTHORISED = 0x07
MSG_ENTER_PIN = 0x09
MSG_PROCESSING_ERROR = 0x0F
MSG_REMOVE_CARD = 0x10
MSG_WELCOME = 0x14
MSG_PRESENT_CARD = 0x15
MSG_PROCESSING = 0x16
MSG_CARD_READ_OK = 0x17
MSG_INSERT_OR_SWIPE = 0x18
MSG_ONE_CARD_ONLY = 0x19
MSG_APPROVED_SIGN = 0x1A
MSG_AUTHORISING = 0x1B
MSG_TRY_ANOTHER_CARD = 0x1C
MSG_INSERT_CARD = 0x1D
MSG_CLEAR_DISPLAY = 0x1E
MSG_SEE_PHONE = 0x20
MSG_PRESENT_CARD_AGAIN = 0x21
MSG_NA = 0xFF

MESSAGES = {
    0x03: "Approved",
    0x07: "Not Authorised",
    0x09: "Please Enter Your PIN",
    0x0F: "Processing Error",
    0x10: "Remove Card",
    0x14: "Welcome",
    0x15: "Present Card",
    0x16: "Processing",
    0x17: "Card Read OK, Please Remove Card",
    0x18: "Please Insert or Swipe Card",
    0x19: "Please Present One Card Only",
    0x1A: "Approved, Please Sign",
    0x1B: "Authorising, Please Wait",
    0x1C: "Insert, Swipe or Try Another Card",
    0x1D: "Please Insert Card",
    0x1E: "",
    0x20: "See Phone for Instructions",
    0x21: "Present Card Again",
}

# UI statuses (Book A §9.2)
NOT_READY = "not ready"
IDLE = "idle"
READY_TO_READ = "ready to read"
PROCESSING = "processing"
CARD_READ_SUCCESSFULLY = "card read successfully"
PROCESSING_ERROR = "processing error"

# Hold times (units of 100 ms in Book A; kept in ms here)
DEFAULT_HOLD_MS = 1300


def ui_request(message, status, hold_ms=0, value=None, currency=None, language=None):
    """User Interface Request Data as a dict (Book A Table 9-1)."""
    return {
        "message": message,
        "text": MESSAGES.get(message, ""),
        "status": status,
        "hold_ms": hold_ms,
        "language": language,
        "value_qualifier": "amount" if value is not None else None,
        "value": value,
        "currency": currency,
    }


def parameters(
    start=START_NA,
    online_response_data=NA,
    cvm=NA,
    ui_on_outcome=False,
    ui_on_restart=False,
    data_record=False,
    discretionary_data=False,
    alternate_interface=NA,
    receipt=False,
    field_off_ms=None,
    removal_timeout_ms=0,
):
    """An Outcome Parameter Set (Book A Table 6-1) as a dict."""
    return {
        "start": start,
        "online_response_data": online_response_data,
        "cvm": cvm,
        "ui_request_on_outcome": ui_on_outcome,
        "ui_request_on_restart": ui_on_restart,
        "data_record": data_record,
        "discretionary_data": discretionary_data,
        "alternate_interface": alternate_interface,
        "receipt": receipt,
        "field_off_ms": field_off_ms,
        "removal_timeout_ms": removal_timeout_ms,
    }


class Outcome:
    """What a contactless transaction ended with."""

    def __init__(self, status, params, ui=None, ui_requests=None, data=None, error=None):
        self.status = status
        self.params = params
        self.ui = ui  # the UI Request on Outcome, or None
        self.ui_requests = ui_requests if ui_requests is not None else []
        self.data = data if data is not None else {}  # the data record: tag -> bytes
        self.discretionary = {}
        self.error = error  # a short reason when the kernel stopped on an error
        self.kernel = None
        self.aid = None
        self.trace = None

    def __repr__(self):
        return "Outcome(%s, cvm=%s, error=%s)" % (self.status, self.params["cvm"], self.error)

    def to_json(self):
        """A JSON-able view for logs and tools: the data record as hex, with
        the PAN-bearing objects masked (the clear record stays in ``data``
        for the authorisation message only)."""
        from firmware.emv.contactless.trace import SENSITIVE, mask_value

        data = {}
        for tag in self.data:
            text = self.data[tag].hex().upper()
            data["%X" % tag] = mask_value(tag, text) if tag in SENSITIVE else text
        return {
            "status": self.status,
            "params": self.params,
            "ui": self.ui,
            "ui_requests": self.ui_requests,
            "data": data,
            "error": self.error,
            "kernel": self.kernel,
            "aid": self.aid.hex().upper() if self.aid else None,
        }


def end_application(error):
    """End Application after a card data error (Book A; C-2 'L2 error')."""
    return Outcome(
        END_APPLICATION,
        parameters(ui_on_outcome=True, field_off_ms=0),
        ui=ui_request(MSG_TRY_ANOTHER_CARD, NOT_READY, DEFAULT_HOLD_MS),
        error=error,
    )
