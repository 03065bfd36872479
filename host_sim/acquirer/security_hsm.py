"""The host's security operations through the HSM server over TCP.

Commands are built with ``hsm_sim.client``'s request builders and framed and
checked with its ``frame``/``unframe``.  The transport is pipelined (the
client's ``AsyncHsmClient`` allows one command in flight per connection): a
few connections, each carrying every command the host has outstanding, the
commands of one event-loop iteration in one write — under load that is one
system call for dozens of commands, which is what lets one HSM serve 64
terminals (docs/benchmarks.md).

| operation | HSM commands |
|---|---|
| ARQC verification + ARPC | KQ mode 1 (ARC for method 1, CSU for method 2) |
| offline cryptogram (advice TC) | KQ mode 0 |
| online PIN | G0 (AES DUKPT, format 4 → the host's ZPK, format 0), then EC (Visa PVV) |
| | or EA (IBM 3624 offset) |
| MAC verification | M8, CMAC (algorithm 5), 8-byte MAC, binary message |
| response MAC | M6, CMAC, 8 bytes, binary message |
| DUKPT MAC verification | GY, usage 2000, the request's KSN, binary message |
| DUKPT response MAC | GW, usage 2000, the request's KSN, binary message |

HSM error 01 is a failed verification (a result); 20 and 24 on a PIN block
(it does not decipher to a valid block: wrong key or a corrupted block) count
as a wrong PIN.  Any other error code, a closed connection or a timeout
raises ``SecurityUnavailable`` (the host answers 91); a broken connection is
replaced on its next use.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque

from host_sim.acquirer import emv
from host_sim.acquirer.security import ArqcCheck, PinCheck, SecurityUnavailable
from hsm_sim import client as hsm

DECIMALISATION = "0123456789012345"
RETRY_S = 1.0  # an HSM that refused a connection is tried again after this
PIN_BLOCK_ERRORS = ("20", "24")
TDES_FORMAT_0 = 0


def mac_fields(key_ref: str, data: bytes, size: int) -> str:
    """M6/M8 fields with the message in binary (input format 0: one Latin-1
    character per byte, as the HSM reads it) — half the bytes of the client's
    hex form and no hex parsing in the HSM; CMAC (algorithm 5), no padding."""
    sizes = {4: "0", 8: "1", 16: "2"}
    return f"00{sizes[size]}50FFF{key_ref}{len(data):04X}" + data.decode("latin-1")


class _Pipe(asyncio.Protocol):
    """One HSM connection carrying many commands at once.

    Requests queued during one event-loop iteration leave in one write; the
    HSM answers the frames of one read in order (and in one write), so the
    answers are matched first-in first-out and checked by the client's
    ``unframe`` (header echoed, response code = command code + 1)."""

    def __init__(self, header: bytes) -> None:
        self.header = header
        self.transport: asyncio.Transport | None = None
        self.pending: deque[tuple[str, asyncio.Future[tuple[str, str]], float]] = deque()
        self.outbox: list[bytes] = []
        self.buffer = bytearray()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, code: str, fields: str) -> asyncio.Future[tuple[str, str]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[str, str]] = loop.create_future()
        if self.closed or self.transport is None:
            future.set_exception(ConnectionError("HSM connection closed"))
            return future
        if not self.outbox:
            loop.call_soon(self._flush)
        self.outbox.append(hsm.frame(self.header, code, fields))
        self.pending.append((code, future, loop.time()))
        return future

    def oldest(self) -> float | None:
        """When the oldest unanswered command was sent (loop time)."""
        return self.pending[0][2] if self.pending else None

    def _flush(self) -> None:
        if self.outbox and self.transport is not None and not self.closed:
            self.transport.write(b"".join(self.outbox))
        self.outbox.clear()

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        pos = 0
        while len(buf) - pos >= 2:
            length = (buf[pos] << 8) | buf[pos + 1]
            if len(buf) - pos - 2 < length:
                break
            body = bytes(buf[pos + 2 : pos + 2 + length])
            pos += 2 + length
            if not self.pending:
                self._fail(ConnectionError("HSM answered a command never sent"))
                return
            code, future, _sent = self.pending.popleft()
            if future.done():
                continue
            try:
                future.set_result(hsm.unframe(self.header, code, body))
            except hsm.HsmError as exc:
                future.set_exception(exc)
        if pos:
            del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError("HSM connection lost"))

    def _fail(self, exc: Exception) -> None:
        self.closed = True
        while self.pending:
            _code, future, _sent = self.pending.popleft()
            if not future.done():
                future.set_exception(exc)
        if self.transport is not None:
            self.transport.close()


class HsmSecurity:
    def __init__(
        self,
        host: str,
        port: int,
        zpk_ref: str = "",
        header: bytes = b"0000",
        connections: int = 2,
        timeout: float = 5.0,
        more: tuple[tuple[str, int], ...] = (),
    ) -> None:
        """``connections`` pipelined connections to each HSM: ``host:port``
        and the ``more`` addresses (a cluster of HSMs under the same LMK;
        commands go round robin, and past an HSM that cannot be reached)."""
        self.host, self.port, self.header = host, port, header
        self.addresses = [(host, port), *more]
        self.zpk_ref = zpk_ref
        self.size = connections
        self.timeout = timeout
        self._pipes: list[_Pipe] = []
        self._next = 0
        self._retry_at: dict[int, float] = {}
        self._watchdog: asyncio.TimerHandle | None = None
        self.calls = 0

    async def connect(self) -> HsmSecurity:
        count = self.size * len(self.addresses)
        self._pipes = []
        failure: SecurityUnavailable | None = None
        for index in range(count):
            try:
                self._pipes.append(await self._open(index))
            except SecurityUnavailable as exc:  # an HSM of the cluster is down
                failure = exc
                dead = _Pipe(self.header)
                dead.closed = True
                self._pipes.append(dead)
                self._retry_at[index] = asyncio.get_running_loop().time() + RETRY_S
        if failure is not None and all(pipe.closed for pipe in self._pipes):
            raise failure
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().call_later(1.0, self._watch)
        return self

    def _watch(self) -> None:
        """Once a second: a connection whose oldest command has waited longer
        than ``timeout`` is failed (its callers get ``SecurityUnavailable``)
        and replaced on its next use.  One timer for all commands instead of
        one per command."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        for pipe in self._pipes:
            sent = pipe.oldest()
            if sent is not None and now - sent > self.timeout:
                pipe._fail(TimeoutError("HSM did not answer in time"))
        self._watchdog = loop.call_later(min(1.0, self.timeout), self._watch)

    async def _open(self, index: int) -> _Pipe:
        loop = asyncio.get_running_loop()
        host, port = self.addresses[index % len(self.addresses)]
        try:
            _transport, pipe = await asyncio.wait_for(
                loop.create_connection(lambda: _Pipe(self.header), host, port), self.timeout
            )
        except (OSError, TimeoutError) as exc:
            raise SecurityUnavailable(f"HSM {host}:{port}: {exc}") from None
        if pipe.transport is not None:
            sock = pipe.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return pipe

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for pipe in self._pipes:
            pipe.closed = True
            if pipe.transport is not None:
                pipe.transport.close()
        self._pipes = []

    async def exchange(self, code: str, fields: str) -> tuple[str, str]:
        """One command: (error code, response fields)."""
        pipe = self._next_open()
        if pipe is None:
            if not self._pipes:
                await self.connect()
            pipe = await self._pick()
        self.calls += 1
        try:
            return await pipe.send(code, fields)
        except (OSError, TimeoutError, hsm.HsmError) as exc:
            pipe._fail(ConnectionError("HSM connection dropped"))
            raise SecurityUnavailable(f"HSM {code}: {type(exc).__name__}") from None

    def _next_open(self) -> _Pipe | None:
        """The next connection, round robin, when it is open (the usual
        case, with no coroutine); None sends the caller to ``_pick``, which
        looks at the same connection again and reopens it."""
        count = len(self._pipes)
        if not count:
            return None
        index = (self._next + 1) % count
        pipe = self._pipes[index]
        if pipe.closed:
            return None
        self._next = index
        return pipe

    async def _pick(self) -> _Pipe:
        """The next connection, round robin; a broken one is reopened, and
        when its HSM cannot be reached the next one is tried."""
        failure: SecurityUnavailable | None = None
        now = asyncio.get_running_loop().time()
        for _ in range(len(self._pipes)):
            self._next = (self._next + 1) % len(self._pipes)
            index = self._next
            pipe = self._pipes[index]
            if not pipe.closed:
                return pipe
            if self._retry_at.get(index, 0.0) > now:
                continue  # its HSM failed to connect a moment ago
            try:
                pipe = self._pipes[index] = await self._open(index)
            except SecurityUnavailable as exc:
                failure = exc
                self._retry_at[index] = now + RETRY_S
                continue
            return pipe
        raise failure or SecurityUnavailable("no HSM connection")

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

    async def verify_cryptogram(self, check: ArqcCheck) -> bool:
        fields = hsm.req_kq(
            0, check.cvn, check.issuer_key_ref, check.pan, check.psn, check.atc, check.un,
            check.data, check.arqc,
        )  # fmt: skip
        return await self._verify("KQ", fields)

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
        fields = mac_fields(key_ref, data, len(mac)) + mac.hex().upper()
        return await self._verify("M8", fields)

    async def generate_mac(self, key_ref: str, data: bytes) -> bytes:
        error, out = await self.exchange("M6", mac_fields(key_ref, data, 8))
        if error != "00":
            raise SecurityUnavailable(f"HSM M6: error {error}")
        return bytes.fromhex(out)

    async def verify_dukpt_mac(self, bdk_ref: str, ksn: bytes, data: bytes, mac: bytes) -> bool:
        fields = hsm.req_dukpt_mac(bdk_ref, ksn, data, len(mac), binary=True) + mac.hex().upper()
        return await self._verify("GY", fields)

    async def generate_dukpt_mac(self, bdk_ref: str, ksn: bytes, data: bytes) -> bytes:
        error, out = await self.exchange("GW", hsm.req_dukpt_mac(bdk_ref, ksn, data, binary=True))
        if error != "00":
            raise SecurityUnavailable(f"HSM GW: error {error}")
        return bytes.fromhex(out)
