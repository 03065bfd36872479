"""The host's security operations through the HSM server over TCP.

A pool of ``hsm_sim.client.AsyncHsmClient`` connections (the client allows
one command in flight per connection), each command built with the client's
request builders:

| operation | HSM commands |
|---|---|
| ARQC verification + ARPC | KQ mode 1 (ARC for method 1, CSU for method 2) |
| online PIN | G0 (AES DUKPT, format 4 → the host's ZPK, format 0), then EC (Visa PVV) |
| | or EA (IBM 3624 offset) |
| MAC verification | M8, CMAC (algorithm 5), 8-byte MAC |
| response MAC | M6, CMAC, 8 bytes |

HSM error 01 is a failed verification (a result); 20 and 24 on a PIN block
(it does not decipher to a valid block: wrong key or a corrupted block) count
as a wrong PIN.  Any other error code, a closed connection or a timeout
raises ``SecurityUnavailable`` (the host answers 91) and the connection is
replaced.
"""

from __future__ import annotations

import asyncio
import contextlib

from host_sim.acquirer import emv
from host_sim.acquirer.security import ArqcCheck, PinCheck, SecurityUnavailable
from hsm_sim import client as hsm

DECIMALISATION = "0123456789012345"
PIN_BLOCK_ERRORS = ("20", "24")
TDES_FORMAT_0 = 0


class HsmSecurity:
    def __init__(
        self,
        host: str,
        port: int,
        zpk_ref: str = "",
        header: bytes = b"0000",
        connections: int = 8,
        timeout: float = 5.0,
    ) -> None:
        self.host, self.port, self.header = host, port, header
        self.zpk_ref = zpk_ref
        self.size = connections
        self.timeout = timeout
        self._idle: asyncio.Queue[hsm.AsyncHsmClient] | None = None
        self._clients: list[hsm.AsyncHsmClient] = []
        self.calls = 0

    async def connect(self) -> HsmSecurity:
        self._idle = asyncio.Queue()
        for _ in range(self.size):
            client = await self._new_client()
            self._idle.put_nowait(client)
        return self

    async def _new_client(self) -> hsm.AsyncHsmClient:
        try:
            client = await asyncio.wait_for(
                hsm.AsyncHsmClient(self.host, self.port, self.header).connect(), self.timeout
            )
        except (OSError, TimeoutError) as exc:
            raise SecurityUnavailable(f"HSM {self.host}:{self.port}: {exc}") from None
        self._clients.append(client)
        return client

    async def close(self) -> None:
        for client in self._clients:
            with contextlib.suppress(OSError):
                await client.close()
        self._clients.clear()

    async def exchange(self, code: str, fields: str) -> tuple[str, str]:
        """One command on an idle connection: (error code, response fields)."""
        if self._idle is None:
            await self.connect()
        assert self._idle is not None
        client = await self._idle.get()
        self.calls += 1
        try:
            result = await asyncio.wait_for(client.exchange(code, fields), self.timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, hsm.HsmError) as exc:
            with contextlib.suppress(OSError):
                await client.close()
            self._clients.remove(client)
            try:
                self._idle.put_nowait(await self._new_client())
            except SecurityUnavailable:
                self._idle.put_nowait(client)  # reconnect on its next use
            raise SecurityUnavailable(f"HSM {code}: {type(exc).__name__}") from None
        self._idle.put_nowait(client)
        return result

    async def _verify(self, code: str, fields: str, wrong: tuple[str, ...] = ()) -> bool:
        error, _out = await self.exchange(code, fields)
        if error == "00":
            return True
        if error == "01" or error in wrong:
            return False
        raise SecurityUnavailable(f"HSM {code}: error {error}")

    async def verify_arqc(self, check: ArqcCheck) -> bytes | None:
        method_1 = emv.arpc_method(check.cvn) == 1
        fields = hsm.req_kq(
            1, check.cvn, check.issuer_key_ref, check.pan, check.psn, check.atc, check.un,
            check.data, check.arqc,
            arc=check.arc if method_1 else None, csu=None if method_1 else check.csu,
        )  # fmt: skip
        error, out = await self.exchange("KQ", fields)
        if error == "01":
            return None
        if error != "00":
            raise SecurityUnavailable(f"HSM KQ: error {error}")
        return bytes.fromhex(out) + (check.arc if method_1 else check.csu)

    async def verify_pin(self, check: PinCheck) -> bool:
        fields = hsm.req_g0(
            check.bdk_ref, self.zpk_ref, check.ksn, check.pin_block_format, check.pin_block,
            TDES_FORMAT_0, check.pan,
        )  # fmt: skip
        error, out = await self.exchange("G0", fields)
        if error in PIN_BLOCK_ERRORS:
            return False
        if error != "00":
            raise SecurityUnavailable(f"HSM G0: error {error}")
        block = hsm.parse_translated(out).pin_block
        account12 = check.pan[-13:-1]
        if check.method == "pvv":
            pvki, pvv = check.pin_data[0], check.pin_data[1:5]
            fields = (
                f"{self.zpk_ref}{check.pin_key_ref}{block.hex().upper()}01{account12}{pvki}{pvv}"
            )
            return await self._verify("EC", fields, PIN_BLOCK_ERRORS)
        offset = check.pin_data
        fields = (
            f"{self.zpk_ref}{check.pin_key_ref}12{block.hex().upper()}01{len(offset):02d}"
            f"{account12}{DECIMALISATION}{account12}{offset.ljust(12, 'F')}"
        )
        return await self._verify("EA", fields, PIN_BLOCK_ERRORS)

    async def verify_mac(self, key_ref: str, data: bytes, mac: bytes) -> bool:
        fields = hsm.req_mac(key_ref, data, "cmac", len(mac), 0) + mac.hex().upper()
        return await self._verify("M8", fields)

    async def generate_mac(self, key_ref: str, data: bytes) -> bytes:
        error, out = await self.exchange("M6", hsm.req_mac(key_ref, data, "cmac", 8, 0))
        if error != "00":
            raise SecurityUnavailable(f"HSM M6: error {error}")
        return bytes.fromhex(out)
