"""BER-TLV as EMV uses it (EMV Book 3 Annex B), and Data Object Lists (§5.4).

A data object is a tag, a length and a value.  Tags are kept as ints of
their encoded bytes (0x9F02); b6 of the first tag byte marks a constructed
object, whose value is itself a sequence of data objects.  ``decode`` turns
bytes into a list of ``TLV`` nodes, ``encode`` turns nodes back into bytes.

Decoding is strict where EMV is strict (indefinite length, lengths of more
than four bytes and values running past their parent are errors) and lenient
where cards are (non-minimal long-form lengths, and 00/FF padding before,
between and after objects, which is skipped).  It is iterative, with the
nesting depth capped, so hostile input cannot exhaust the stack.
"""

from protocols.errors import DecodeError, EncodeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from typing import Any

# EMV templates nest at most four deep (6F > A5 > BF0C > 61); the cap leaves
# room for proprietary templates while bounding work on hostile input.
MAX_DEPTH = 16
# EMV tags are at most three bytes; four keeps ISO 7816-4 tags decodable.
MAX_TAG_BYTES = 4
MAX_LENGTH_BYTES = 4
PADDING_BYTES = (0x00, 0xFF)


def tag_bytes(tag: int) -> bytes:
    """The encoded bytes of ``tag``; EncodeError when they are not a valid tag."""
    if tag <= 0 or tag > 0xFFFFFFFF:
        raise EncodeError("tag out of range", tag=_safe_hex(tag))
    size = _byte_count(tag)
    raw = tag.to_bytes(size, "big")
    first = raw[0]
    if first in PADDING_BYTES:
        raise EncodeError("tag starts with a padding byte", tag=tag_hex(tag))
    if size == 1:
        if first & 0x1F == 0x1F:
            raise EncodeError("tag announces subsequent bytes it lacks", tag=tag_hex(tag))
        return raw
    if first & 0x1F != 0x1F:
        raise EncodeError("multi-byte tag must start with low bits 11111", tag=tag_hex(tag))
    for i in range(1, size - 1):
        if not raw[i] & 0x80:
            raise EncodeError("tag byte %d lacks the 'more' bit" % (i + 1), tag=tag_hex(tag))
    if raw[-1] & 0x80:
        raise EncodeError("last tag byte has the 'more' bit set", tag=tag_hex(tag))
    return raw


def _byte_count(number: int) -> int:
    """Bytes needed for a positive int (MicroPython has no int.bit_length)."""
    count = 1
    while number > 0xFF:
        number >>= 8
        count += 1
    return count


def tag_hex(tag: int) -> str:
    """Upper-case hex of the tag bytes: 0x9F02 -> '9F02', 0x5A -> '5A'."""
    text = "%X" % tag
    return "0" + text if len(text) % 2 else text


def _safe_hex(tag: int) -> str:
    return tag_hex(tag) if tag >= 0 else str(tag)


def is_constructed(tag: int) -> bool:
    """b6 of the first tag byte: the value holds further data objects."""
    first = tag
    while first > 0xFF:
        first >>= 8
    return bool(first & 0x20)


class TLV:
    """One data object.

    Primitive: ``value`` is the value bytes and ``children`` is None.
    Constructed: ``children`` is the list of inner objects and ``value`` is
    their encoding (computed, so editing ``children`` keeps them in step).
    """

    def __init__(self, tag: int, value: bytes = b"", children: "list[TLV] | None" = None) -> None:
        self.tag = tag
        self.children: "list[TLV] | None"
        if is_constructed(tag):
            if value:
                raise EncodeError(
                    "constructed object takes children, not a value", tag=tag_hex(tag)
                )
            self.children = children if children is not None else []
            self._value = b""
        else:
            if children:
                raise EncodeError("primitive object cannot have children", tag=tag_hex(tag))
            self.children = None
            self._value = bytes(value)

    @property
    def constructed(self) -> bool:
        return self.children is not None

    @property
    def value(self) -> bytes:
        if self.children is not None:
            return encode(self.children)
        return self._value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TLV):
            return NotImplemented
        return (
            self.tag == other.tag
            and self.children == other.children
            and self._value == other._value
        )

    def __repr__(self) -> str:
        if self.children is not None:
            return "TLV(0x%s, children=%r)" % (tag_hex(self.tag), self.children)
        return "TLV(0x%s, %r)" % (tag_hex(self.tag), self._value)


