"""The HSM emulator under load: commands per second over TCP with 32
concurrent clients, against the same operations called directly in one
process through psec / pyemv.

Operations (each a set of varied requests, every response checked for
error code 00):

- **CA**: TDES TPK → ZPK, ISO 9564 format 0 → format 0 (64 PIN/PAN pairs).
  Direct: psec (``des.decrypt_tdes_ecb``, ``pinblock.decode/encode_pinblock_iso_0``,
  ``des.encrypt_tdes_ecb``).
- **CI (AES DUKPT)**: AES-128 BDK, ISO format 4 PIN block from a terminal
  (256 consecutive KSNs of one device) → TDES ZPK, format 0.  Direct: the
  PIN key by ``hsm_sim.crypto.dukpt_aes`` (psec and pyemv have no DUKPT),
  then psec (``decipher_pinblock_iso_4``, ISO 0 encode, TDES).
- **KQ**: CVN 18 ARQC verification and ARPC method 2 (64 ATCs).  Direct:
  pyemv (``kd.derive_icc_mk_a``, ``kd.derive_common_sk``, ``ac.generate_ac``,
  ``ac.generate_arpc_2``).
- **M6**: AES-CMAC over 256 bytes (hex input), 8-byte MAC.  Direct:
  ``cryptography``'s CMAC (psec has none).

The server runs in its own process(es) (``hsm_sim.service``: ``--workers``
processes sharing the port, test LMK, a real SQLite file with the batched
audit log); the load generator runs in another: one
asyncio process holding ``--clients`` connections, each sending its next
request when the previous answer arrives (closed loop, one command in flight
per connection).  Both share this machine's cores.  Figures: the best of
``--repeat`` windows of ``--seconds`` each after a warm-up.  The overhead
ratio is direct ops/s ÷ HSM commands/s.

Usage: ``python -m benchmarks.bench_hsm [--clients 32] [--workers 1]
[--seconds 3] [--repeat 3] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hsm_sim.client import frame, req_ci, req_kq, req_mac, req_translate
from hsm_sim.crypto import dukpt_aes, keys
from hsm_sim.crypto.aes import AesBlock
from hsm_sim.testkeys import block_under_test_lmk
from protocols.crypto import aes_dukpt

warnings.filterwarnings("ignore", message=".*TripleDES.*")

import psec.des  # noqa: E402  (after the TripleDES warning filter)
import psec.pinblock  # noqa: E402
import pyemv.ac  # noqa: E402
import pyemv.kd  # noqa: E402
from cryptography.hazmat.primitives.ciphers import algorithms  # noqa: E402
from cryptography.hazmat.primitives.cmac import CMAC  # noqa: E402

HEADER = b"0000"
TPK = keys.adjust_parity(bytes.fromhex("0123456789ABCDEF1032547698BADCFE"))
ZPK = keys.adjust_parity(bytes.fromhex("89ABCDEF0123456776543210FEDCBA98"))
BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
IKID = bytes.fromhex("1234567890123456")
IMK = bytes.fromhex("1329387CDC20FD16A4E6B5ABBAC7ADDC")  # payterm-test-visa AC key
MAC_KEY = bytes(range(0x20, 0x30))
CVN18_DATA = bytes.fromhex("000000001000000000000000084000000000000840231122003C0D2E1F5800")


@dataclass
class Workload:
    name: str
    code: str
    frames: list[bytes]
    direct: Callable[[int], object]


def _pans(n: int) -> list[str]:
    return [f"4{(7000000000 + 7919 * i) % 10**14:014d}{i % 10}" for i in range(n)]


def workloads() -> list[Workload]:
    pans = _pans(64)
    pins = [f"{(1234 + 97 * i) % 10 ** (4 + i % 3):0{4 + i % 3}d}" for i in range(64)]
    acct = [p[:-1][-12:] for p in pans]
    tpk_s, zpk_s = block_under_test_lmk("P0", TPK), block_under_test_lmk("P0", ZPK)
    iso0 = [
        psec.des.encrypt_tdes_ecb(TPK, psec.pinblock.encode_pinblock_iso_0(pin, pan))
        for pin, pan in zip(pins, pans, strict=True)
    ]
    ca_frames = [
        frame(HEADER, "CA", req_translate(tpk_s, zpk_s, iso0[i], 0, 0, acct[i])) for i in range(64)
    ]

    def ca_direct(i: int) -> object:
        j = i % 64
        pin = psec.pinblock.decode_pinblock_iso_0(psec.des.decrypt_tdes_ecb(TPK, iso0[j]), pans[j])
        return psec.des.encrypt_tdes_ecb(ZPK, psec.pinblock.encode_pinblock_iso_0(pin, pans[j]))

    # AES DUKPT: a terminal's 256 consecutive transactions
    ik = aes_dukpt.initial_key(AesBlock, BDK, IKID)
    terminal = aes_dukpt.Originator(AesBlock, ik, IKID)
    ksns, iso4 = [], []
    for i in range(256):
        pin_key = terminal.working_key(aes_dukpt.USAGE_PIN_ENCRYPTION)
        ksns.append(terminal.ksn())
        iso4.append(psec.pinblock.encipher_pinblock_iso_4(pin_key, pins[i % 64], pans[i % 64]))
        terminal.advance()
    bdk_s = block_under_test_lmk("B0", BDK, "A", "X")
    ci_frames = [
        frame(HEADER, "CI", req_ci(bdk_s, zpk_s, ksns[i], iso4[i], 0, pans[i % 64]))
        for i in range(256)
    ]

    def ci_direct(i: int) -> object:
        j = i % 256
        pin_key = dukpt_aes.working_key(BDK, ksns[j], aes_dukpt.USAGE_PIN_ENCRYPTION)
        pin = psec.pinblock.decipher_pinblock_iso_4(pin_key, iso4[j], pans[j % 64])
        block = psec.pinblock.encode_pinblock_iso_0(pin, pans[j % 64])
        return psec.des.encrypt_tdes_ecb(ZPK, block)

    # EMV CVN 18: ARQC verify + ARPC method 2
    imk_s = block_under_test_lmk("E0", IMK, mode="X")
    csu = bytes.fromhex("00820000")
    un = bytes.fromhex("1A2B3C4D")
    kq_inputs = []
    for i in range(64):
        atc = (i + 1).to_bytes(2, "big")
        data = CVN18_DATA + atc + bytes.fromhex("06011203A00000")
        icc_mk = pyemv.kd.derive_icc_mk_a(IMK, pans[i], "00")
        sk = pyemv.kd.derive_common_sk(icc_mk, atc + bytes(6))
        arqc = pyemv.ac.generate_ac(sk, data, pyemv.ac.PaddingType.EMV)
        kq_inputs.append((pans[i], atc, data, arqc))
    kq_frames = [
        frame(HEADER, "KQ", req_kq(1, 18, imk_s, pan, "00", atc, un, data, arqc, csu=csu))
        for pan, atc, data, arqc in kq_inputs
    ]

    def kq_direct(i: int) -> object:
        pan, atc, data, arqc = kq_inputs[i % 64]
        icc_mk = pyemv.kd.derive_icc_mk_a(IMK, pan, "00")
        sk = pyemv.kd.derive_common_sk(icc_mk, atc + bytes(6))
        if pyemv.ac.generate_ac(sk, data, pyemv.ac.PaddingType.EMV) != arqc:
            raise AssertionError("ARQC")
        return pyemv.ac.generate_arpc_2(sk, arqc, csu)

    # MAC: AES-CMAC over 256 bytes
    mac_s = block_under_test_lmk("M6", MAC_KEY, "A", "C")
    messages = [bytes((i + j) & 0xFF for j in range(256)) for i in range(64)]
    m6_frames = [frame(HEADER, "M6", req_mac(mac_s, m, "cmac", 8)) for m in messages]

    def m6_direct(i: int) -> object:
        c = CMAC(algorithms.AES(MAC_KEY))
        c.update(messages[i % 64])
        return c.finalize()[:8]

    return [
        Workload("CA", "CA", ca_frames, ca_direct),
        Workload("CI (AES DUKPT)", "CI", ci_frames, ci_direct),
        Workload("KQ", "KQ", kq_frames, kq_direct),
        Workload("M6", "M6", m6_frames, m6_direct),
    ]


# -- the server process ---------------------------------------------------------------


def _serve(db: str, workers: int, ready: Any) -> None:
    from hsm_sim import service
    from hsm_sim.keystore import Keystore
    from hsm_sim.lmk import load

    store = Keystore(db)
    lmk = load(store, None)
    store.close()
    service.run(lmk, db, "127.0.0.1", 0, workers, ready=lambda _h, port: ready.send(port))


# -- the load generator ------------------------------------------------------------------


class _Client(asyncio.Protocol):
    def __init__(self, frames: list[bytes], start: int, state: dict[str, Any]) -> None:
        self.frames = frames
        self.next = start
        self.state = state
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.ok = HEADER + state["ok"]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.transport.write(self.frames[self.next % len(self.frames)])
        self.next += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 2:
            length = int.from_bytes(self.buffer[:2], "big")
            if len(self.buffer) < 2 + length:
                return
            reply = bytes(self.buffer[2 : 2 + length])
            del self.buffer[: 2 + length]
            if not reply.startswith(self.ok):
                self.state["errors"] += 1
            self.state["count"] += 1
            if not self.state["stop"]:
                self._send()


async def _load(
    port: int, work: Workload, clients: int, seconds: float, repeat: int
) -> tuple[float, int]:
    loop = asyncio.get_running_loop()
    ok = (work.code[0] + chr(ord(work.code[1]) + 1) + "00").encode()
    state: dict[str, Any] = {"count": 0, "errors": 0, "stop": False, "ok": ok}
    transports = []
    for i in range(clients):
        transport, _ = await loop.create_connection(
            functools.partial(_Client, work.frames, i * 7, state), "127.0.0.1", port
        )
        transports.append(transport)
    await asyncio.sleep(min(0.5, seconds))  # warm-up
    best = 0.0
    for _ in range(repeat):
        start_count, start = state["count"], time.perf_counter()
        await asyncio.sleep(seconds)
        rate = (state["count"] - start_count) / (time.perf_counter() - start)
        best = max(best, rate)
    state["stop"] = True
    await asyncio.sleep(0.05)
    for transport in transports:
        transport.close()
    return best, int(state["errors"])


def _direct(work: Workload, seconds: float, repeat: int) -> float:
    best = 0.0
    for i in range(200):
        work.direct(i)
    for _ in range(repeat):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(100):
                work.direct(count)
                count += 1
        best = max(best, count / (time.perf_counter() - start))
    return best


def run(
    clients: int, seconds: float, repeat: int, workers: int = 1, port: int | None = None
) -> list[dict[str, Any]]:
    """Measure every workload; against ``port`` when given, else a server
    process started (and stopped) here."""
    works = workloads()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        proc = None
        if port is None:
            ctx = multiprocessing.get_context("spawn")
            receiver, sender = ctx.Pipe(duplex=False)
            db = str(Path(tmp) / "bench.db")
            proc = ctx.Process(target=_serve, args=(db, workers, sender))
            proc.start()
            port = int(receiver.recv())
        try:
            for work in works:
                rate, errors = asyncio.run(_load(port, work, clients, seconds, repeat))
                direct = _direct(work, seconds, repeat)
                results.append(
                    {
                        "command": work.name,
                        "hsm_per_s": round(rate),
                        "errors": errors,
                        "direct_per_s": round(direct),
                        "overhead": round(direct / rate, 2) if rate else None,
                    }
                )
        finally:
            if proc is not None:
                proc.terminate()
                proc.join(10)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="HSM server processes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.clients, args.seconds, args.repeat, args.workers)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(
            f"{args.clients} clients, {args.workers} HSM worker(s), "
            f"CPython {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        print("| command | HSM commands/s | errors | direct ops/s | direct ÷ HSM |")
        print("|---|---:|---:|---:|---:|")
        for r in results:
            print(
                f"| {r['command']} | {r['hsm_per_s']:,} | {r['errors']} | "
                f"{r['direct_per_s']:,} | {r['overhead']}× |".replace(",", " ")
            )
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
