"""Network management (0800 → 0810): sign-on, sign-off, echo test.

Field 70 carries the network management information code (ISO 8583:1987):
001 sign-on, 002 sign-off, 301 echo test.  A terminal that is not signed on
is told so by the financial handlers to come; here we keep the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SIGN_ON = "001"
SIGN_OFF = "002"
ECHO_TEST = "301"
KNOWN_CODES = {SIGN_ON: "sign-on", SIGN_OFF: "sign-off", ECHO_TEST: "echo test"}

APPROVED = "00"
FORMAT_ERROR = "30"  # ISO 8583:1987 response code 30: format error
NOT_SUPPORTED = "40"  # ISO 8583:1987 response code 40: requested function not supported

# Fields the response echoes from the request (ISO 8583:1987 0810 usage).
ECHOED_FIELDS = ("7", "11", "24", "41", "42", "70")


@dataclass
class NetworkState:
    """Which terminals (field 41) are signed on."""

    signed_on: set[str] = field(default_factory=set)


def handle_0800(request: dict[str, str], state: NetworkState) -> dict[str, str]:
    response = {"t": "0810"}
    for number in ECHOED_FIELDS:
        if number in request:
            response[number] = request[number]
    code = request.get("70")
    terminal = request.get("41", "")
    if code not in KNOWN_CODES:
        response["39"] = NOT_SUPPORTED
        return response
    if code == SIGN_ON:
        state.signed_on.add(terminal)
    elif code == SIGN_OFF:
        state.signed_on.discard(terminal)
    response["39"] = APPROVED
    return response