def _read_tag(data: bytes, pos: int, end: int) -> "tuple[int, int]":
    """Tag starting at ``pos``; returns (tag, offset after it)."""
    start = pos
    first = data[pos]
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:
        while True:
            if pos >= end:
                raise DecodeError("truncated tag", offset=start, tag=tag_hex(tag))
            if pos - start >= MAX_TAG_BYTES:
                raise DecodeError(
                    "tag longer than %d bytes" % MAX_TAG_BYTES, offset=start, tag=tag_hex(tag)
                )
            byte = data[pos]
            tag = (tag << 8) | byte
            pos += 1
            if not byte & 0x80:
                break
    return tag, pos


def _read_length(data: bytes, pos: int, end: int, tag: int) -> "tuple[int, int]":
    """Length starting at ``pos``; returns (length, offset of the value)."""
    if pos >= end:
        raise DecodeError("truncated length", offset=pos, tag=tag_hex(tag))
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0:
        raise DecodeError("indefinite length (80) not allowed", offset=pos, tag=tag_hex(tag))
    if count > MAX_LENGTH_BYTES:
        raise DecodeError(
            "length field of %d bytes (at most %d)" % (count, MAX_LENGTH_BYTES),
            offset=pos,
            tag=tag_hex(tag),
        )
    if pos + 1 + count > end:
        raise DecodeError("truncated length", offset=pos, tag=tag_hex(tag))
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def decode(data: bytes, max_depth: int = MAX_DEPTH) -> "list[TLV]":
    """Decode a sequence of data objects, recursing into constructed ones."""
    data = bytes(data)
    top: "list[TLV]" = []
    # Each open level: (list receiving its objects, offset where it ends).
    stack: "list[tuple[list[TLV], int]]" = [(top, len(data))]
    pos = 0
    while True:
        siblings, end = stack[-1]
        if pos >= end:
            if len(stack) == 1:
                return top
            stack.pop()
            continue
        if data[pos] in PADDING_BYTES:
            pos += 1
            continue
        start = pos
        tag, pos = _read_tag(data, pos, end)
        length, pos = _read_length(data, pos, end, tag)
        if pos + length > end:
            raise DecodeError(
                "value of %d bytes runs past end of %s"
                % (length, "input" if len(stack) == 1 else "template"),
                offset=start,
                tag=tag_hex(tag),
            )
        if is_constructed(tag):
            if len(stack) > max_depth:
                raise DecodeError(
                    "nesting deeper than %d" % max_depth, offset=start, tag=tag_hex(tag)
                )
            kids: "list[TLV]" = []
            siblings.append(TLV(tag, children=kids))
            stack.append((kids, pos + length))
        else:
            siblings.append(TLV(tag, data[pos : pos + length]))
            pos += length


def encode_length(length: int) -> bytes:
    """Minimal BER length: short form below 128, else 81..84 long form."""
    if length < 0:
        raise EncodeError("negative length")
    if length < 0x80:
        return bytes((length,))
    size = _byte_count(length)
    if size > MAX_LENGTH_BYTES:
        raise EncodeError("length %d needs more than %d bytes" % (length, MAX_LENGTH_BYTES))
    return bytes((0x80 | size,)) + length.to_bytes(size, "big")


def encode_one(node: TLV) -> bytes:
    value = node.value
    return tag_bytes(node.tag) + encode_length(len(value)) + value


def encode(nodes: "Iterable[TLV]") -> bytes:
    """Encode data objects (minimal lengths, no padding)."""
    return b"".join(encode_one(node) for node in nodes)


def walk(nodes: "Iterable[TLV]") -> "Iterator[TLV]":
    """Every node, depth first, in document order."""
    # Explicit stack of (siblings, next index): no recursion, and no
    # two-argument next(), which not every MicroPython port has.
    stack: "list[tuple[list[TLV], int]]" = [(list(nodes), 0)]
    while stack:
        siblings, index = stack[-1]
        if index >= len(siblings):
            stack.pop()
            continue
        stack[-1] = (siblings, index + 1)
        node = siblings[index]
        yield node
        if node.children is not None:
            stack.append((node.children, 0))


