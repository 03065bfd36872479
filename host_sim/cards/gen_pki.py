"""Generate the TEST keys and certificates of the virtual cards, once.

``python -m host_sim.cards.gen_pki [--force]`` writes, in host_sim/cards/data/:

- ``issuer_keys.json``: per issuer, the TDES issuer master keys for
  application cryptograms (``ac``), secure messaging integrity (``smi``) and
  confidentiality (``smc``), odd parity, with their check values.  The HSM
  emulator loads this same file to verify ARQCs and compute ARPCs.  Kept when
  it exists (``--force`` replaces it).
- ``pki.json``: the test certification authority RSA key (1408 bits, e = 3),
  one issuer RSA key per issuer (1152 bits) with its issuer public key
  certificate, and for each profile with ODA its ICC RSA key (1024 bits) and
  ICC public key certificate (DDA/CDA/fDDA) or its signed static application
  data (SDA), computed over that profile's records.
- ``capk_test.json``: the CA public key under the Visa and Mastercard RIDs
  with index F8 and its check sum, for the terminal's CAPK list.

EVERY KEY HERE IS A TEST KEY, published in this repository; never load them
into anything that handles real cards.  Rerun after changing a profile's
ODA records (the ICC certificate hashes them; tests/test_cards_emv.py fails
when they drift).
"""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from host_sim.cards import oda, profile
from hsm_sim.crypto import keys as key_tools

WARNING = "TEST KEYS ONLY - published with payterm, never use with real cards"
CA_BITS = 1408
ISSUER_BITS = 1152
ICC_BITS = 1024
EXPONENT = 3
CA_INDEX = "F8"
CA_RIDS = ("A000000003", "A000000004")
ISSUER_CERT_EXPIRY = "1230"  # MMYY
ISSUERS = {"payterm-test-visa": "476173", "payterm-test-mc": "541333"}


def new_rsa(bits: int) -> oda.RsaKey:
    private = rsa.generate_private_key(public_exponent=EXPONENT, key_size=bits)
    numbers = private.private_numbers()
    return oda.RsaKey(numbers.public_numbers.n, numbers.public_numbers.e, numbers.d)


def new_tdes_key() -> str:
    return key_tools.adjust_parity(secrets.token_bytes(16)).hex().upper()


def issuer_keys_document() -> dict[str, Any]:
    issuers: dict[str, Any] = {}
    for name in ISSUERS:
        entry: dict[str, str] = {}
        for usage in ("ac", "smi", "smc"):
            entry[usage] = new_tdes_key()
            entry[f"{usage}_kcv"] = key_tools.kcv(bytes.fromhex(entry[usage])).hex().upper()
        issuers[name] = entry
    return {"_warning": WARNING, "issuers": issuers}


def _oda_kind(aip: bytes) -> str | None:
    if aip[0] & 0x21:  # DDA or CDA
        return "icc"
    if aip[0] & 0x40:
        return "sda"
    return None


def _dummy_pki() -> dict[int, bytes]:
    return {tag: b"\x00" for tag in profile.PKI_TAGS}


def card_entry(name: str, prof: dict[str, Any], issuer_key: oda.RsaKey) -> dict[str, Any] | None:
    kind = _oda_kind(bytes.fromhex(prof["aip"]))
    if kind is None:
        return None
    records = profile.build_records(prof, _dummy_pki())
    for sfi, first, _last, count in profile.parse_afl(prof["afl"]):
        for number in range(first, first + count):
            if "@pki" in json.dumps(prof["records"].get(f"{sfi}.{number}")):
                raise profile.ProfileError(
                    f"{name}: record {sfi}.{number} is signed and holds @pki"
                )
    static = profile.static_data(prof, records)
    store = profile.record_store(records)
    pan = store[0x5A].hex().upper().rstrip("F")
    expiry = store[0x5F24].hex()
    if kind == "sda":
        dac = secrets.token_bytes(2)
        return {
            "data_authentication_code": dac.hex().upper(),
            "signed_static_data": oda.signed_static_data(issuer_key, dac, static).hex().upper(),
        }
    icc_key = new_rsa(ICC_BITS)
    cert = oda.icc_certificate(issuer_key, icc_key, pan, expiry, secrets.token_bytes(3), static)
    return {"key": icc_key.to_json(), "certificate": cert.to_json()}


def pki_document() -> tuple[dict[str, Any], dict[str, Any]]:
    ca_key = new_rsa(CA_BITS)
    issuers: dict[str, Any] = {}
    issuer_rsa: dict[str, oda.RsaKey] = {}
    for name, issuer_id in ISSUERS.items():
        key = new_rsa(ISSUER_BITS)
        issuer_rsa[name] = key
        cert = oda.issuer_certificate(
            ca_key, key, issuer_id, ISSUER_CERT_EXPIRY, secrets.token_bytes(3)
        )
        issuers[name] = {
            "issuer_identifier": issuer_id,
            "key": key.to_json(),
            "certificate": cert.to_json(),
        }
    cards: dict[str, Any] = {}
    for name in profile.profile_names():
        prof = profile.read_profile(name)
        entry = card_entry(name, prof, issuer_rsa[prof["issuer"]])
        if entry is not None:
            cards[name] = entry
    pki = {
        "_warning": WARNING,
        "ca": {"index": CA_INDEX, "rids": list(CA_RIDS), "key": ca_key.to_json()},
        "issuers": issuers,
        "cards": cards,
    }
    return pki, capk_document(ca_key)


def capk_document(ca_key: oda.RsaKey) -> dict[str, Any]:
    entries = []
    for rid in CA_RIDS:
        checksum = oda.capk_checksum(bytes.fromhex(rid), int(CA_INDEX, 16), ca_key)
        entries.append(
            {
                "rid": rid,
                "index": CA_INDEX,
                "hash_algorithm": "01",
                "key_algorithm": "01",
                "modulus": f"{ca_key.n:X}",
                "exponent": f"{ca_key.e:02X}",
                "checksum": checksum.hex().upper(),
                "expiry": "301231",
            }
        )
    return {"_warning": WARNING, "capks": entries}


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--force", action="store_true", help="also replace issuer_keys.json")
    args = parser.parse_args(argv)
    profile.DATA_DIR.mkdir(parents=True, exist_ok=True)
    if args.force or not profile.ISSUER_KEYS_FILE.exists():
        write_json(profile.ISSUER_KEYS_FILE, issuer_keys_document())
    pki, capk = pki_document()
    write_json(profile.PKI_FILE, pki)
    write_json(profile.DATA_DIR / "capk_test.json", capk)
    print(f"wrote {profile.PKI_FILE} and capk_test.json ({len(pki['cards'])} ODA cards)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
