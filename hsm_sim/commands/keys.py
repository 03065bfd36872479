"""Key management: A0 generate, A6 import, A8 export, A4 form from
components, BU key check value, LA store in user storage (docs/hsm.md)."""

from __future__ import annotations

import os
import re

from hsm_sim import errors as errs
from hsm_sim.commands._base import Context, Handler, Key, Reader, hexu, kcv_of, resolve
from hsm_sim.crypto import keys, tr31
from hsm_sim.errors import HsmError

# A0 algorithm field -> (TR-31 algorithm, key length)
ALGORITHMS = {"T2": ("T", 16), "T3": ("T", 24), "A1": ("A", 16), "A2": ("A", 24), "A3": ("A", 32)}
ASYMMETRIC = ("D1", "K2", "K3", "S0", "S1", "S2")
SYMMETRIC_USAGES = tuple(u for u in tr31.KEY_USAGES if u not in ASYMMETRIC)
KEK_USAGES = ("K0", "K1")
KEY_VERSION = re.compile(r"^[0-9A-Za-z]{2}$")


def _key_type(r: Reader) -> None:
    r.choice(3, "key type", ("FFF",))


def _scheme(r: Reader, what: str) -> None:
    r.choice(1, what, ("S",))


def read_header(r: Reader) -> tuple[tr31.Header, int]:
    """'#' usage(2) algorithm(2) mode(1) key version(2) exportability(1) blocks(2)."""
    r.choice(1, "key block delimiter", ("#",))
    usage = r.take(2, "key usage")
    alg_code = r.take(2, "algorithm")
    mode = r.take(1, "mode of use")
    version = r.take(2, "key version number")
    export = r.take(1, "exportability")
    blocks = r.take(2, "number of optional blocks")
    if usage not in SYMMETRIC_USAGES:
        raise HsmError(errs.INVALID_KEY_USAGE, reason=f"key usage {usage!r} cannot be generated")
    if alg_code not in ALGORITHMS:
        raise HsmError(errs.INVALID_ALGORITHM, reason=f"algorithm {alg_code!r}")
    allowed = tr31.KEY_USAGES[usage][1]
    if mode != "N" and mode not in allowed:
        raise HsmError(errs.INVALID_MODE_OF_USE, reason=f"mode of use {mode!r} for usage {usage}")
    if not KEY_VERSION.match(version):
        raise HsmError(errs.INVALID_KEY_VERSION, reason="key version number")
    if export not in tr31.EXPORTABILITY:
        raise HsmError(errs.INVALID_EXPORTABILITY, reason=f"exportability {export!r}")
    if blocks != "00":
        raise HsmError(errs.INVALID_OPTIONAL_BLOCKS, reason="optional blocks are not supported")
    algorithm, length = ALGORITHMS[alg_code]
    return tr31.Header("D", usage, algorithm, mode, version, export), length


def new_key(algorithm: str, length: int) -> bytes:
    value = os.urandom(length)
    return keys.adjust_parity(value) if algorithm == "T" else value


def wrap_under_kek(kek: Key, header: tr31.Header, value: bytes, what: str) -> str:
    out = tr31.Header(
        "D" if kek.is_aes else "B",
        header.key_usage,
        header.algorithm,
        header.mode_of_use,
        header.key_version,
        header.exportability,
    )
    try:
        return "S" + tr31.wrap(kek.value, out, value)
    except tr31.KeyBlockError as exc:
        raise HsmError(errs.INCOMPATIBLE_KEY_LENGTH, reason=f"{what}: {exc}") from None


def _export_check(header: tr31.Header) -> None:
    try:
        tr31.check_export(header, trusted_kek=True)
    except tr31.UsageError as exc:
        raise HsmError(errs.KEY_FUNCTION_NOT_PERMITTED, reason=str(exc)) from None


