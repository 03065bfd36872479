"""Application selection, EMV 4.3 Book 1 §12: the candidate list from the
Payment System Environment directory (1PAY.SYS.DDF01, READ RECORD of its
SFI, nested DDFs) or, failing that, from the terminal's AID list (SELECT
each AID, next occurrences for partial selection); priority (87) order,
cardholder confirmation (87 b8), final SELECT and removal of an
application that answers 6283 (blocked) or fails."""

from protocols import apdu, tlv
from protocols.errors import DecodeError

PSE = b"1PAY.SYS.DDF01"
SW_OK = 0x9000
SW_BLOCKED_APP = 0x6283
SW_CARD_BLOCKED = 0x6A81
SW_NOT_FOUND = 0x6A82
SW_NO_RECORD = 0x6A83
MAX_RECORDS = 32
MAX_DDFS = 8


class CardBlocked(Exception):
    """SELECT answered 6A81: the card is blocked or has no SELECT (terminate)."""


class Candidate:
    def __init__(
        self,
        adf_name: bytes,
        label: bytes,
        priority: "int | None",
        preferred: bytes,
        aid_config: "object",
    ) -> None:
        self.adf_name = adf_name
        self.label = label
        self.priority = priority  # the whole 87 byte, or None
        self.preferred_name = preferred
        self.aid_config = aid_config

    @property
    def needs_confirmation(self) -> bool:
        return self.priority is not None and bool(self.priority & 0x80)

    @property
    def rank(self) -> int:
        """Book 1 §12.4: 1 is the highest priority; none (0 or absent) comes last."""
        number = (self.priority or 0) & 0x0F
        return number if number else 16

    def display_name(self) -> str:
        raw = self.preferred_name or self.label
        return "".join(chr(b) for b in raw if 0x20 <= b < 0x7F) or self.adf_name.hex().upper()

    def __repr__(self) -> str:
        return "Candidate(%s)" % self.adf_name.hex().upper()


def _value(nodes: "list[tlv.TLV]", tag: int) -> bytes:
    node = tlv.find(nodes, tag)
    return node.value if node is not None and not node.constructed else b""


def _candidate(nodes: "list[tlv.TLV]", name: bytes, config: "object") -> "Candidate | None":
    if not 5 <= len(name) <= 16:  # an ADF name is an AID: RID + PIX (ISO 7816-5)
        return None
    aid_config = config.aid_for(name)  # type: ignore[attr-defined]
    if aid_config is None:
        return None
    priority = _value(nodes, 0x87)
    return Candidate(
        name,
        _value(nodes, 0x50),
        priority[0] if priority else None,
        _value(nodes, 0x9F12),
        aid_config,
    )


def from_pse(link: "object", config: "object") -> "list[Candidate] | None":
    """Book 1 §12.3.2. None means: use the AID list instead."""
    reply = link.send(apdu.select_by_name(PSE))  # type: ignore[attr-defined]
    if reply.sw == SW_CARD_BLOCKED:
        raise CardBlocked("PSE SELECT 6A81")
    if reply.sw != SW_OK:
        return None
    try:
        sfi_node = tlv.find(tlv.decode(reply.data), 0x88)
    except DecodeError:
        return None
    if sfi_node is None or len(sfi_node.value) != 1 or not 1 <= sfi_node.value[0] <= 10:
        return None
    found: "list[Candidate]" = []
    queue = [sfi_node.value[0]]
    ddfs = 0
    while queue:
        sfi = queue.pop(0)
        for number in range(1, MAX_RECORDS + 1):
            reply = link.send(apdu.read_record(number, sfi))  # type: ignore[attr-defined]
            if reply.sw == SW_NO_RECORD:
                break
            if reply.sw != SW_OK:
                return None
            try:
                nodes = tlv.decode(reply.data)
            except DecodeError:
                return None
            if not nodes or nodes[0].tag != 0x70 or nodes[0].children is None:
                return None
            for entry in nodes[0].children:
                if entry.tag != 0x61 or entry.children is None:
                    continue
                adf = _value(entry.children, 0x4F)
                ddf = _value(entry.children, 0x9D)
                if adf:
                    candidate = _candidate(entry.children, adf, config)
                    if candidate is not None:
                        found.append(candidate)
                elif ddf and ddfs < MAX_DDFS:
                    ddfs += 1
                    nested = _select_ddf(link, ddf)
                    if nested is not None:
                        queue.append(nested)
    return found


