"""What the host asks of its HSM, as one small interface.

The host never holds a clear key: every key it names is a *key reference* —
a key block under the HSM's LMK (``S…``), as stored in the database.  Two
implementations:

- ``host_sim.acquirer.security_hsm.HsmSecurity``: payShield-style commands
  to the HSM server over TCP (``hsm_sim.client``) — what ``payterm host``
  runs;
- ``host_sim.acquirer.security_local.LocalSecurity``: the same operations
  in-process over ``hsm_sim.crypto`` with the published test LMK, for unit
  tests of the host's logic.

Every method raises ``SecurityUnavailable`` when the HSM cannot be reached
or answers with an error that is not a verification result (the host then
answers 91, issuer or switch inoperative); a failed verification is a
result, not an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class SecurityUnavailable(Exception):
    """The HSM is unreachable, timed out, or refused the command."""


@dataclass(frozen=True)
class ArqcCheck:
    """One ARQC to verify (EMV Book 2 8.1) and the ARPC to return.

    ``data`` is the transaction data the card MACed, built by the host from
    field 55 (``host_sim.acquirer.emv.ac_data``); ``arc`` the 2-byte
    authorisation response code that goes into the ARPC (method 1) and
    ``csu`` the card status update (method 2)."""

    issuer_key_ref: str
    cvn: int
    pan: str
    psn: str
    atc: bytes
    un: bytes
    data: bytes
    arqc: bytes
    arc: bytes
    csu: bytes


@dataclass(frozen=True)
class PinCheck:
    """An online PIN under AES DUKPT (ISO 9564 format 4) to verify against
    the account's PIN verification data."""

    bdk_ref: str
    ksn: bytes
    pin_block: bytes
    pin_block_format: int
    pan: str
    method: str  # "pvv" (Visa PVV) or "ibm3624" (IBM 3624 offset)
    pin_key_ref: str  # PVK
    pin_data: str  # PVKI (1) + PVV (4), or the IBM offset


class Security(Protocol):
    async def verify_arqc(self, check: ArqcCheck) -> bytes | None:
        """The issuer authentication data for tag 91 (ARPC ‖ ARC for method
        1, ARPC ‖ CSU for method 2), or None when the ARQC is wrong."""
        ...

    async def verify_cryptogram(self, check: ArqcCheck) -> bool:
        """True when the application cryptogram (an offline TC, say) is the
        card's; no ARPC (``arc``/``csu`` are ignored)."""
        ...

    async def verify_pin(self, check: PinCheck) -> bool:
        """True when the PIN is right, False when it is wrong."""
        ...

    async def verify_mac(self, key_ref: str, data: bytes, mac: bytes) -> bool:
        """AES-CMAC of ``data`` under the terminal's MAC key, leftmost
        ``len(mac)`` bytes, compared with ``mac``."""
        ...

    async def generate_mac(self, key_ref: str, data: bytes) -> bytes:
        """The leftmost 8 bytes of the AES-CMAC of ``data``."""
        ...

    async def verify_dukpt_mac(self, bdk_ref: str, ksn: bytes, data: bytes, mac: bytes) -> bool:
        """AES-CMAC of ``data`` under the AES DUKPT MAC generation key (X9.24-3
        usage 2000) of ``ksn`` derived from the BDK, leftmost ``len(mac)``
        bytes, compared with ``mac``."""
        ...

    async def generate_dukpt_mac(self, bdk_ref: str, ksn: bytes, data: bytes) -> bytes:
        """The leftmost 8 bytes of the AES-CMAC of ``data`` under the DUKPT
        MAC generation key of ``ksn``."""
        ...
