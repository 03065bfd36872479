"""ISO 8583 message codec driven by a field spec (see protocols/iso8583_specs.py).

A message is a dict from field key to value:

- ``"t"``: message type indicator, 4 digits (``"0200"``);
- ``"p"``: primary bitmap and ``"1"``: secondary bitmap, 16 uppercase hex
  digits each.  decode() reports them; encode() ignores them and computes the
  bitmaps from the fields present;
- ``"2"`` .. ``"128"``: data elements.  Types n, an, ans and z decode to
  ``str``; type b decodes to uppercase hex ``str`` and encodes from hex
  ``str`` or ``bytes``.

Every successfully decoded message re-encodes to the same bytes, except that
decode() accepts an all-zero secondary bitmap which encode() never emits.

Spec format (one dict per field, keyed like the message):
``type`` n/a/an/ans/z/b; ``data_enc`` ascii/bcd/binary; ``len_enc``
ascii/bcd/binary; ``len_type`` 0/1/2/3/4 (number of length digits: fixed, L,
LL, LLL, LLLL); ``max_len`` (digits for n and z, characters for an and ans,
bytes for b; the exact length when fixed); ``desc``.  ``"t"`` has data_enc
ascii or bcd; ``"p"``/``"1"`` have data_enc binary or ascii (hex text).
Odd-length BCD gets a pad nibble: optional ``pad`` (left/right) and
``pad_nibble`` (one hex digit) say which, by default a leading 0 for type n
and a trailing F for type z.  The track separator ``=`` travels as nibble D.
A BCD length of N digits takes ceil(N/2) bytes, a binary one 1 byte for L/LL
and 2 bytes for LLL/LLLL.

TCP framing (the payterm dialect): a 2-byte big-endian length, then the
message; see frame(), unframe() and split_frame().
"""

from protocols.errors import DecodeError, EncodeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Union

    Spec = Mapping[str, Mapping[str, Any]]
    Value = Union[str, bytes, bytearray]
    # (number, key, kind, len_kind, len_width, max_len, allowed, len_format,
    #  pad nibble, pad on the left)
    Plan = tuple[int, str, int, int, int, int, bytes, str, str, bool]

# Value kinds of a compiled field plan.
_TEXT = 0  # an/ans in ASCII: checked against an allowed byte set
_ASCII_DIGITS = 1  # n in ASCII
_BCD_DIGITS = 2  # n in BCD
_BCD_TRACK = 3  # z in BCD, '=' as nibble D
_BINARY = 4  # b as raw bytes

# Length prefix kinds.
_FIXED = 0
_LEN_ASCII = 1
_LEN_BCD = 2
_LEN_BINARY = 3

_DIGITS = b"0123456789"
_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Character sets per field type, as bytes of the ASCII encoding.
CHARSETS = {
    "n": _DIGITS,
    "a": _LETTERS + b" ",
    "an": _LETTERS + _DIGITS + b" ",
    "ans": bytes(range(0x20, 0x7F)),
    # Track 2/3 in ASCII: digits and the field separator, written '=' (or 'D',
    # the BCD nibble's hex name, which some hosts send in text).
    "z": _DIGITS + b"=D",
}
_HEX_UPPER = b"0123456789ABCDEF"

FRAME_HEADER_LEN = 2
FRAME_MAX_LEN = 0xFFFF


def _only_has_translate(data: bytes, allowed: bytes) -> bool:
    """True when every byte of data is in allowed (deletion runs in C)."""
    return not data.translate(None, allowed)


def _only_has_loop(data: bytes, allowed: bytes) -> bool:
    """The same check for MicroPython, whose bytes lack translate()."""
    return all(c in allowed for c in data)


_only_has = _only_has_translate if hasattr(b"", "translate") else _only_has_loop


# ---------------------------------------------------------------- compiling