def a0(ctx: Context, r: Reader) -> str:
    mode = r.choice(1, "mode", ("0", "1"))
    _key_type(r)
    _scheme(r, "key scheme (LMK)")
    kek = None
    if mode == "1":
        kek = r.key("ZMK/KEK", KEK_USAGES, "BEN", "TA")
        _scheme(r, "key scheme (ZMK)")
    header, length = read_header(r)
    r.end()
    value = new_key(header.algorithm, length)
    out = ctx.lmk.wrap(header, value)
    if kek is not None:
        _export_check(header)
        out += wrap_under_kek(kek, header, value, "key")
    return out + kcv_of(Key(header, value))


def a6(ctx: Context, r: Reader) -> str:
    _key_type(r)
    kek = r.key("ZMK/KEK", KEK_USAGES, "BDN", "TA")
    field = r.key_block_text("key under ZMK")
    _scheme(r, "key scheme (LMK)")
    r.end()
    try:
        header, value = tr31.unwrap(kek.value, field[1:])
    except tr31.AuthenticationError:
        raise HsmError(errs.KEY_BLOCK_AUTHENTICATION, reason="key under ZMK: MAC") from None
    except tr31.KeyBlockError as exc:
        raise HsmError(errs.KEY_BLOCK_ERROR, reason=f"key under ZMK: {exc}") from None
    if header.key_usage not in SYMMETRIC_USAGES:
        raise HsmError(errs.INVALID_KEY_USAGE, reason=f"key usage {header.key_usage}")
    if header.algorithm == "T" and not keys.has_odd_parity(value):
        raise HsmError(errs.DESTINATION_KEY_PARITY, reason="imported key parity")
    header.blocks = []
    key = Key(header, value)
    return ctx.lmk.wrap(header, value) + kcv_of(key)


def a8(ctx: Context, r: Reader) -> str:
    _key_type(r)
    kek = r.key("ZMK/KEK", KEK_USAGES, "BEN", "TA")
    key = r.key("key", SYMMETRIC_USAGES, role=1)
    _scheme(r, "key scheme (ZMK)")
    r.end()
    _export_check(key.header)
    return wrap_under_kek(kek, key.header, key.value, "key") + kcv_of(key)


def a4(ctx: Context, r: Reader) -> str:
    count = r.number(1, "number of components")
    if not 2 <= count <= 9:
        raise HsmError(errs.INVALID_INPUT, reason="2 to 9 components")
    _key_type(r)
    _scheme(r, "key scheme (LMK)")
    parts = [r.key(f"component {i + 1}", SYMMETRIC_USAGES) for i in range(count)]
    r.end()
    first = parts[0].header
    for part in parts:
        h = part.header
        same = (h.key_usage, h.algorithm, h.mode_of_use, h.exportability) == (
            first.key_usage,
            first.algorithm,
            first.mode_of_use,
            first.exportability,
        )
        if not same or len(part.value) != len(parts[0].value):
            raise HsmError(errs.INCOMPATIBLE_KEY_LENGTH, reason="components differ")
        if not h.key_version.startswith("c"):
            raise HsmError(errs.INVALID_KEY_VERSION, reason="a component's key version is cN")
    value = keys.combine_components([p.value for p in parts], "aes" if parts[0].is_aes else "tdes")
    header = tr31.Header(
        "D", first.key_usage, first.algorithm, first.mode_of_use, "00", first.exportability
    )
    return ctx.lmk.wrap(header, value) + kcv_of(Key(header, value))


def bu(ctx: Context, r: Reader) -> str:
    r.choice(2, "key type code", ("FF",))
    r.choice(1, "key length flag", ("F",))
    key = r.key("key", SYMMETRIC_USAGES)
    r.end()
    return kcv_of(key)


def la(ctx: Context, r: Reader) -> str:
    label = r.take(3, "index")
    if not label.isalnum():
        raise HsmError(errs.INVALID_INDEX, reason="index is 3 alphanumerics")
    block = r.key_block_text("key")
    r.end()
    key = resolve(ctx.lmk, block, "key", SYMMETRIC_USAGES)
    kcv = kcv_of(key)
    ctx.store.put_key(label, block, kcv)
    return kcv


COMMANDS: dict[str, Handler] = {"A0": a0, "A6": a6, "A8": a8, "A4": a4, "BU": bu, "LA": la}
__all__ = ["COMMANDS", "hexu"]
