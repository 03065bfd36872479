"""Card data for the messages and receipts, out of the EMV kernels
(docs/app.md, "Cards").  The PAN stays in RAM for the transaction only;
receipts and logs get it masked."""

from protocols import tlv

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Field 55 of a contactless request: the data record objects the host and
# the issuer need (docs/acquirer.md, check 7, and the ARQC inputs).
CONTACTLESS_ICC_TAGS = (
    0x9F02, 0x9F03, 0x9F1A, 0x95, 0x5F2A, 0x9A, 0x9C, 0x9F37, 0x82, 0x9F36,
    0x9F26, 0x9F27, 0x9F10, 0x9F33, 0x9F34, 0x9F35, 0x9F6E, 0x9F66, 0x84, 0x5F34,
)  # fmt: skip


def _digits(value: bytes) -> str:
    return "".join("%02X" % b for b in value)


def card_from_tags(get: "Any", interface: str) -> "dict":
    """{interface, pan, expiry (YYMM), psn, track2, aid, label} from a tag
    getter (``store.get`` / ``data.get``)."""
    card: "dict[str, Any]" = {"interface": interface}
    pan = get(0x5A)
    track2 = get(0x57)
    if pan:
        card["pan"] = _digits(pan).rstrip("F")
    elif track2:
        card["pan"] = _digits(track2).split("D")[0]
    expiry = get(0x5F24)
    if expiry:
        card["expiry"] = _digits(expiry)[:4]
    elif track2:
        rest = _digits(track2).split("D")
        if len(rest) > 1:
            card["expiry"] = rest[1][:4]
    if track2:
        card["track2"] = _digits(track2).rstrip("F")
    psn = get(0x5F34)
    if psn:
        card["psn"] = psn[0]
    aid = get(0x84) or get(0x4F) or get(0x9F06)
    if aid:
        card["aid"] = bytes(aid)
    label = get(0x50)
    if label:
        try:
            card["label"] = bytes(label).decode()
        except UnicodeError:
            pass
    return card


def contactless_icc(data: "dict") -> bytes:
    return tlv.encode([tlv.TLV(t, data[t]) for t in CONTACTLESS_ICC_TAGS if t in data])


def issuer_data(field55: "str | bytes | None") -> "tuple[bytes | None, bytes]":
    """(tag 91, the 71/72 script templates as they came) from a response's field 55."""
    if not field55:
        return None, b""
    raw = bytes.fromhex(field55) if isinstance(field55, str) else bytes(field55)
    auth = None
    scripts = bytearray()
    for node in tlv.decode(raw):
        if node.tag == 0x91:
            auth = bytes(node.value)
        elif node.tag in (0x71, 0x72):
            scripts.extend(tlv.encode([node]))
    return auth, bytes(scripts)