class CompiledSpec:
    """A spec checked and turned into per-field plans for the hot loops."""

    def __init__(self, spec: "Spec") -> None:
        self.spec = spec
        self.mti_bcd = _mti_is_bcd(spec)
        self.primary_binary = _bitmap_is_binary(spec, "p")
        self.secondary_binary = _bitmap_is_binary(spec, "1") if "1" in spec else True
        self.has_secondary = "1" in spec
        # plans[n] is the plan of field n (2..128) or None if the spec lacks it.
        plans: "list[Plan | None]" = [None] * 129
        by_key = {}
        for key in spec:
            if key in ("t", "p", "1"):
                continue
            number = _field_number(key)
            if number is None or number < 2 or number > 128:
                raise ValueError("spec key %r is not t, p, 1 or a field 2..128" % (key,))
            if number > 64 and not self.has_secondary:
                raise ValueError("spec has field %d but no secondary bitmap '1'" % number)
            plan = _compile_field(key, number, spec[key])
            plans[number] = plan
            by_key[key] = plan
        self.plans = plans
        self.by_key = by_key


def _field_number(key: str) -> "int | None":
    # Only canonical ASCII decimal keys ("2", not "02", " 2" or "٢") name a field.
    if not key.isdigit():
        return None
    number = int(key)
    return number if str(number) == key else None


def _mti_is_bcd(spec: "Spec") -> bool:
    enc = spec.get("t", {}).get("data_enc")
    if enc not in ("ascii", "bcd"):
        raise ValueError("spec 't' data_enc must be ascii or bcd, not %r" % (enc,))
    return bool(enc == "bcd")


def _bitmap_is_binary(spec: "Spec", key: str) -> bool:
    enc = spec.get(key, {}).get("data_enc")
    if enc not in ("binary", "ascii"):
        raise ValueError("spec %r data_enc must be binary or ascii, not %r" % (key, enc))
    return bool(enc == "binary")


def _compile_field(key: str, number: int, fs: "Mapping[str, Any]") -> "Plan":
    ftype = fs.get("type")
    data_enc = fs.get("data_enc")
    len_type = fs.get("len_type")
    max_len = fs.get("max_len")
    where = "spec field %s: " % key
    if ftype not in ("n", "a", "an", "ans", "z", "b"):
        raise ValueError(where + "type must be n, a, an, ans, z or b, not %r" % (ftype,))
    if len_type not in (0, 1, 2, 3, 4):
        raise ValueError(where + "len_type must be 0..4, not %r" % (len_type,))
    if not isinstance(max_len, int) or max_len < 1:
        raise ValueError(where + "max_len must be a positive int, not %r" % (max_len,))
    # A prefix of len_type digits caps max_len; a fixed field is max_len long.
    if len_type > 0 and max_len >= 10**len_type:
        raise ValueError(where + "max_len %r does not fit len_type %r" % (max_len, len_type))
    allowed = CHARSETS.get(ftype, b"")
    if ftype == "b":
        if data_enc != "binary":
            raise ValueError(where + "type b needs data_enc binary")
        kind = _BINARY
    elif data_enc == "bcd":
        if ftype == "n":
            kind = _BCD_DIGITS
        elif ftype == "z":
            kind = _BCD_TRACK
        else:
            raise ValueError(where + "only n and z can be BCD")
    elif data_enc == "ascii":
        kind = _ASCII_DIGITS if ftype == "n" else _TEXT
    else:
        raise ValueError(where + "data_enc must be ascii, bcd or binary, not %r" % (data_enc,))
    if len_type == 0:
        len_kind = _FIXED
        len_width = 0
        len_format = ""
    else:
        len_enc = fs.get("len_enc")
        if len_enc == "ascii":
            len_kind = _LEN_ASCII
            len_width = len_type
            len_format = "%0" + str(len_type) + "d"
        elif len_enc == "bcd":
            len_kind = _LEN_BCD
            len_width = (len_type + 1) // 2
            len_format = "%0" + str(2 * len_width) + "d"
        elif len_enc == "binary":
            len_kind = _LEN_BINARY
            len_width = (len_type + 1) // 2
            len_format = ""
        else:
            raise ValueError(where + "len_enc must be ascii, bcd or binary, not %r" % (len_enc,))
    # Odd-length BCD needs a pad nibble: by default a leading 0 for numbers
    # (the value is unchanged) and a trailing F for track data.
    pad_side = fs.get("pad", "left" if ftype == "n" else "right")
    pad = fs.get("pad_nibble", "0" if ftype == "n" else "F")
    if pad_side not in ("left", "right"):
        raise ValueError(where + "pad must be left or right, not %r" % (pad_side,))
    if not isinstance(pad, str) or len(pad) != 1 or pad not in "0123456789ABCDEF":
        raise ValueError(where + "pad_nibble must be one uppercase hex digit, not %r" % (pad,))
    return (
        number, key, kind, len_kind, len_width, max_len, allowed, len_format,
        pad, pad_side == "left",
    )  # fmt: skip


