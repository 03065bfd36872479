"""Field-level helpers shared by the handlers: mandatory fields, echoes,
the card's PAN and expiry from field 2/14 or track 2 (field 35)."""

from __future__ import annotations

from dataclasses import dataclass

# Fields each request must carry (docs/iso8583.md "Fields per message type";
# the MAC is checked separately, against the terminal's key).
MANDATORY: dict[str, tuple[str, ...]] = {
    "0100": ("3", "4", "7", "11", "22", "24", "25", "41", "42", "49"),
    "0200": ("3", "7", "11", "22", "24", "25", "41", "42", "49"),
    "0220": ("3", "4", "7", "11", "22", "24", "25", "38", "41", "42", "49", "60"),
    "0400": ("3", "4", "7", "11", "22", "24", "25", "41", "42", "49", "90"),
    "0420": ("3", "4", "7", "11", "24", "25", "41", "42", "49", "90"),
    "0500": ("3", "7", "11", "24", "41", "42", "60", "63"),
}
# Fields a response echoes from its request.
ECHOED = ("3", "4", "7", "11", "24", "41")


class FormatProblem(ValueError):
    """A request decodes but lacks a field its type needs (→ 39 = 30)."""


def missing_fields(request: dict[str, str]) -> list[str]:
    return [f for f in MANDATORY.get(request["t"], ()) if f not in request]


def response_to(request: dict[str, str], code: str, mti: str | None = None) -> dict[str, str]:
    response = {"t": mti or response_mti(request["t"]), "39": code}
    for number in ECHOED:
        if number in request:
            response[number] = request[number]
    return response


def response_mti(mti: str) -> str:
    function = int(mti[2])
    return mti[:2] + str(function + 1 if function % 2 == 0 else function) + mti[3]


@dataclass(frozen=True)
class CardData:
    pan: str
    expiry: str | None  # YYMM, or None when the request carries none


def card_data(request: dict[str, str]) -> CardData:
    """PAN and expiry from field 2 and 14, or from track 2 (field 35)."""
    track = request.get("35")
    if "2" in request:
        expiry = request.get("14")
        if expiry is None and track and "=" in track:
            expiry = track.split("=", 1)[1][:4]
        return CardData(request["2"], expiry)
    if track and "=" in track:
        pan, rest = track.split("=", 1)
        if len(rest) < 4:
            raise FormatProblem("track 2 without an expiry date")
        return CardData(pan, rest[:4])
    raise FormatProblem("no PAN (field 2) and no track 2 (field 35)")


def luhn_ok(pan: str) -> bool:
    if not pan.isdigit() or not 12 <= len(pan) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(pan)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def amount_of(request: dict[str, str]) -> int:
    return int(request.get("4", "0") or "0")
