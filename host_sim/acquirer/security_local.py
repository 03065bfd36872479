"""The host's security operations in-process, over ``hsm_sim.crypto``.

For unit tests of the host's logic only: key references are the same ``S``
key blocks the HSM takes, unwrapped here under an LMK held in this process
(by default the published TEST LMK).  ``payterm host`` never uses it; it
talks to the HSM server (``security_hsm``).
"""

from __future__ import annotations

import hmac

from host_sim.acquirer.security import ArqcCheck, PinCheck, SecurityUnavailable
from hsm_sim.crypto import aes, emv_ac, pinblock, pinverify
from hsm_sim.crypto.aes import AesBlock
from hsm_sim.lmk import Lmk
from protocols.crypto import aes_dukpt
from protocols.errors import DecodeError

DECIMALISATION = "0123456789012345"


class LocalSecurity:
    def __init__(self, lmk: Lmk | None = None) -> None:
        self.lmk = lmk or Lmk.test()
        self.calls = 0

    def _key(self, ref: str, usage: str) -> bytes:
        try:
            header, value = self.lmk.unwrap(ref)
        except ValueError as exc:
            raise SecurityUnavailable(f"key block refused: {type(exc).__name__}") from None
        if header.key_usage != usage:
            raise SecurityUnavailable(f"key usage {header.key_usage} is not {usage}")
        return value

    async def verify_arqc(self, check: ArqcCheck) -> bytes | None:
        self.calls += 1
        imk = self._key(check.issuer_key_ref, "E0")
        try:
            arpc = emv_ac.verify_arqc_and_respond(
                imk, check.pan, check.psn, check.atc, check.data, check.arqc, check.cvn,
                arc=check.arc, csu=check.csu, un=check.un,
            )  # fmt: skip
        except ValueError as exc:
            raise SecurityUnavailable(f"ARQC input refused: {exc}") from None
        if arpc is None:
            return None
        method = emv_ac.profile(check.cvn)["arpc_method"]
        return arpc + (check.arc if method == 1 else check.csu)

    async def verify_cryptogram(self, check: ArqcCheck) -> bool:
        self.calls += 1
        imk = self._key(check.issuer_key_ref, "E0")
        try:
            _icc_mk, key = emv_ac.ac_keys(
                imk, check.pan, check.psn, check.atc, check.cvn, None, check.un
            )
            padding = emv_ac.profile(check.cvn)["padding"]
            return emv_ac.verify_ac(key, check.data, check.arqc, padding)
        except ValueError as exc:
            raise SecurityUnavailable(f"cryptogram input refused: {exc}") from None

    async def verify_pin(self, check: PinCheck) -> bool:
        self.calls += 1
        bdk = self._key(check.bdk_ref, "B0")
        if not aes_dukpt.ksn_is_valid(check.ksn):
            raise SecurityUnavailable("KSN is not a valid AES DUKPT KSN")
        ikid, _counter = aes_dukpt.split_ksn(check.ksn)
        ik = aes_dukpt.initial_key(AesBlock, bdk, ikid)
        pin_key = aes_dukpt.working_key(
            AesBlock, ik, check.ksn, aes_dukpt.USAGE_PIN_ENCRYPTION, None
        )
        try:
            pin = pinblock.decipher(check.pin_block_format, pin_key, check.pin_block, check.pan)
        except DecodeError:
            return False  # a block that does not decipher is a wrong PIN entry
        if check.method == "pvv":
            pvk = self._key(check.pin_key_ref, "V2")
            return pinverify.visa_pvv_verify(
                pvk, check.pan, check.pin_data[0], pin, check.pin_data[1:5]
            )
        pvk = self._key(check.pin_key_ref, "V1")
        offset = check.pin_data
        if len(pin) < len(offset):
            return False
        validation = check.pan[-13:-1]  # the 12-digit account number, as the HSM
        return pinverify.ibm3624_verify(pvk, pin, offset, validation, DECIMALISATION)

    async def verify_mac(self, key_ref: str, data: bytes, mac: bytes) -> bool:
        self.calls += 1
        key = self._key(key_ref, "M6")
        return hmac.compare_digest(aes.cmac(key, data)[: len(mac)], mac)

    async def generate_mac(self, key_ref: str, data: bytes) -> bytes:
        self.calls += 1
        return aes.cmac(self._key(key_ref, "M6"), data)[:8]

    def _dukpt_mac_key(self, bdk_ref: str, ksn: bytes) -> bytes:
        bdk = self._key(bdk_ref, "B0")
        if len(ksn) != aes_dukpt.KSN_LEN or not aes_dukpt.ksn_is_valid(ksn):
            raise SecurityUnavailable("KSN is not a valid AES DUKPT KSN")
        ik = aes_dukpt.initial_key(AesBlock, bdk, ksn[: aes_dukpt.IKID_LEN])
        return aes_dukpt.working_key(AesBlock, ik, ksn, aes_dukpt.USAGE_MAC_GENERATION, None)

    async def verify_dukpt_mac(self, bdk_ref: str, ksn: bytes, data: bytes, mac: bytes) -> bool:
        self.calls += 1
        key = self._dukpt_mac_key(bdk_ref, ksn)
        return hmac.compare_digest(aes.cmac(key, data)[: len(mac)], mac)

    async def generate_dukpt_mac(self, bdk_ref: str, ksn: bytes, data: bytes) -> bytes:
        self.calls += 1
        return aes.cmac(self._dukpt_mac_key(bdk_ref, ksn), data)[:8]