_compiled_cache: "dict[int, CompiledSpec]" = {}
_CACHE_MAX = 4


def compile_spec(spec: "Spec | CompiledSpec") -> CompiledSpec:
    """Check a spec and precompute its plans (cached; treat specs as immutable).

    Raises ValueError for a malformed spec.
    """
    if isinstance(spec, CompiledSpec):
        return spec
    cached = _compiled_cache.get(id(spec))
    # The cache keeps a reference to the spec, so its id cannot be reused.
    if cached is not None and cached.spec is spec:
        return cached
    compiled = CompiledSpec(spec)
    # A device uses one or two specs; a small cap bounds memory on MicroPython.
    if len(_compiled_cache) >= _CACHE_MAX:
        _compiled_cache.clear()
    _compiled_cache[id(spec)] = compiled
    return compiled


# ---------------------------------------------------------------- decoding


def decode(data: "bytes | bytearray", spec: "Spec | CompiledSpec") -> "dict[str, str]":
    """Decode one ISO 8583 message (without the TCP length header).

    Raises DecodeError naming the field and offset on any malformed input.
    """
    compiled = compile_spec(spec)
    data = bytes(data)
    size = len(data)
    doc: "dict[str, str]" = {}

    if compiled.mti_bcd:
        if size < 2:
            raise DecodeError("message type truncated", offset=0, field="t")
        mti = data[:2].hex()
        idx = 2
    else:
        if size < 4:
            raise DecodeError("message type truncated", offset=0, field="t")
        if not data[:4].isdigit():
            raise DecodeError("message type must be 4 digits", offset=0, field="t")
        mti = data[:4].decode()
        idx = 4
    if len(mti) != 4 or not mti.isdigit():
        raise DecodeError("message type must be 4 digits", offset=0, field="t")
    doc["t"] = mti

    bitmap, idx = _decode_bitmap(data, idx, compiled.primary_binary, "p")
    doc["p"] = bitmap.hex().upper()
    fields = _bits_set(bitmap, 0)
    if fields and fields[0] == 1:
        if not compiled.has_secondary:
            raise DecodeError("secondary bitmap not in spec", offset=idx, field="1")
        secondary, idx = _decode_bitmap(data, idx, compiled.secondary_binary, "1")
        doc["1"] = secondary.hex().upper()
        fields = fields[1:] + _bits_set(secondary, 64)

    plans = compiled.plans
    for number in fields:
        plan = plans[number]
        if plan is None:
            raise DecodeError("bitmap has a field the spec lacks", offset=idx, field=number)
        idx = _decode_field(data, idx, size, plan, doc)

    if idx != size:
        last = fields[-1] if fields else ("1" if "1" in doc else "p")
        raise DecodeError("%d bytes after the last field" % (size - idx), offset=idx, field=last)
    return doc


def _decode_bitmap(data: bytes, idx: int, binary: bool, key: str) -> "tuple[bytes, int]":
    width = 8 if binary else 16
    end = idx + width
    if end > len(data):
        raise DecodeError("bitmap truncated", offset=idx, field=key)
    raw = data[idx:end]
    if binary:
        return raw, end
    if not _only_has(raw, _HEX_UPPER):
        raise DecodeError("bitmap is not 16 uppercase hex digits", offset=idx, field=key)
    return bytes.fromhex(raw.decode()), end


# Offsets (0-3, from the most significant bit) of the bits set in a nibble:
# a 16-entry table visits only set bits at a negligible memory cost.
_NIBBLE_BITS = tuple(tuple(b for b in range(4) if v & (8 >> b)) for v in range(16))


def _bits_set(bitmap: bytes, base: int) -> "list[int]":
    """Field numbers whose bits are set, in ascending order (bit 1 = MSB)."""
    numbers: "list[int]" = []
    append = numbers.append
    for i in range(8):
        byte = bitmap[i]
        if byte:
            first = base + 8 * i + 1
            for offset in _NIBBLE_BITS[byte >> 4]:
                append(first + offset)
            for offset in _NIBBLE_BITS[byte & 15]:
                append(first + 4 + offset)
    return numbers


