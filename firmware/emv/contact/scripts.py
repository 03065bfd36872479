"""Issuer script processing, EMV 4.3 Book 3 §10.10 and Book 4 Annex A5:
templates 71 (before the final GENERATE AC) and 72 (after), each with an
optional Script Identifier (9F18) and Issuer Script Commands (86) sent in
order; a command answered other than 90xx/62xx/63xx stops its script.
Results: 5 bytes per script (9F5B)."""

from firmware.emv.contact.link import CardError
from protocols import tlv
from protocols.errors import DecodeError

BEFORE = 0x71
AFTER = 0x72

NOT_PERFORMED = 0x00
FAILED = 0x10
SUCCESSFUL = 0x20


def templates(raw: bytes) -> "list[tlv.TLV] | None":
    """The 71/72 templates of the host's script data, or None if malformed."""
    if not raw:
        return []
    try:
        nodes = tlv.decode(raw)
    except DecodeError:
        return None
    return [n for n in nodes if n.tag in (BEFORE, AFTER)]


def _sequence(number: int) -> int:
    return number if number < 15 else 15


def run(link: "object", script: "tlv.TLV") -> bytes:
    """Send one script's commands; its 5-byte result (Book 4 A5)."""
    ident = b"\x00\x00\x00\x00"
    commands = []
    for child in script.children or []:
        if child.tag == 0x9F18 and len(child.value) == 4:
            ident = child.value
        elif child.tag == 0x86:
            commands.append(child.value)
        else:
            return bytes((FAILED,)) + ident
    for number, command in enumerate(commands, 1):
        try:
            reply = link.send(command)  # type: ignore[attr-defined]
        except CardError:
            return bytes((FAILED | _sequence(number),)) + ident
        if reply.sw1 not in (0x90, 0x62, 0x63):
            return bytes((FAILED | _sequence(number),)) + ident
    return bytes((SUCCESSFUL,)) + ident


def process(
    link: "object", nodes: "list[tlv.TLV]", kind: int, tvr: "object", tsi: "object"
) -> bytes:
    """Run the scripts of one kind; their results, concatenated."""
    results = b""
    failed_bit = (
        "script_failed_before_final_ac" if kind == BEFORE else "script_failed_after_final_ac"
    )
    for node in nodes:
        if node.tag != kind:
            continue
        tsi.set("script_processing_performed")  # type: ignore[attr-defined]
        result = run(link, node)
        if result[0] & 0xF0 == FAILED:
            tvr.set(failed_bit)  # type: ignore[attr-defined]
        results += result
    return results
