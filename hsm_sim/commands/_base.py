"""What every command module uses: the request reader, key-field resolution
with the usage/parity checks, and the context a command runs in.

Requests and responses are ASCII (binary message fields travel as Latin-1,
one character per byte).  A key field is ``S`` + a version D key block under
the LMK (the block's own length field says where it ends) or ``K`` + a
3-character label of a key held in the HSM's key store.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from hsm_sim import errors as errs
from hsm_sim.crypto import keys, tr31
from hsm_sim.errors import HsmError
from hsm_sim.keystore import Keystore
from hsm_sim.lmk import Lmk

HEX = frozenset("0123456789ABCDEF")
HEX_TEXT = re.compile(r"[0-9A-Fa-f]*")
DIGITS = frozenset("0123456789")
LABEL_LEN = 3


@dataclass
class Context:
    lmk: Lmk
    store: Keystore


@dataclass
class Key:
    header: tr31.Header
    value: bytes
    transient: bool = False  # derived for one command (DUKPT): never cached

    @property
    def is_aes(self) -> bool:
        return self.header.algorithm == "A"


Handler = Callable[[Context, "Reader"], str]


class Reader:
    """Consumes a request's fields left to right; any shortfall is error 15."""

    def __init__(self, text: str, ctx: Context) -> None:
        self.text = text
        self.pos = 0
        self.ctx = ctx

    def take(self, n: int, what: str) -> str:
        if n < 0 or self.pos + n > len(self.text):
            raise HsmError(errs.INVALID_INPUT, reason=f"{what}: message too short")
        out = self.text[self.pos : self.pos + n]
        self.pos += n
        return out

    def hex(self, n: int, what: str) -> bytes:
        text = self.take(n, what)
        if len(text) % 2 or not HEX_TEXT.fullmatch(text):
            raise HsmError(errs.INVALID_INPUT, reason=f"{what} is not hex")
        return bytes.fromhex(text)

    def digits(self, n: int, what: str) -> str:
        text = self.take(n, what)
        if not set(text) <= DIGITS:
            raise HsmError(errs.INVALID_INPUT, reason=f"{what} is not decimal")
        return text

    def number(self, n: int, what: str) -> int:
        return int(self.digits(n, what))

    def hex_number(self, n: int, what: str) -> int:
        text = self.take(n, what).upper()
        if not set(text) <= HEX:
            raise HsmError(errs.INVALID_INPUT, reason=f"{what} is not hex")
        return int(text, 16)

    def choice(self, n: int, what: str, allowed: tuple[str, ...]) -> str:
        text = self.take(n, what)
        if text not in allowed:
            raise HsmError(errs.INVALID_INPUT, reason=f"{what} must be one of {', '.join(allowed)}")
        return text

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def until(self, delimiter: str, what: str) -> str:
        end = self.text.find(delimiter, self.pos)
        if end < 0:
            raise HsmError(errs.INVALID_INPUT, reason=f"{what}: no {delimiter!r} delimiter")
        out = self.text[self.pos : end]
        self.pos = end + len(delimiter)
        return out

    def rest(self) -> str:
        out = self.text[self.pos :]
        self.pos = len(self.text)
        return out

    def end(self) -> None:
        if self.pos != len(self.text):
            raise HsmError(
                errs.INVALID_INPUT, reason=f"{len(self.text) - self.pos} extra characters"
            )

    def key_block_text(self, what: str) -> str:
        """The raw ``S`` key block field (used where a key is stored, not used)."""
        scheme = self.peek()
        if scheme != "S":
            raise HsmError(
                errs.INVALID_KEY_SCHEME, reason=f"{what}: key scheme {scheme!r} is not S"
            )
        length_text = self.text[self.pos + 2 : self.pos + 6]
        if not length_text.isdigit():
            raise HsmError(errs.KEY_BLOCK_ERROR, reason=f"{what}: key block length is not 4 digits")
        return self.take(1 + int(length_text), what)

    def key(
        self,
        what: str,
        usages: tuple[str, ...],
        modes: str = "",
        algorithms: str = "",
        role: int = 0,
    ) -> Key:
        """Read a key field, unwrap it under the LMK and check that its header
        allows this use.  ``role`` 0 → parity error 10, 1 → 11."""
        if self.peek() == "K":
            self.take(1, what)
            label = self.take(LABEL_LEN, what)
            block = self.ctx.store.get_key(label)
            if block is None:
                raise HsmError(errs.NO_KEY_IN_STORAGE, reason=f"{what}: no key stored as {label!r}")
        else:
            block = self.key_block_text(what)
        return resolve(self.ctx.lmk, block, what, usages, modes, algorithms, role)


_RESOLVED: OrderedDict[tuple[str, str], tuple[tr31.Header, bytes, bool]] = OrderedDict()
_RESOLVED_SIZE = 4096


def _unwrap(lmk: Lmk, block: str, what: str) -> tuple[tr31.Header, bytes, bool]:
    """Header, key and parity verdict of a key block, cached per LMK and
    block text (a block is authenticated by its MAC: same text, same key;
    LMKs are told apart by their 8-byte check values)."""
    cache_key = (lmk.check_value, block)
    hit = _RESOLVED.get(cache_key)
    if hit is not None:
        return hit
    try:
        header, value = lmk.unwrap(block)
    except tr31.AuthenticationError:
        raise HsmError(
            errs.KEY_BLOCK_AUTHENTICATION, reason=f"{what}: key block MAC does not verify"
        ) from None
    except tr31.KeyBlockError as exc:
        raise HsmError(errs.KEY_BLOCK_ERROR, reason=f"{what}: {exc}") from None
    parity_ok = header.algorithm not in ("T", "D") or keys.has_odd_parity(value)
    hit = (header, value, parity_ok)
    _RESOLVED[cache_key] = hit
    if len(_RESOLVED) > _RESOLVED_SIZE:
        _RESOLVED.popitem(last=False)
    return hit


def resolve(
    lmk: Lmk,
    block: str,
    what: str,
    usages: tuple[str, ...],
    modes: str = "",
    algorithms: str = "",
    role: int = 0,
) -> Key:
    """The key in an LMK key block, checked for this use.  The returned
    header is shared with the cache: callers must not modify it."""
    header, value, parity_ok = _unwrap(lmk, block, what)
    check_use(header, what, usages, modes, algorithms)
    if not parity_ok:
        code = errs.SOURCE_KEY_PARITY if role == 0 else errs.DESTINATION_KEY_PARITY
        raise HsmError(code, reason=f"{what}: parity error")
    return Key(header, value)


def check_use(
    header: tr31.Header, what: str, usages: tuple[str, ...], modes: str, algorithms: str
) -> None:
    if header.key_usage not in usages:
        raise HsmError(
            errs.INVALID_KEY_USAGE,
            reason=f"{what}: key usage {header.key_usage} is not {'/'.join(usages)}",
        )
    if modes and header.mode_of_use != "N" and header.mode_of_use not in modes:
        raise HsmError(
            errs.INVALID_MODE_OF_USE,
            reason=f"{what}: mode of use {header.mode_of_use} does not permit this",
        )
    if algorithms and header.algorithm not in algorithms:
        raise HsmError(
            errs.INVALID_ALGORITHM,
            reason=f"{what}: algorithm {header.algorithm} is not {algorithms}",
        )


def kcv_of(key: Key) -> str:
    alg = "aes" if key.is_aes else "tdes"
    return keys.kcv(key.value, alg, 3).hex().upper()


def hexu(data: bytes) -> str:
    return data.hex().upper()