def _decode_field(data: bytes, idx: int, size: int, plan: "Plan", doc: "dict[str, str]") -> int:
    number, key, kind, len_kind, len_width, max_len, allowed, _, pad, pad_left = plan
    start = idx
    if len_kind == _FIXED:
        units = max_len
    else:
        end = idx + len_width
        if end > size:
            raise DecodeError("length prefix truncated", offset=idx, field=number)
        raw = data[idx:end]
        if len_kind == _LEN_ASCII:
            if not raw.isdigit():
                raise DecodeError("length prefix is not digits", offset=idx, field=number)
            units = int(raw)
        elif len_kind == _LEN_BCD:
            text = raw.hex()
            if not text.isdigit():
                raise DecodeError("length prefix is not BCD", offset=idx, field=number)
            units = int(text)
        else:
            units = int.from_bytes(raw, "big")
        if units > max_len:
            raise DecodeError(
                "length %d exceeds maximum %d" % (units, max_len), offset=idx, field=number
            )
        idx = end
    end = idx + ((units + 1) >> 1 if kind in (_BCD_DIGITS, _BCD_TRACK) else units)
    if end > size:
        raise DecodeError("field truncated", offset=start, field=number)
    raw = data[idx:end]
    if kind == _BINARY:
        doc[key] = raw.hex().upper()
    elif kind == _ASCII_DIGITS:
        if units and not raw.isdigit():
            raise DecodeError("numeric field has a non-digit", offset=idx, field=number)
        doc[key] = raw.decode()
    elif kind == _TEXT:
        if not _only_has(raw, allowed):
            raise DecodeError("character not allowed for the type", offset=idx, field=number)
        doc[key] = raw.decode()
    else:  # BCD digits or track data
        text = raw.hex().upper()
        if units & 1:
            if (text[0] if pad_left else text[-1]) != pad:
                raise DecodeError("BCD pad nibble is not " + pad, offset=idx, field=number)
            text = text[1:] if pad_left else text[:-1]
        if kind == _BCD_DIGITS:
            if units and not text.isdigit():
                raise DecodeError("bad BCD nibble", offset=idx, field=number)
        else:
            text = text.replace("D", "=")
            digits = text.replace("=", "")
            if digits and not digits.isdigit():
                raise DecodeError("bad track data nibble", offset=idx, field=number)
        doc[key] = text
    return end


# ---------------------------------------------------------------- encoding


def encode(doc: "Mapping[str, Value]", spec: "Spec | CompiledSpec") -> bytes:
    """Encode a message dict; raises EncodeError naming the field at fault.

    "p" and "1" in doc are ignored: the bitmaps follow from the fields present.
    """
    compiled = compile_spec(spec)
    by_key = compiled.by_key
    plans = []
    for key in doc:
        if key == "t" or key == "p" or key == "1":
            continue
        plan = by_key.get(key)
        if plan is None:
            raise EncodeError("field not in spec", field=key)
        plans.append(plan)
    plans.sort()

    bitmap = bytearray(16)
    for plan in plans:
        bit = plan[0] - 1
        bitmap[bit >> 3] |= 0x80 >> (bit & 7)
    secondary = bool(plans) and plans[-1][0] > 64
    if secondary:
        bitmap[0] |= 0x80

    parts = [_encode_mti(doc.get("t"), compiled.mti_bcd)]
    parts.append(_encode_bitmap(bytes(bitmap[:8]), compiled.primary_binary))
    if secondary:
        parts.append(_encode_bitmap(bytes(bitmap[8:]), compiled.secondary_binary))
    for plan in plans:
        _encode_field(doc[plan[1]], plan, parts)
    return b"".join(parts)


def _encode_mti(mti: "Value | None", bcd: bool) -> bytes:
    if not isinstance(mti, str):
        raise EncodeError("message type missing or not text", field="t")
    raw = mti.encode()
    if len(raw) != 4 or not raw.isdigit():
        raise EncodeError("message type must be 4 digits", field="t")
    return bytes.fromhex(mti) if bcd else raw


