"""Simulated terminals and cards for the load tool and the tests: they build
the requests a payterm terminal sends (docs/iso8583.md), MAC them (AES-CMAC
under the AES DUKPT MAC generation key of a fresh KSN named in field 53 —
scheme ``dukpt``, the seeded terminals' — or under the terminal's static MAC
key — scheme ``static``), encipher online PINs under AES DUKPT (ISO 9564
format 4) and compute ARQCs the way a CVN 18 card does.

Like a real terminal, a ``SimTerminal`` holds its own clear keys (MAC key,
DUKPT registers); the host it talks to holds only key blocks.  All keys are
the TEST keys of ``seed_data.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC

from host_sim.acquirer import seed
from hsm_sim.crypto import dukpt_aes, emv_ac, emv_kd, pinblock
from hsm_sim.crypto.aes import AesBlock
from protocols import iso8583, tlv
from protocols.crypto import aes_dukpt
from protocols.iso8583_specs import PAYTERM_1987

MAC_LEN = 8
MAC_KEYS_KEPT = 4096  # DUKPT MAC keys of recent KSNs, for checking answers
CURRENCY = "400"  # JOD
COUNTRY = bytes.fromhex("0400")
TTYPE = {"00": b"\x00", "01": b"\x01", "20": b"\x20", "31": b"\x31"}


def transmission_time(now: float | None = None) -> str:
    return time.strftime("%m%d%H%M%S", time.gmtime(time.time() if now is None else now))


@dataclass
class SimCard:
    """A CVN 18 (Visa-like) card: ICC MK for AC derived from the TEST issuer key."""

    pan: str
    psn: str
    expiry: str
    cvn: int = 18
    atc: int = 0
    ac_key: bytes = b""

    @classmethod
    def load_card(cls, index: int) -> SimCard:
        spec = seed.seed_data()["load_cards"]
        pan = seed.load_card_pan(index)
        key = seed.icc_ac_key(spec["issuer"], pan, spec["psn"], spec["cvn"])
        return cls(pan, spec["psn"], spec["expiry"], spec["cvn"], 0, key)

    def arqc_field55(self, amount: int, pcode: str, un: bytes, day: bytes) -> str:
        """Field 55 with a fresh ARQC over the usual CVN 18 data."""
        self.atc += 1
        atc = self.atc.to_bytes(2, "big")
        iad = bytes.fromhex("06011203A00000")  # 06 DKI CVN(0x12) 03 CVR: ARQC in 1st GEN AC
        objects = [
            (0x9F02, bytes.fromhex(f"{amount:012d}")),
            (0x9F03, bytes(6)),
            (0x9F1A, COUNTRY),
            (0x95, bytes(5)),
            (0x5F2A, COUNTRY),
            (0x9A, day),
            (0x9C, TTYPE.get(pcode, b"\x00")),
            (0x9F37, un),
            (0x82, bytes.fromhex("3900")),
            (0x9F36, atc),
        ]
        data = b"".join(v for _t, v in objects) + iad
        key = emv_kd.ac_session_key(self.ac_key, atc)
        arqc = emv_ac.generate_ac(key, data, emv_ac.profile(self.cvn)["padding"])
        nodes = [tlv.TLV(t, v) for t, v in objects]
        nodes += [tlv.TLV(0x9F10, iad), tlv.TLV(0x9F26, arqc), tlv.TLV(0x9F27, b"\x80")]
        return tlv.encode(nodes).hex().upper()


@dataclass
class SimTerminal:
    index: int
    mid: str = field(default_factory=lambda: str(seed.seed_data()["merchant"]["mid"]))
    stan: int = 0
    batch: str = "000001"
    mac: bool = True
    mac_scheme: str = "dukpt"

    def __post_init__(self) -> None:
        self.tid = seed.tid_of(self.index)
        self.mac_key = seed.terminal_mac_key(self.tid)
        ikid = seed.dukpt_ikid(self.index)
        self._ik = dukpt_aes.initial_key(seed.test_bdk(), ikid)
        self.dukpt = dukpt_aes.originator(self._ik, ikid)
        self.last_ksn: bytes | None = None  # the KSN of the last DUKPT-MACed request
        self._mac_keys: dict[bytes, bytes] = {}

    def _take_ksn(self) -> bytes:
        """The current KSN, its MAC key kept for the answer; then the next."""
        ksn = self.dukpt.ksn()
        self._mac_keys[ksn] = self.dukpt.working_key(aes_dukpt.USAGE_MAC_GENERATION)
        if len(self._mac_keys) > MAC_KEYS_KEPT:
            del self._mac_keys[next(iter(self._mac_keys))]
        return ksn

    def dukpt_mac_key(self, ksn: bytes) -> bytes:
        """The MAC generation key of a KSN this terminal used (a simulator
        keeps its initial key, so any KSN can be derived again)."""
        key = self._mac_keys.get(ksn)
        if key is None:
            key = aes_dukpt.working_key(AesBlock, self._ik, ksn, aes_dukpt.USAGE_MAC_GENERATION)
        return key

    def next_stan(self) -> str:
        self.stan = self.stan % 999_999 + 1
        return f"{self.stan:06d}"

    def base(self, mti: str, pcode: str, now: float | None = None) -> dict[str, str]:
        t = time.time() if now is None else now
        return {
            "t": mti,
            "3": pcode + "0000",
            "7": transmission_time(t),
            "11": self.next_stan(),
            "12": time.strftime("%H%M%S", time.localtime(t)),
            "13": time.strftime("%m%d", time.localtime(t)),
            "22": "051",
            "24": "003",
            "25": "00",
            "41": self.tid,
            "42": self.mid,
            "49": CURRENCY,
        }

    def financial(
        self,
        mti: str,
        pcode: str,
        amount: int,
        card: SimCard,
        pin: str | None = None,
        with_arqc: bool = True,
        now: float | None = None,
    ) -> dict[str, str]:
        msg = self.base(mti, pcode, now)
        msg["2"] = card.pan
        msg["14"] = card.expiry
        msg["23"] = "0" + card.psn
        if pcode != "31":
            msg["4"] = f"{amount:012d}"
        if mti in ("0200", "0220") and pcode != "31":
            msg["60"] = self.batch
        if with_arqc:
            un = time.time_ns().to_bytes(8, "big")[-4:]
            day = bytes.fromhex(time.strftime("%y%m%d", time.gmtime(now or time.time())))
            msg["55"] = card.arqc_field55(amount, pcode, un, day)
        if pin is not None:
            key = self.dukpt.working_key(aes_dukpt.USAGE_PIN_ENCRYPTION)
            msg["52"] = pinblock.encipher(4, key, pin, card.pan).hex().upper()
            msg["53"] = ("0402" + self._take_ksn().hex()).upper()
            self.dukpt.advance()
        return msg

    def reversal(self, original: dict[str, str], advice: bool = True) -> dict[str, str]:
        msg = self.base("0420" if advice else "0400", original["3"][:2])
        for number in ("2", "4", "22", "23", "49", "60"):
            if number in original:
                msg[number] = original[number]
        msg.setdefault("4", "0" * 12)
        msg["90"] = original["t"] + original["11"] + original["7"] + "0" * 22
        msg["39"] = "68"  # reason: response received too late
        return msg

    def completion(self, original: dict[str, str], amount: int, auth_code: str) -> dict[str, str]:
        """0220 completing the pre-authorisation ``original`` (an 0100) for
        ``amount``: field 90 names it, 38 its approval code (completion.py)."""
        msg = self.base("0220", "00")
        for number in ("2", "14", "22", "23", "49"):
            if number in original:
                msg[number] = original[number]
        msg["4"] = f"{amount:012d}"
        msg["38"] = auth_code
        msg["60"] = self.batch
        msg["90"] = original["t"] + original["11"] + original["7"] + "0" * 22
        return msg

    def settlement(self, totals: str) -> dict[str, str]:
        msg = self.base("0500", "92")
        for number in ("12", "13", "22", "25", "49"):
            del msg[number]
        msg["60"] = self.batch
        msg["63"] = totals
        return msg

    def echo(self) -> dict[str, str]:
        return {
            "t": "0800",
            "7": transmission_time(),
            "11": self.next_stan(),
            "24": "003",
            "41": self.tid,
            "70": "301",
        }

    def cmac(self, data: bytes, key: bytes | None = None) -> bytes:
        """AES-CMAC, leftmost 8 bytes, under ``key`` or the static MAC key
        (OpenSSL through ``cryptography``: the simulated terminals must stay
        cheaper than the host they load)."""
        mac = CMAC(algorithms.AES(self.mac_key if key is None else key))
        mac.update(data)
        return mac.finalize()[:MAC_LEN]

    def encode(self, msg: dict[str, str]) -> bytes:
        """Encode and MAC unless it is an 0800.  Scheme ``dukpt``: under the
        MAC generation key of the KSN in field 53 — the PIN's, or a fresh
        one written there as ``FF 02`` + KSN (``last_ksn``); ``static``:
        under the terminal's MAC key."""
        if not self.mac or msg["t"].startswith("08"):
            return iso8583.encode(msg, PAYTERM_1987)
        doc = dict(msg)
        key = None
        if self.mac_scheme == "dukpt":
            if "53" in doc:
                ksn = bytes.fromhex(doc["53"])[2:]
            else:
                ksn = self._take_ksn()
                self.dukpt.advance()
                doc["53"] = "FF02" + ksn.hex().upper()
            self.last_ksn = ksn
            key = self.dukpt_mac_key(ksn)
        mac_field = "128" if any(k.isdigit() and int(k) > 64 for k in doc) else "64"
        doc[mac_field] = "00" * MAC_LEN
        wire = iso8583.encode(doc, PAYTERM_1987)
        return wire[:-MAC_LEN] + self.cmac(wire[:-MAC_LEN], key)

    def mac_ok(self, wire: bytes, ksn: bytes | None = None) -> bool:
        """Whether an answer's MAC verifies: under the DUKPT scheme, with the
        key of ``ksn`` (default: the last request's)."""
        key = None
        if self.mac_scheme == "dukpt":
            ksn = ksn or self.last_ksn
            if ksn is None:
                return False
            key = self.dukpt_mac_key(ksn)
        return hmac.compare_digest(self.cmac(wire[:-MAC_LEN], key), wire[-MAC_LEN:])


