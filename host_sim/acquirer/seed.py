"""TEST merchants, terminals and card accounts (``payterm host seed``).

Everything comes from ``seed_data.json`` (TEST keys, PINs, balances) and the
virtual card profiles (``host_sim/cards/profiles``: PAN, expiry, PSN, CVN,
issuer), so the host knows exactly the cards the simulators carry.  Keys go
into the database only as key blocks under the HSM's LMK (by default the
published TEST LMK, which ``payterm hsm`` uses unless given another), so the
database never holds a clear key; the PIN verification data (PVV or IBM
3624 offset) is computed from each card's TEST PIN here, at seeding time,
and the PIN itself is not stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from host_sim.acquirer.db import HostDb
from host_sim.cards import issuer_master_keys
from host_sim.cards.profile import read_profile
from hsm_sim.crypto import aes, emv_kd, pinverify, tr31
from hsm_sim.lmk import Lmk

DATA_FILE = Path(__file__).resolve().parent / "seed_data.json"
LOAD_CARD_BASE = 100_000_000
DECIMALISATION = "0123456789012345"


@cache
def seed_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return data


def luhn_digit(partial: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def tid_of(index: int) -> str:
    """Terminal ``index`` (1-based): PT000001, PT000002, …"""
    return f"{seed_data()['terminal_prefix']}{index:06d}"


def terminal_mac_key(tid: str) -> bytes:
    """The TEST MAC key of a terminal (AES-CMAC diversification of the TID)."""
    master = bytes.fromhex(seed_data()["keys"]["mac_master"]["hex"])
    return aes.cmac(master, tid.encode("ascii"))


def test_bdk() -> bytes:
    return bytes.fromhex(seed_data()["keys"]["bdk"]["hex"])


def dukpt_ikid(index: int) -> bytes:
    """The DUKPT initial key ID of terminal ``index``: BDK ID ‖ derivation ID."""
    return bytes.fromhex(seed_data()["keys"]["bdk_id"] + f"{index:08X}")


def load_card_pan(index: int) -> str:
    partial = f"{seed_data()['load_cards']['bin']}{LOAD_CARD_BASE + index:09d}"
    return partial + luhn_digit(partial)


@dataclass(frozen=True)
class CardFacts:
    profile: str
    pan: str
    expiry: str  # YYMM
    psn: str
    cvn: int
    issuer: str


def card_facts(profile_name: str) -> CardFacts:
    """PAN, expiry, PSN, CVN and issuer of a virtual card profile."""
    prof = read_profile(profile_name)
    values: dict[str, str] = {}
    for objects in prof["records"].values():
        for item in objects:
            if isinstance(item, list) and len(item) == 2 and isinstance(item[1], str):
                values.setdefault(item[0], item[1])
    return CardFacts(
        profile=profile_name,
        pan=values["5A"].upper().rstrip("F"),
        expiry=values["5F24"][:4],
        psn=values.get("5F34", "00"),
        cvn=int(prof["cvn"]),
        issuer=str(prof["issuer"]),
    )


class KeyRefs:
    """Key blocks under the LMK for the TEST keys."""

    def __init__(self, lmk: Lmk) -> None:
        self.lmk = lmk

    def wrap(self, usage: str, algorithm: str, mode: str, key: bytes) -> str:
        return self.lmk.wrap(tr31.Header("D", usage, algorithm, mode, "00", "N"), key)

    def issuer_ac(self, issuer: str) -> str:
        return self.wrap("E0", "T", "X", issuer_master_keys(issuer)["ac"])

    def pvk(self, issuer: str, method: str) -> str:
        usage = "V2" if method == "pvv" else "V1"
        key = bytes.fromhex(seed_data()["keys"]["pvk"][issuer]["hex"])
        return self.wrap(usage, "T", "C", key)

    def bdk(self) -> str:
        return self.wrap("B0", "A", "X", test_bdk())

    def mac_key(self, tid: str) -> str:
        return self.wrap("M6", "A", "C", terminal_mac_key(tid))

    def zpk(self) -> str:
        return self.wrap("P0", "T", "B", bytes.fromhex(seed_data()["keys"]["zpk"]["hex"]))


def pin_data(method: str, issuer: str, pan: str, pin: str) -> str:
    pvk = bytes.fromhex(seed_data()["keys"]["pvk"][issuer]["hex"])
    if method == "pvv":
        pvki = str(seed_data()["pvki"])
        return pvki + pinverify.visa_pvv(pvk, pan, pvki, pin)
    return pinverify.ibm3624_offset(pvk, pin, pan[-13:-1], DECIMALISATION)


def seed(
    db: HostDb,
    terminals: int = 64,
    load_cards: int = 0,
    lmk: Lmk | None = None,
    mac: bool = True,
    mac_scheme: str = "dukpt",
) -> dict[str, Any]:
    """Create the TEST merchant, ``terminals`` terminals, an account per
    virtual card profile and ``load_cards`` synthetic cards.  Idempotent:
    seeding again replaces the rows (balances and counters start over).

    The terminals MAC under ``mac_scheme``: ``dukpt`` (the default: the AES
    DUKPT MAC key of each request's KSN) or ``static`` (the terminal's own
    AES-CMAC key, which every terminal row keeps when ``mac``)."""
    if mac_scheme not in ("static", "dukpt"):
        raise ValueError("mac_scheme must be static or dukpt")
    data = seed_data()
    refs = KeyRefs(lmk or Lmk.test())
    merchant = data["merchant"]
    bdk_ref = refs.bdk()
    with db.transaction():
        db.add_merchant(
            merchant["mid"], merchant["name"], merchant["mcc"], merchant["city"],
            merchant["country"],
        )  # fmt: skip
        for index in range(1, terminals + 1):
            tid = tid_of(index)
            db.add_terminal(
                tid, merchant["mid"], refs.mac_key(tid) if mac else None, bdk_ref,
                dukpt_ikid(index).hex().upper(), mac_scheme=mac_scheme if mac else "static",
            )  # fmt: skip
        for tid, serial in data.get("tsm_serials", {}).items():
            if not tid.startswith("_"):  # the demo terminal's SE, checked with --tsm
                db.set_tsm_serial(tid, serial)
        issuer_refs: dict[str, str] = {}
        for name, account in sorted(data["accounts"].items()):
            facts = card_facts(name)
            issuer_ref = issuer_refs.get(facts.issuer) or refs.issuer_ac(facts.issuer)
            issuer_refs[facts.issuer] = issuer_ref
            method = account["pin_method"]
            db.add_account(
                pan=facts.pan, expiry=facts.expiry, balance=account["balance"],
                per_txn_limit=account["per_txn_limit"], daily_limit=account["daily_limit"],
                psn=facts.psn, cvn=facts.cvn, issuer_key_ref=issuer_ref,
                status=account.get("status", "active"), pin_method=method,
                pin_key_ref=refs.pvk(facts.issuer, method),
                pin_data=pin_data(method, facts.issuer, facts.pan, account["pin"]),
            )  # fmt: skip
        spec = data["load_cards"]
        if load_cards:
            issuer_ref = refs.issuer_ac(spec["issuer"])
            pvk_ref = refs.pvk(spec["issuer"], "pvv")
            for index in range(load_cards):
                pan = load_card_pan(index)
                db.add_account(
                    pan=pan, expiry=spec["expiry"], balance=spec["balance"],
                    per_txn_limit=spec["per_txn_limit"], daily_limit=spec["daily_limit"],
                    psn=spec["psn"], cvn=spec["cvn"], issuer_key_ref=issuer_ref,
                    pin_method="pvv", pin_key_ref=pvk_ref,
                    pin_data=pin_data("pvv", spec["issuer"], pan, "1234"),
                )  # fmt: skip
    return {
        "merchant": merchant["mid"],
        "terminals": [tid_of(1), tid_of(terminals)] if terminals else [],
        "accounts": len(data["accounts"]) + load_cards,
    }


def icc_ac_key(issuer: str, pan: str, psn: str, cvn: int) -> bytes:
    """The ICC master key for application cryptograms of a card (what the
    card holds; the load tool's simulated cards use it)."""
    from hsm_sim.crypto import emv_ac

    option = emv_ac.profile(cvn)["option"]
    return emv_kd.derive_icc_mk(issuer_master_keys(issuer)["ac"], pan, psn, option)