def _encode_bitmap(bitmap: bytes, binary: bool) -> bytes:
    return bitmap if binary else bitmap.hex().upper().encode()


def _encode_field(value: "Value", plan: "Plan", parts: "list[bytes]") -> None:
    number, _, kind, len_kind, len_width, max_len, allowed, len_format, pad, pad_left = plan
    if kind == _BINARY:
        if isinstance(value, str):
            raw = _hex_to_bytes(value, number)
        elif isinstance(value, (bytes, bytearray)):
            raw = bytes(value)
        else:
            raise EncodeError("binary value must be hex text or bytes", field=number)
        units = len(raw)
    else:
        if not isinstance(value, str):
            raise EncodeError("value must be text", field=number)
        raw = value.encode()
        units = len(raw)
        if kind in (_ASCII_DIGITS, _BCD_DIGITS):
            if units and not raw.isdigit():
                raise EncodeError("numeric field must hold only digits", field=number)
        elif not _only_has(raw, allowed):
            raise EncodeError("character not allowed for type", field=number)
        if kind in (_BCD_DIGITS, _BCD_TRACK):
            nibbles = value.replace("=", "D") if kind == _BCD_TRACK else value
            if units & 1:
                nibbles = pad + nibbles if pad_left else nibbles + pad
            raw = bytes.fromhex(nibbles)
    if len_kind == _FIXED:
        if units != max_len:
            raise EncodeError("length %d, fixed length is %d" % (units, max_len), field=number)
    else:
        if units > max_len:
            raise EncodeError("length %d exceeds maximum %d" % (units, max_len), field=number)
        if len_kind == _LEN_ASCII:
            parts.append((len_format % units).encode())
        elif len_kind == _LEN_BCD:
            parts.append(bytes.fromhex(len_format % units))
        else:
            parts.append(units.to_bytes(len_width, "big"))
    parts.append(raw)


def _hex_to_bytes(text: str, number: int) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise EncodeError("binary value is not hex", field=number)
    # fromhex skips whitespace; a strict value has exactly 2 digits per byte.
    if len(text) != 2 * len(raw):
        raise EncodeError("binary value is not hex", field=number)
    return raw


# ---------------------------------------------------------------- helpers


def field_name(spec: "Spec", key: str) -> str:
    """The description of a field key ("t", "p", "1", "2"...), or ""."""
    entry = spec.get(key)
    return str(entry.get("desc", "")) if entry is not None else ""


def bitmap_fields(bitmap: bytes) -> "list[int]":
    """Field numbers flagged in an 8-byte (primary) or 16-byte bitmap."""
    if len(bitmap) not in (8, 16):
        raise DecodeError("bitmap must be 8 or 16 bytes", offset=0, field="p")
    numbers = _bits_set(bitmap, 0)
    if len(bitmap) == 16:
        numbers += _bits_set(bitmap[8:], 64)
    return numbers


def frame(message: "bytes | bytearray") -> bytes:
    """Prefix a message with its 2-byte big-endian length (TCP framing)."""
    if len(message) > FRAME_MAX_LEN:
        raise EncodeError("message longer than %d bytes cannot be framed" % FRAME_MAX_LEN)
    return len(message).to_bytes(FRAME_HEADER_LEN, "big") + bytes(message)


def unframe(data: "bytes | bytearray") -> bytes:
    """The message inside exactly one frame; DecodeError if lengths disagree."""
    message, rest = split_frame(data)
    if message is None:
        raise DecodeError("frame truncated", offset=len(data), field="length")
    if rest:
        raise DecodeError("%d bytes after the frame" % len(rest), offset=len(data) - len(rest))
    return message


def split_frame(buffer: "bytes | bytearray") -> "tuple[bytes | None, bytes]":
    """Take one frame off a stream buffer: (message, rest), or (None, buffer)
    when the buffer does not yet hold a whole frame."""
    buffer = bytes(buffer)
    if len(buffer) < FRAME_HEADER_LEN:
        return None, buffer
    end = FRAME_HEADER_LEN + int.from_bytes(buffer[:FRAME_HEADER_LEN], "big")
    if len(buffer) < end:
        return None, buffer
    return buffer[FRAME_HEADER_LEN:end], buffer[end:]
