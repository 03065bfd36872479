"""A small EMV terminal written for the card tests, independently of the
card's code: its own Book 2 RSA recovery and checks (public keys through
the ``cryptography`` package), its own static data assembly, and pyemv for
every cryptogram.  It reads only what a terminal has: the card's responses,
the CAPK list (data/capk_test.json) and, as the issuer, the issuer master
keys (data/issuer_keys.json).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyemv
from cryptography.hazmat.primitives.asymmetric import rsa

from protocols import apdu, tlv

DATA = Path(__file__).resolve().parent.parent / "host_sim" / "cards" / "data"

# Terminal data for the transactions (Jordan: country 0400, JOD 400).
TERMINAL = {
    0x9F02: bytes.fromhex("000000012500"),  # 12.500 JOD
    0x9F03: bytes(6),
    0x9F1A: bytes.fromhex("0400"),
    0x95: bytes(5),
    0x5F2A: bytes.fromhex("0400"),
    0x9A: bytes.fromhex("261122"),
    0x9C: b"\x00",
    0x9F37: bytes.fromhex("1A2B3C4D"),
    0x9F35: b"\x22",
    0x9F34: bytes.fromhex("1F0302"),
    0x9F45: bytes(2),
    0x9F4C: bytes(8),
    0x9F66: bytes.fromhex("36004000"),  # qVSDC, EMV contact, online PIN, signature
}


def load(name: str) -> dict[str, Any]:
    with (DATA / name).open() as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def capk(rid: bytes, index: int) -> rsa.RSAPublicKey:
    for entry in load("capk_test.json")["capks"]:
        if bytes.fromhex(entry["rid"]) == rid and int(entry["index"], 16) == index:
            n, e = int(entry["modulus"], 16), int(entry["exponent"], 16)
            modulus = n.to_bytes((n.bit_length() + 7) // 8, "big")
            checksum = hashlib.sha1(rid + bytes((index,)) + modulus + bytes((e,))).digest()
            assert checksum.hex().upper() == entry["checksum"]
            return rsa.RSAPublicNumbers(e, n).public_key()
    raise AssertionError(f"no CAPK {rid.hex()} {index:02X}")


def public_key(modulus: bytes, exponent: bytes) -> rsa.RSAPublicKey:
    return rsa.RSAPublicNumbers(
        int.from_bytes(exponent, "big"), int.from_bytes(modulus, "big")
    ).public_key()


def recover(key: rsa.RSAPublicKey, signature: bytes) -> bytes:
    """Book 2 step 1: the public key operation; then header and trailer."""
    numbers = key.public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    assert len(signature) == size, "signature length differs from the modulus"
    block = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(size, "big")
    assert block[0] == 0x6A, "recovered data header is not 6A"
    assert block[-1] == 0xBC, "recovered data trailer is not BC"
    return block


def check_hash(block: bytes, extra: bytes) -> None:
    """Book 2: SHA-1 over the recovered data between header and hash, then
    the extra data, equals the hash in the block (hash algorithm 01)."""
    assert block[-21:-1] == hashlib.sha1(block[1:-21] + extra).digest(), "hash mismatch"


class Terminal:
    def __init__(self, card: Any) -> None:
        self.card = card
        self.log: list[tuple[bytes, bytes]] = []
        self.store: dict[int, bytes] = dict(TERMINAL)
        self.records: list[tuple[int, bytes]] = []
        self.pdol_data = b""
        self.cdol1_data = b""
        self.afl = b""
        self.aip = b""

    def send(self, command: bytes | str) -> tuple[bytes, int]:
        raw = bytes.fromhex(command) if isinstance(command, str) else command
        reply = self.card.transmit(raw)
        self.log.append((raw, reply))
        return reply[:-2], int.from_bytes(reply[-2:], "big")

    def ok(self, command: bytes | str) -> bytes:
        data, sw = self.send(command)
        assert sw == 0x9000, f"{sw:04X} for {command!r}"
        return data

    def select_app(self, contactless: bool) -> bytes:
        name = b"2PAY.SYS.DDF01" if contactless else b"1PAY.SYS.DDF01"
        fci = tlv.decode(self.ok(apdu.select_by_name(name)))
        if contactless:
            aid = tlv.find(fci, 0x4F)
            assert aid is not None
            aid_value = aid.value
        else:
            sfi = tlv.find(fci, 0x88)
            assert sfi is not None
            record = tlv.decode(self.ok(apdu.read_record(1, sfi.value[0])))
            entry = tlv.find(record, 0x4F)
            assert entry is not None
            aid_value = entry.value
        data, sw = self.send(apdu.select_by_name(aid_value))
        self.select_sw = sw
        nodes = tlv.decode(data)
        self.store.update(tlv.to_dict(nodes))
        return aid_value

    def gpo(self) -> tuple[bytes, int]:
        pdol = self.store.get(0x9F38, b"")
        self.pdol_data = tlv.build_dol_data(pdol, self.store)
        data, sw = self.send(apdu.get_processing_options(self.pdol_data))
        if sw != 0x9000:
            return data, sw
        nodes = tlv.decode(data)
        if nodes[0].tag == 0x80:
            self.aip, self.afl = nodes[0].value[:2], nodes[0].value[2:]
        else:
            values = tlv.to_dict(nodes)
            self.aip, self.afl = values[0x82], values[0x94]
            self.store.update(values)
        self.store[0x82] = self.aip
        return data, sw

    def read_records(self) -> None:
        afl = self.afl
        assert len(afl) % 4 == 0 and afl
        for pos in range(0, len(afl), 4):
            sfi, first, last, oda = afl[pos] >> 3, afl[pos + 1], afl[pos + 2], afl[pos + 3]
            for number in range(first, last + 1):
                raw = self.ok(apdu.read_record(number, sfi))
                assert raw[0] == 0x70
                if number < first + oda:
                    # Book 3 10.3: SFI 1-10 sign the template's value only.
                    nodes = tlv.decode(raw)
                    self.records.append((sfi, nodes[0].value if sfi <= 10 else raw))
                self.store.update(tlv.to_dict(tlv.decode(raw)))

    def static_data(self) -> bytes:
        data = b"".join(value for _sfi, value in self.records)
        if self.store.get(0x9F4A) == b"\x82":
            data += self.aip
        return data

    # ODA ----------------------------------------------------------------

    def issuer_key(self, aid: bytes) -> rsa.RSAPublicKey:
        ca = capk(aid[:5], self.store[0x8F][0])
        n_ca = (ca.public_numbers().n.bit_length() + 7) // 8
        cert = self.store[0x90]
        block = recover(ca, cert)
        assert block[1] == 0x02
        remainder = self.store.get(0x92, b"")
        exponent = self.store[0x9F32]
        check_hash(block, remainder + exponent)
        issuer_id = block[2:6].hex().upper().rstrip("F")
        pan = self.store[0x5A].hex().upper().rstrip("F")
        assert pan.startswith(issuer_id)
        assert block[11] == 0x01 and block[12] == 0x01
        length = block[13]
        modulus = (block[15 : n_ca - 21] + remainder)[:length]
        assert len(modulus) == length
        return public_key(modulus, exponent)

    def icc_key(self, aid: bytes) -> rsa.RSAPublicKey:
        issuer = self.issuer_key(aid)
        n_i = (issuer.public_numbers().n.bit_length() + 7) // 8
        block = recover(issuer, self.store[0x9F46])
        assert block[1] == 0x04
        remainder = self.store.get(0x9F48, b"")
        exponent = self.store[0x9F47]
        check_hash(block, remainder + exponent + self.static_data())
        assert block[2:12].hex().upper().rstrip("F") == self.store[0x5A].hex().upper().rstrip("F")
        length = block[19]
        modulus = (block[21 : n_i - 21] + remainder)[:length]
        assert len(modulus) == length
        return public_key(modulus, exponent)

    def sda(self, aid: bytes) -> bytes:
        block = recover(self.issuer_key(aid), self.store[0x93])
        assert block[1] == 0x03 and block[2] == 0x01
        check_hash(block, self.static_data())
        return block[3:5]  # data authentication code

    def dynamic_data(self, key: rsa.RSAPublicKey, sdad: bytes, terminal: bytes) -> bytes:
        """Recover signed dynamic application data; the ICC dynamic data."""
        block = recover(key, sdad)
        assert block[1] == 0x05 and block[2] == 0x01
        check_hash(block, terminal)
        return block[4 : 4 + block[3]]

    # Cryptograms (pyemv) --------------------------------------------------

    def cvn(self, issuer: str, cvn: int) -> Any:
        keys = load("issuer_keys.json")["issuers"][issuer]
        classes = {10: pyemv.cvn.VisaCVN10, 18: pyemv.cvn.VisaCVN18, 16: pyemv.cvn.MasterCardCVN16}
        pan = self.store[0x5A].hex().upper().rstrip("F")
        psn = self.store.get(0x5F34, b"\x00").hex()
        return classes[cvn](
            bytes.fromhex(keys["ac"]),
            bytes.fromhex(keys["smi"]),
            bytes.fromhex(keys["smc"]),
            pan,
            psn,
        )

    def expected_ac(
        self, issuer: str, cvn: int, atc: bytes, iad: bytes, data: dict[int, bytes]
    ) -> bytes:
        model = self.cvn(issuer, cvn)
        args = {
            "tag_9f02": data[0x9F02],
            "tag_9f03": data[0x9F03],
            "tag_9f1a": data[0x9F1A],
            "tag_95": data[0x95],
            "tag_5f2a": data[0x5F2A],
            "tag_9a": data[0x9A],
            "tag_9c": data[0x9C],
            "tag_9f37": data[0x9F37],
            "tag_82": self.aip,
            "tag_9f36": atc,
        }
        if cvn == 10:
            result: bytes = model.generate_ac(**args, cvr=iad[3:7])
        elif cvn == 18:
            result = model.generate_ac(**args, tag_9f10=iad)
        else:
            result = model.generate_ac(**args, cvr=iad[2:8])
        return result

    def generate_ac(
        self, p1: int, cdol_tag: int, overrides: dict[int, bytes] | None = None
    ) -> tuple[dict[int, bytes], bytes, int]:
        data_store = dict(self.store)
        data_store.update(overrides or {})
        cdol_data = tlv.build_dol_data(self.store[cdol_tag], data_store)
        if cdol_tag == 0x8C:
            self.cdol1_data = cdol_data
        raw = apdu.Command(0x80, 0xAE, p1, 0x00, cdol_data, le=256).encode()
        data, sw = self.send(raw)
        if sw != 0x9000:
            return {}, cdol_data, sw
        nodes = tlv.decode(data)
        if nodes[0].tag == 0x80:
            value = nodes[0].value
            return (
                {0x9F27: value[:1], 0x9F36: value[1:3], 0x9F26: value[3:11], 0x9F10: value[11:]},
                cdol_data,
                sw,
            )
        result = tlv.to_dict(nodes)
        result[-1] = data  # raw response, for the CDA hash
        return result, cdol_data, sw
