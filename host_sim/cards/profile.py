"""Card profiles: JSON personalisation files turned into what a card holds.

A profile (``host_sim/cards/profiles/NAME.json``, described in docs/cards.md)
lists the application's FCI, AIP, AFL and records as data objects.  Values are
hex, ``ascii:TEXT`` for text, a list of pairs for a constructed object, or
``@pki`` for the ODA objects the generator put in ``data/pki.json`` (8F, 90,
92, 9F32, 9F46, 9F47, 9F48, 93).  The issuer master keys are named by the
profile's ``issuer`` and live in ``data/issuer_keys.json``; the loader derives
the ICC master keys from them so the card itself holds only card keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from host_sim.cards import cryptogram, oda
from protocols import tlv

HERE = Path(__file__).resolve().parent
PROFILE_DIR = HERE / "profiles"
DATA_DIR = HERE / "data"
PKI_FILE = DATA_DIR / "pki.json"
ISSUER_KEYS_FILE = DATA_DIR / "issuer_keys.json"
PKI_TAGS = (0x8F, 0x90, 0x92, 0x9F32, 0x9F46, 0x9F47, 0x9F48, 0x93)


class ProfileError(ValueError):
    """A profile or key file that cannot personalise a card."""


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.json"))


def read_json(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ProfileError(f"{path.name}: top level must be an object")
    return data


def read_profile(name: str) -> dict[str, Any]:
    path = PROFILE_DIR / f"{name}.json"
    if not path.is_file():
        raise ProfileError(f"no card profile {name!r} (have: {', '.join(profile_names())})")
    return read_json(path)


def value_bytes(value: Any, tag: int, pki: dict[int, bytes] | None) -> bytes:
    if not isinstance(value, str):
        raise ProfileError(f"tag {tlv.tag_hex(tag)}: value must be a string")
    if value == "@pki":
        if pki is None or tag not in pki:
            raise ProfileError(f"tag {tlv.tag_hex(tag)}: no ODA value for @pki")
        return pki[tag]
    if value.startswith("ascii:"):
        return value[6:].encode("ascii")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ProfileError(f"tag {tlv.tag_hex(tag)}: {value!r} is not hex") from None


def build_objects(items: Any, pki: dict[int, bytes] | None = None) -> list[tlv.TLV]:
    """Data objects from a list of [tag, value] pairs (nested for templates)."""
    if not isinstance(items, list):
        raise ProfileError("data objects must be a list of [tag, value] pairs")
    out: list[tlv.TLV] = []
    for item in items:
        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str):
            raise ProfileError(f"bad data object entry {item!r}")
        tag = int(item[0], 16)
        if tlv.is_constructed(tag):
            out.append(tlv.TLV(tag, children=build_objects(item[1], pki)))
        else:
            out.append(tlv.TLV(tag, value_bytes(item[1], tag, pki)))
    return out


def parse_afl(entries: Any) -> list[tuple[int, int, int, int]]:
    afl: list[tuple[int, int, int, int]] = []
    for entry in entries:
        sfi, first, last, count = (int(x) for x in entry)
        if not 1 <= sfi <= 30 or not 1 <= first <= last or count > last - first + 1:
            raise ProfileError(f"bad AFL entry {entry!r}")
        afl.append((sfi, first, last, count))
    return afl


def afl_bytes(afl: list[tuple[int, int, int, int]]) -> bytes:
    return b"".join(bytes((sfi << 3, first, last, count)) for sfi, first, last, count in afl)


def build_records(
    profile: dict[str, Any], pki: dict[int, bytes] | None
) -> dict[tuple[int, int], bytes]:
    """Raw records (template 70 with tag and length) per (SFI, record)."""
    records: dict[tuple[int, int], bytes] = {}
    for key, items in profile["records"].items():
        sfi_text, _dot, number_text = key.partition(".")
        sfi, number = int(sfi_text), int(number_text)
        records[(sfi, number)] = tlv.encode([tlv.TLV(0x70, children=build_objects(items, pki))])
    return records


def static_data(profile: dict[str, Any], records: dict[tuple[int, int], bytes]) -> bytes:
    """Static data to be authenticated: ODA records, then the SDA tag list (AIP)."""
    store = record_store(records)
    tag_list = store.get(0x9F4A, b"")
    if tag_list not in (b"", b"\x82"):
        raise ProfileError("the SDA tag list may name only the AIP (82)")
    extra = bytes.fromhex(profile["aip"]) if tag_list else b""
    return oda.static_data_to_authenticate(parse_afl(profile["afl"]), records, extra)


def record_store(records: dict[tuple[int, int], bytes]) -> dict[int, bytes]:
    store: dict[int, bytes] = {}
    for key in sorted(records):
        for tag, value in tlv.to_dict(tlv.decode(records[key])).items():
            store.setdefault(tag, value)
    return store


def pki_values(name: str, profile: dict[str, Any], pki: dict[str, Any]) -> dict[int, bytes]:
    """The ODA objects of a profile from the PKI file (empty without ODA)."""
    card = pki.get("cards", {}).get(name)
    if card is None:
        return {}
    issuer = pki["issuers"][profile["issuer"]]
    values = {
        0x8F: bytes.fromhex(pki["ca"]["index"]),
        0x90: bytes.fromhex(issuer["certificate"]["certificate"]),
        0x92: bytes.fromhex(issuer["certificate"]["remainder"]),
        0x9F32: bytes.fromhex(issuer["certificate"]["exponent"]),
    }
    if "certificate" in card:
        values[0x9F46] = bytes.fromhex(card["certificate"]["certificate"])
        values[0x9F48] = bytes.fromhex(card["certificate"]["remainder"])
        values[0x9F47] = bytes.fromhex(card["certificate"]["exponent"])
    if "signed_static_data" in card:
        values[0x93] = bytes.fromhex(card["signed_static_data"])
    return values


def icc_key(name: str, pki: dict[str, Any]) -> oda.RsaKey | None:
    card = pki.get("cards", {}).get(name)
    if card is None or "key" not in card:
        return None
    return oda.RsaKey.from_json(card["key"])


def issuer_keys(issuer: str) -> dict[str, str]:
    keys = read_json(ISSUER_KEYS_FILE).get("issuers", {})
    if issuer not in keys:
        raise ProfileError(f"issuer {issuer!r} not in {ISSUER_KEYS_FILE.name}")
    entry = keys[issuer]
    if not isinstance(entry, dict):
        raise ProfileError(f"issuer {issuer!r}: key set must be an object")
    return {k: str(v) for k, v in entry.items()}


def card_keys(profile: dict[str, Any], records: dict[tuple[int, int], bytes]) -> cryptogram.IccKeys:
    store = record_store(records)
    pan = store.get(0x5A, b"").hex().upper().rstrip("F")
    psn = store.get(0x5F34, b"\x00").hex()
    return cryptogram.derive_icc_keys(issuer_keys(profile["issuer"]), pan, psn, profile["cvn"])
