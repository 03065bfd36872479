"""Python clients for the HSM: ``HsmClient`` (blocking socket, one method per
command, typed results) and ``AsyncHsmClient`` (asyncio, for hosts and the
benchmark: ``call``/``exchange`` with the same request builders).

Keys are passed as the ``S`` key blocks (or ``K`` + label references) the
HSM returned; PIN blocks, MACs and cryptograms as bytes; PIN block formats
as ISO 9564 format numbers (0–4), mapped to payShield's codes.  A response
whose error code is not ``00`` raises ``HsmError(code, command)``, except
that the verify methods return False on ``01`` (verification failure).

    with HsmClient("127.0.0.1", 1500) as hsm:
        zpk = hsm.generate_key("P0", "T2").key
        print(hsm.diagnostics().lmk_check)
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from types import TracebackType

from hsm_sim.errors import HsmError
from hsm_sim.server import response_code

__all__ = [
    "AsyncHsmClient",
    "Diagnostics",
    "HsmClient",
    "HsmError",
    "KeyResult",
    "TranslatedPin",
]

FORMAT_CODES = {0: "01", 1: "05", 2: "34", 3: "47", 4: "48"}
MAC_ALGORITHMS = {"alg1": "1", "alg3": "3", "cmac": "5"}
MAC_SIZES = {4: "0", 8: "1", 16: "2"}


@dataclass(frozen=True)
class Diagnostics:
    lmk_check: str
    firmware: str


@dataclass(frozen=True)
class KeyResult:
    key: str  # S key block under the LMK (or under the ZMK for exports)
    kcv: str
    exported: str | None = None  # A0 mode 1: the key under the ZMK


@dataclass(frozen=True)
class TranslatedPin:
    pin_length: int
    pin_block: bytes
    format_code: str


@dataclass(frozen=True)
class DataResult:
    data: bytes
    iv: bytes | None  # CBC: the chaining value for the next call


# -- request builders (pure: fields after the command code) --------------------


def _fmt(fmt: int) -> str:
    try:
        return FORMAT_CODES[fmt]
    except KeyError:
        raise ValueError(f"unknown PIN block format {fmt}") from None


def _hex(data: bytes) -> str:
    return data.hex().upper()


def key_header(
    usage: str, algorithm: str, mode: str = "N", version: str = "00", export: str = "E"
) -> str:
    return f"#{usage}{algorithm}{mode}{version}{export}00"


def req_a0(header: str, zmk: str | None = None) -> str:
    if zmk is None:
        return f"0FFFS{header}"
    return f"1FFFS{zmk}S{header}"


def req_translate(
    src: str, dst: str, block: bytes, src_fmt: int, dst_fmt: int, account: str, max_pin: int = 12
) -> str:
    """CA (src = TPK) and CC (src = ZPK)."""
    return f"{src}{dst}{max_pin:02d}{_hex(block)}{_fmt(src_fmt)}{_fmt(dst_fmt)}{account}"


def req_ci(bdk: str, zpk: str, ksn: bytes, block: bytes, dst_fmt: int, account: str) -> str:
    return f"{bdk}{zpk}A05{_hex(ksn)}{_hex(block)}{_fmt(dst_fmt)}{account}"


def req_g0(
    bdk: str, zpk: str, ksn: bytes, src_fmt: int, block: bytes, dst_fmt: int, account: str
) -> str:
    return f"{bdk}{zpk}A05{_hex(ksn)}{_fmt(src_fmt)}{_hex(block)}{_fmt(dst_fmt)}{account}"


def req_kq(
    mode: int,
    cvn: int,
    imk: str,
    pan: str,
    psn: str,
    atc: bytes,
    un: bytes,
    data: bytes,
    arqc: bytes,
    arc: bytes | None = None,
    csu: bytes | None = None,
    prop_data: bytes = b"",
) -> str:
    text = (
        f"{mode}{cvn:02d}{imk}{len(pan):02d}{pan}{psn}{_hex(atc)}{_hex(un)}"
        f"{len(data):03d}{_hex(data)};{_hex(arqc)}"
    )
    if mode:
        if arc is not None:
            text += _hex(arc)
        elif csu is not None:
            text += f"{_hex(csu)}{len(prop_data)}{_hex(prop_data)}"
        else:
            raise ValueError("ARPC needs the ARC (method 1) or the CSU (method 2)")
    return text


def req_mac(key: str, data: bytes, algorithm: str = "cmac", size: int = 8, padding: int = 0) -> str:
    """M6 (and M8 with the MAC appended); the message travels as hex."""
    message = _hex(data)
    return (
        f"01{MAC_SIZES[size]}{MAC_ALGORITHMS[algorithm]}{padding}FFF{key}"
        f"{len(message):04X}{message}"
    )


DUKPT_MAC_USAGES = {"generation": "2000", "verification": "2001", "both": "2002"}


def req_dukpt_mac(
    bdk: str, ksn: bytes, data: bytes, size: int = 8, usage: str = "generation",
    binary: bool = False,
) -> str:  # fmt: skip
    """GW (and GY with the MAC appended): AES-CMAC under the AES DUKPT MAC
    working key of ``ksn``; the message as hex, or binary (one Latin-1
    character per byte: half the bytes, no hex parsing in the HSM)."""
    message = data.decode("latin-1") if binary else _hex(data)
    return (
        f"{bdk}{DUKPT_MAC_USAGES[usage]}{_hex(ksn)}{MAC_SIZES[size]}{0 if binary else 1}"
        f"{len(message):04X}{message}"
    )


def req_data(key: str, data: bytes, iv: bytes | None = None) -> str:
    """M0 / M2 with hex input and output."""
    message = _hex(data)
    mode = "00" if iv is None else "01"
    return f"{mode}11FFF{key}{_hex(iv) if iv else ''}{len(message):04X}{message}"


# -- response parsers -----------------------------------------------------------------


def parse_key(fields: str, exported: bool = False) -> KeyResult:
    key, rest = _split_block(fields)
    out = None
    if exported:
        out, rest = _split_block(rest)
    return KeyResult(key, rest, out)


def _split_block(text: str) -> tuple[str, str]:
    if not text.startswith("S") or not text[2:6].isdigit():
        raise HsmError("15", reason="response does not start with an S key block")
    end = 1 + int(text[2:6])
    return text[:end], text[end:]


def parse_translated(fields: str) -> TranslatedPin:
    length = int(fields[:2])
    return TranslatedPin(length, bytes.fromhex(fields[2:-2]), fields[-2:])


def parse_data(fields: str, cbc: bool, block: int) -> DataResult:
    iv = None
    if cbc:
        iv = bytes.fromhex(fields[: 2 * block])
        fields = fields[2 * block :]
    length = int(fields[:4], 16)
    return DataResult(bytes.fromhex(fields[4 : 4 + length]), iv)


# -- transports ---------------------------------------------------------------------


def frame(header: bytes, code: str, fields: str) -> bytes:
    body = header + code.encode("ascii") + fields.encode("latin-1")
    if len(body) > 0xFFFF:
        raise ValueError("message too long for a 2-byte length")
    return len(body).to_bytes(2, "big") + body


def unframe(header: bytes, code: str, body: bytes) -> tuple[str, str]:
    """(error code, fields) of a response body; checks header and response code."""
    hl = len(header)
    if body[:hl] != header:
        raise HsmError("15", code, "response header does not echo the request's")
    got = body[hl : hl + 2].decode("latin-1")
    if got != response_code(code) and got != "ZZ":
        raise HsmError("15", code, f"response code {got!r}")
    return body[hl + 2 : hl + 4].decode("latin-1"), body[hl + 4 :].decode("latin-1")


class HsmClient:
    """Blocking client: one connection, one command at a time."""

    def __init__(
        self, host: str, port: int, header: bytes = b"0000", timeout: float = 10.0
    ) -> None:
        self.header = header
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> HsmClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _recv(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = self._sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("HSM closed the connection")
            data += chunk
        return bytes(data)

    def exchange(self, code: str, fields: str = "") -> tuple[str, str]:
        """Send one command; (error code, response fields)."""
        self._sock.sendall(frame(self.header, code, fields))
        length = int.from_bytes(self._recv(2), "big")
        return unframe(self.header, code, self._recv(length))

    def call(self, code: str, fields: str = "") -> str:
        """The response fields; HsmError unless the error code is 00."""
        error, out = self.exchange(code, fields)
        if error != "00":
            raise HsmError(error, code)
        return out

    def _verify(self, code: str, fields: str) -> bool:
        error, _out = self.exchange(code, fields)
        if error == "01":
            return False
        if error != "00":
            raise HsmError(error, code)
        return True

    # -- commands -------------------------------------------------------------------

    def diagnostics(self) -> Diagnostics:
        out = self.call("NC")
        return Diagnostics(out[:16], out[16:])

    def generate_key(
        self,
        usage: str,
        algorithm: str,
        mode: str = "N",
        version: str = "00",
        export: str = "E",
        zmk: str | None = None,
    ) -> KeyResult:
        header = key_header(usage, algorithm, mode, version, export)
        return parse_key(self.call("A0", req_a0(header, zmk)), zmk is not None)

    def import_key(self, zmk: str, block_under_zmk: str) -> KeyResult:
        return parse_key(self.call("A6", f"FFF{zmk}S{block_under_zmk}S"))

    def export_key(self, zmk: str, key: str) -> KeyResult:
        return parse_key(self.call("A8", f"FFF{zmk}{key}S"))

    def form_key(self, components: list[str]) -> KeyResult:
        return parse_key(self.call("A4", f"{len(components)}FFFS{''.join(components)}"))

    def key_check_value(self, key: str) -> str:
        return self.call("BU", f"FFF{key}")

    def store_key(self, label: str, key: str) -> str:
        """Keep ``key`` in the HSM's key store; later commands name it ``K`` + label."""
        return self.call("LA", f"{label}{key}")

    def translate_pin_tpk(
        self, tpk: str, zpk: str, block: bytes, src_fmt: int, dst_fmt: int, account: str
    ) -> TranslatedPin:
        return parse_translated(
            self.call("CA", req_translate(tpk, zpk, block, src_fmt, dst_fmt, account))
        )

    def translate_pin_zpk(
        self, src: str, dst: str, block: bytes, src_fmt: int, dst_fmt: int, account: str
    ) -> TranslatedPin:
        return parse_translated(
            self.call("CC", req_translate(src, dst, block, src_fmt, dst_fmt, account))
        )

    def translate_pin_dukpt(
        self, bdk: str, zpk: str, ksn: bytes, block: bytes, dst_fmt: int, account: str
    ) -> TranslatedPin:
        return parse_translated(self.call("CI", req_ci(bdk, zpk, ksn, block, dst_fmt, account)))

    def translate_pin_dukpt_g0(
        self,
        bdk: str,
        zpk: str,
        ksn: bytes,
        src_fmt: int,
        block: bytes,
        dst_fmt: int,
        account: str,
    ) -> TranslatedPin:
        fields = req_g0(bdk, zpk, ksn, src_fmt, block, dst_fmt, account)
        return parse_translated(self.call("G0", fields))

    def verify_pin_ibm(
        self,
        pin_key: str,
        pvk: str,
        block: bytes,
        fmt: int,
        account12: str,
        offset: str,
        validation_data: str,
        table: str = "0123456789012345",
        interchange: bool = True,
    ) -> bool:
        """EA (ZPK, ``interchange``) or DA (TPK)."""
        fields = (
            f"{pin_key}{pvk}12{_hex(block)}{_fmt(fmt)}{len(offset):02d}{account12}{table}"
            f"{validation_data}{offset.ljust(12, 'F')}"
        )
        return self._verify("EA" if interchange else "DA", fields)

    def verify_pin_pvv(
        self,
        pin_key: str,
        pvk: str,
        block: bytes,
        fmt: int,
        account12: str,
        pvki: str,
        pvv: str,
        interchange: bool = True,
    ) -> bool:
        """EC (ZPK, ``interchange``) or DC (TPK)."""
        fields = f"{pin_key}{pvk}{_hex(block)}{_fmt(fmt)}{account12}{pvki}{pvv}"
        return self._verify("EC" if interchange else "DC", fields)

    def generate_cvv(self, cvk: str, pan: str, expiry: str, service_code: str) -> str:
        return self.call("CW", f"{cvk}{pan};{expiry}{service_code}")

    def verify_cvv(self, cvk: str, cvv: str, pan: str, expiry: str, service_code: str) -> bool:
        return self._verify("CY", f"{cvk}{cvv}{pan};{expiry}{service_code}")

    def verify_arqc(
        self,
        cvn: int,
        imk: str,
        pan: str,
        psn: str,
        atc: bytes,
        un: bytes,
        data: bytes,
        arqc: bytes,
        arc: bytes | None = None,
        csu: bytes | None = None,
        prop_data: bytes = b"",
    ) -> bytes | None:
        """KQ: the ARPC (mode 1, when ``arc`` or ``csu`` is given) or b""
        (mode 0); None when the ARQC does not verify."""
        mode = 0 if arc is None and csu is None else 1
        fields = req_kq(mode, cvn, imk, pan, psn, atc, un, data, arqc, arc, csu, prop_data)
        error, out = self.exchange("KQ", fields)
        if error == "01":
            return None
        if error != "00":
            raise HsmError(error, "KQ")
        return bytes.fromhex(out)

    def generate_mac(
        self, key: str, data: bytes, algorithm: str = "cmac", size: int = 8, padding: int = 0
    ) -> bytes:
        return bytes.fromhex(self.call("M6", req_mac(key, data, algorithm, size, padding)))

    def verify_mac(
        self,
        key: str,
        data: bytes,
        mac: bytes,
        algorithm: str = "cmac",
        padding: int = 0,
    ) -> bool:
        return self._verify("M8", req_mac(key, data, algorithm, len(mac), padding) + _hex(mac))

    def generate_dukpt_mac(
        self, bdk: str, ksn: bytes, data: bytes, size: int = 8, usage: str = "generation"
    ) -> bytes:
        """GW: the AES-CMAC (leftmost ``size`` bytes) under the DUKPT MAC key of ``ksn``."""
        return bytes.fromhex(self.call("GW", req_dukpt_mac(bdk, ksn, data, size, usage)))

    def verify_dukpt_mac(
        self, bdk: str, ksn: bytes, data: bytes, mac: bytes, usage: str = "generation"
    ) -> bool:
        """GY: False when the MAC does not verify (error 01)."""
        return self._verify("GY", req_dukpt_mac(bdk, ksn, data, len(mac), usage) + _hex(mac))

    def encrypt_data(self, key: str, data: bytes, iv: bytes | None = None) -> DataResult:
        block = 8 if iv is None else len(iv)
        return parse_data(self.call("M0", req_data(key, data, iv)), iv is not None, block)

    def decrypt_data(self, key: str, data: bytes, iv: bytes | None = None) -> DataResult:
        block = 8 if iv is None else len(iv)
        return parse_data(self.call("M2", req_data(key, data, iv)), iv is not None, block)


class AsyncHsmClient:
    """asyncio client: ``await connect()``, then ``call``/``exchange`` with the
    request builders of this module; one command in flight per client."""

    def __init__(self, host: str, port: int, header: bytes = b"0000") -> None:
        self.host, self.port, self.header = host, port, header
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> AsyncHsmClient:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()

    async def exchange(self, code: str, fields: str = "") -> tuple[str, str]:
        if self._reader is None or self._writer is None:
            raise RuntimeError("not connected")
        self._writer.write(frame(self.header, code, fields))
        length = int.from_bytes(await self._reader.readexactly(2), "big")
        return unframe(self.header, code, await self._reader.readexactly(length))

    async def call(self, code: str, fields: str = "") -> str:
        error, out = await self.exchange(code, fields)
        if error != "00":
            raise HsmError(error, code)
        return out
