"""Typed errors shared by every codec in protocols/.

Every decoder raises DecodeError on malformed input and every encoder raises
EncodeError on values it cannot represent.  Both are ValueErrors so callers
that only know the standard library still catch them.  The message always
names what was wrong and where (offset, field or tag); the same facts are
kept as attributes for programs.
"""


def _where(offset: "int | None", field: "str | int | None", tag: "str | None") -> str:
    parts: list[str] = []
    if field is not None:
        parts.append("field " + str(field))
    if tag is not None:
        parts.append("tag " + str(tag))
    if offset is not None:
        parts.append("offset " + str(offset))
    return ", ".join(parts)


class CodecError(ValueError):
    """Base of DecodeError and EncodeError."""

    def __init__(
        self,
        message: str,
        offset: "int | None" = None,
        field: "str | int | None" = None,
        tag: "str | None" = None,
    ) -> None:
        where = _where(offset, field, tag)
        full = message + " (" + where + ")" if where else message
        super().__init__(full)
        self.reason = message
        self.offset = offset
        self.field = field
        self.tag = tag


class DecodeError(CodecError):
    """Input bytes or text are malformed."""


class EncodeError(CodecError):
    """A value cannot be encoded under the given spec."""