class Link:
    """One terminal's TCP connection to the host."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Link:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send_raw(self, wire: bytes, timeout: float = 10.0) -> bytes:
        self.writer.write(iso8583.frame(wire))
        return await asyncio.wait_for(self._read_frame(), timeout)

    async def _read_frame(self) -> bytes:
        header = await self.reader.readexactly(2)
        return await self.reader.readexactly(int.from_bytes(header, "big"))

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class FastLink(asyncio.Protocol):
    """A terminal connection for the load tool: one request in flight, the
    answer delivered to a future by ``data_received`` (no stream objects,
    no task per read), a timer per request for the timeout."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None

    @classmethod
    async def open(cls, host: str, port: int) -> FastLink:
        loop = asyncio.get_running_loop()
        _transport, link = await loop.create_connection(cls, host, port)
        return link

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) < 2:
            return
        end = 2 + ((self.buffer[0] << 8) | self.buffer[1])
        if len(self.buffer) < end:
            return
        message = bytes(self.buffer[2:end])
        del self.buffer[:end]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(message)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("host closed the connection"))

    async def send_raw(self, wire: bytes, timeout: float = 10.0) -> bytes:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("not connected")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bytes] = loop.create_future()
        self.waiter = waiter
        timer = loop.call_later(timeout, _expire, waiter)
        self.transport.write(iso8583.frame(wire))
        try:
            return await waiter
        finally:
            timer.cancel()

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future[bytes]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("no answer from the host"))