def _select_ddf(link: "object", name: bytes) -> "int | None":
    reply = link.send(apdu.select_by_name(name))  # type: ignore[attr-defined]
    if reply.sw != SW_OK:
        return None
    try:
        node = tlv.find(tlv.decode(reply.data), 0x88)
    except DecodeError:
        return None
    if node is None or len(node.value) != 1 or not 1 <= node.value[0] <= 10:
        return None
    return node.value[0]


def from_aid_list(link: "object", config: "object") -> "list[Candidate]":
    """Book 1 §12.3.3: SELECT every terminal AID, following partial matches."""
    found: "list[Candidate]" = []
    for aid_config in config.aids:  # type: ignore[attr-defined]
        reply = link.send(apdu.select_by_name(aid_config.aid))  # type: ignore[attr-defined]
        if reply.sw == SW_CARD_BLOCKED:
            raise CardBlocked("SELECT 6A81")
        for _ in range(MAX_RECORDS):
            if reply.sw not in (SW_OK, SW_BLOCKED_APP):
                break
            try:
                nodes = tlv.decode(reply.data)
            except DecodeError:
                break
            name = _value(nodes, 0x84)
            if name == aid_config.aid or (aid_config.partial and aid_config.matches(name)):
                if reply.sw == SW_OK:
                    candidate = _candidate(nodes, name, config)
                    if candidate is not None:
                        found.append(candidate)
            elif not name.startswith(aid_config.aid):
                break
            if not aid_config.partial:
                break
            reply = link.send(apdu.select_by_name(aid_config.aid, next_occurrence=True))  # type: ignore[attr-defined]
    return found


def candidates(link: "object", config: "object") -> "list[Candidate]":
    """The candidate list in priority order (stable for equal priorities)."""
    found = None
    if config.option("pse"):  # type: ignore[attr-defined]
        found = from_pse(link, config)
    if not found:
        found = from_aid_list(link, config)
    indexed = [(c.rank, i, c) for i, c in enumerate(found)]
    indexed.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in indexed]


def choose(candidates_: "list[Candidate]", config: "object", ui: "object") -> "Candidate | None":
    """Book 1 §12.4: the application to try, or None (nothing acceptable)."""
    if not candidates_:
        return None
    confirm = config.option("cardholder_confirmation") and ui is not None  # type: ignore[attr-defined]
    if len(candidates_) == 1:
        only = candidates_[0]
        if only.needs_confirmation:
            if not confirm:
                return None
            return only if ui.confirm_application(only) else None  # type: ignore[attr-defined]
        return only
    if confirm:
        index = ui.choose_application(candidates_)  # type: ignore[attr-defined]
        if index is None or not 0 <= index < len(candidates_):
            return None
        return candidates_[index]
    for candidate in candidates_:
        if not candidate.needs_confirmation:
            return candidate
    return None


def final_select(link: "object", candidate: Candidate) -> "list[tlv.TLV] | None":
    """SELECT the chosen ADF; its FCI, or None to remove it from the list."""
    reply = link.send(apdu.select_by_name(candidate.adf_name))  # type: ignore[attr-defined]
    if reply.sw != SW_OK:
        return None
    try:
        nodes = tlv.decode(reply.data)
    except DecodeError:
        return None
    fci = tlv.find(nodes, 0x6F)
    if fci is None or _value(nodes, 0x84) != candidate.adf_name:
        return None
    return nodes
