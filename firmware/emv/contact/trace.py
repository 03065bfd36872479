"""The EMV trace of a transaction: every APDU exchanged, in order, with the
PAN and track data masked (first 6 and last 4 PAN digits kept) and the
plaintext PIN block of a VERIFY never recorded.  Exportable as JSON."""

from protocols import tlv
from protocols.errors import DecodeError

COMMAND = ">"
RESPONSE = "<"

# Data objects whose digits are masked: PAN, track 2 equivalent, track 1,
# track 2 / track 1 discretionary data.
MASKED_TAGS = (0x5A, 0x57, 0x56, 0x9F6B, 0x9F1F, 0x9F20)
KEEP_FIRST = 6
KEEP_LAST = 4


def mask_digits(hex_text: str) -> str:
    """Mask a PAN in hex/BCD: keep the first 6 and last 4 digits."""
    digits = hex_text.rstrip("F")
    if len(digits) <= KEEP_FIRST + KEEP_LAST:
        return "*" * len(digits) + hex_text[len(digits) :]
    middle = len(digits) - KEEP_FIRST - KEEP_LAST
    return digits[:KEEP_FIRST] + "*" * middle + digits[-KEEP_LAST:] + hex_text[len(digits) :]


def mask_track(hex_text: str) -> str:
    """Track 2 equivalent: the PAN masked; expiry and service code kept;
    the discretionary data masked."""
    sep = hex_text.find("D")
    if sep < 0:
        return "*" * len(hex_text)
    pan = mask_digits(hex_text[:sep])
    rest = hex_text[sep + 1 :]
    kept = rest[:7]
    return (
        pan + "D" + kept + "*" * len(rest[7:].rstrip("F")) + rest[7 + len(rest[7:].rstrip("F")) :]
    )


def _masked_value(tag: int, value: bytes) -> str:
    text = value.hex().upper()
    if tag == 0x5A:
        return mask_digits(text)
    if tag == 0x57:
        return mask_track(text)
    return "*" * len(text)


def mask_apdu(raw: bytes) -> str:
    """The hex of a response APDU with its sensitive data objects masked."""
    text = raw.hex().upper()
    if len(raw) <= 2:
        return text
    try:
        nodes = tlv.decode(raw[:-2])
    except DecodeError:
        return text
    for node in tlv.walk(nodes):
        if node.tag in MASKED_TAGS and not node.constructed and node.value:
            plain = node.value.hex().upper()
            text = text.replace(plain, _masked_value(node.tag, node.value))
    return text


def mask_command(raw: bytes) -> str:
    """The hex of a command APDU; VERIFY's PIN data is never written out."""
    text = raw.hex().upper()
    if len(raw) > 5 and raw[1] == 0x20:
        return text[:10] + "*" * (len(text) - 10)
    return text


class Trace:
    def __init__(self) -> None:
        self.entries: "list[tuple[str, str]]" = []
        self.notes: "list[str]" = []
        self.pan_hex: "str | None" = None

    def command(self, raw: bytes) -> None:
        self.entries.append((COMMAND, self._mask_pan(mask_command(raw))))

    def response(self, raw: bytes) -> None:
        self.entries.append((RESPONSE, self._mask_pan(mask_apdu(raw))))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def learn_pan(self, pan: bytes) -> None:
        """Mask this PAN wherever it appears, in entries already written too."""
        self.pan_hex = pan.hex().upper().rstrip("F")
        self.entries = [(d, self._mask_pan(h)) for d, h in self.entries]

    def _mask_pan(self, text: str) -> str:
        if self.pan_hex:
            text = text.replace(self.pan_hex, mask_digits(self.pan_hex))
        return text

    def to_json_obj(self) -> "dict[str, object]":
        return {
            "apdus": [[d, h] for d, h in self.entries],
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        """The trace as JSON text: {"apdus": [[">", hex], ["<", hex], ...], "notes": [...]}."""
        import json

        return json.dumps(self.to_json_obj())