def find(nodes: "Iterable[TLV]", tag: int) -> "TLV | None":
    """First node with ``tag`` at any depth, or None."""
    for node in walk(nodes):
        if node.tag == tag:
            return node
    return None


def find_all(nodes: "Iterable[TLV]", tag: int) -> "list[TLV]":
    return [node for node in walk(nodes) if node.tag == tag]


def to_dict(nodes: "Iterable[TLV]") -> "dict[int, bytes]":
    """Flat tag store of the primitive objects at any depth (first one wins)."""
    store: "dict[int, bytes]" = {}
    for node in walk(nodes):
        if node.children is None and node.tag not in store:
            store[node.tag] = node.value
    return store


_TEXT_FORMATS = ("a", "an", "ans")


def _printable(raw: bytes) -> bool:
    return all(0x20 <= byte <= 0x7E for byte in raw)


def to_json(nodes: "Iterable[TLV]") -> "list[dict[str, Any]]":
    """JSON-ready tree with tag names from the EMV dictionary (docs/tlv.md).

    Each object: ``tag`` (hex), ``name`` (null when not in the dictionary),
    ``length``; then ``children`` for a constructed object, or ``value``
    (hex) for a primitive one, plus ``text`` when the dictionary says the
    format is a/an/ans and the bytes are printable ASCII.
    """
    from protocols import emv_tags  # on use: see _tag_format

    out: "list[dict[str, Any]]" = []
    for node in nodes:
        item: "dict[str, Any]" = {
            "tag": tag_hex(node.tag),
            "name": emv_tags.tag_name(node.tag),
        }
        value = node.value
        item["length"] = len(value)
        if node.children is not None:
            item["children"] = to_json(node.children)
        else:
            item["value"] = value.hex().upper()
            if _tag_format(node.tag) in _TEXT_FORMATS and _printable(value):
                item["text"] = value.decode()
        out.append(item)
    return out


# Data Object Lists (EMV Book 3 §5.4) ------------------------------------


def parse_dol(dol: bytes) -> "list[tuple[int, int]]":
    """The (tag, length) entries of a PDOL, CDOL1, CDOL2, DDOL or TDOL."""
    dol = bytes(dol)
    entries: "list[tuple[int, int]]" = []
    pos = 0
    end = len(dol)
    while pos < end:
        if dol[pos] in PADDING_BYTES:
            raise DecodeError("byte %02X is not a tag" % dol[pos], offset=pos, field="DOL")
        tag, pos = _read_tag(dol, pos, end)
        length, pos = _read_length(dol, pos, end, tag)
        entries.append((tag, length))
    return entries


def _fit(value: bytes, length: int, fmt: "str | None") -> bytes:
    """Book 3 §5.4 rules c and d: truncate or pad one value to ``length``."""
    if len(value) >= length:
        # Numeric keeps its least significant (rightmost) digits.
        return value[len(value) - length :] if fmt == "n" else value[:length]
    pad = length - len(value)
    if fmt == "n":
        return bytes(pad) + value
    if fmt == "cn":
        return value + b"\xff" * pad
    return value + bytes(pad)


def _tag_format(tag: int) -> "str | None":
    # The dictionary is imported on first use, not with this module: it costs
    # about 34 KB of heap when loaded from .py/.mpy on MicroPython, and the
    # codec alone does not need it.
    from protocols import emv_tags

    return emv_tags.tag_format(tag)


def build_dol_data(dol: bytes, store: "Mapping[int, bytes]") -> bytes:
    """Concatenate the values a DOL asks for, as EMV Book 3 §5.4 prescribes.

    A tag absent from ``store``, or a constructed tag, gives zeros (rules a,
    b).  A value of another length is cut or padded by its format from the
    EMV dictionary: numeric (n) right-justified with leading 00, compressed
    numeric (cn) padded with trailing FF, anything else left-justified with
    trailing 00 (rules c, d).
    """
    out = []
    for tag, length in parse_dol(dol):
        value = store.get(tag)
        if value is None or is_constructed(tag):
            out.append(bytes(length))
            continue
        out.append(_fit(bytes(value), length, _tag_format(tag)))
    return b"".join(out)
