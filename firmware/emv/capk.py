"""Certification Authority Public Keys (Book 2 §5.1, §11.2): lookup by RID and
index, the SHA-1 check sum verified when a key is loaded, expiry and the
certificate revocation list (RID, index, serial number)."""

import hashlib


class CapkError(Exception):
    pass


class Capk:
    def __init__(
        self, rid: bytes, index: int, modulus: bytes, exponent: bytes, expiry: bytes
    ) -> None:
        self.rid = rid
        self.index = index
        self.modulus = modulus
        self.exponent = exponent
        self.expiry = expiry  # YYMMDD, binary-coded decimal

    @property
    def n(self) -> int:
        return int.from_bytes(self.modulus, "big")

    @property
    def e(self) -> int:
        return int.from_bytes(self.exponent, "big")


def checksum(rid: bytes, index: int, modulus: bytes, exponent: bytes) -> bytes:
    """Book 2 §11.2.2: SHA-1 of RID ‖ index ‖ modulus ‖ exponent."""
    return hashlib.sha1(rid + bytes((index,)) + modulus + exponent).digest()


class CapkStore:
    def __init__(self) -> None:
        self.keys: "dict[tuple[bytes, int], Capk]" = {}
        self.revoked: "list[tuple[bytes, int, bytes]]" = []

    def add(
        self, rid: bytes, index: int, modulus: bytes, exponent: bytes, expiry: bytes, check: bytes
    ) -> None:
        """Load one key; a wrong check sum refuses it (a corrupt key never loads)."""
        if checksum(rid, index, modulus, exponent) != check:
            raise CapkError("CAPK %s %02X: check sum mismatch" % (rid.hex(), index))
        self.keys[(bytes(rid), index)] = Capk(bytes(rid), index, modulus, exponent, expiry)

    def revoke(self, rid: bytes, index: int, serial: bytes) -> None:
        self.revoked.append((bytes(rid), index, bytes(serial)))

    def is_revoked(self, rid: bytes, index: int, serial: bytes) -> bool:
        return (bytes(rid), index, bytes(serial)) in self.revoked

    def find(self, rid: bytes, index: int, today: "bytes | None" = None) -> "Capk | None":
        """The key, or None if unknown or expired on ``today`` (YYMMDD)."""
        key = self.keys.get((bytes(rid), index))
        if key is None:
            return None
        if today is not None and _date_key(key.expiry) < _date_key(today):
            return None
        return key

    def __len__(self) -> int:
        return len(self.keys)


def _date_key(yymmdd: bytes) -> int:
    """YYMMDD (BCD) as a comparable integer; YY < 50 is 20YY (Book 3 §10.4.3)."""
    yy = (yymmdd[0] >> 4) * 10 + (yymmdd[0] & 15)
    year = 2000 + yy if yy < 50 else 1900 + yy
    return year * 10000 + int("%02X%02X" % (yymmdd[1], yymmdd[2]))


def from_table(rows: "list[tuple[str, str, str, str, str, str]]") -> CapkStore:
    """A store from (rid, index, modulus, exponent, expiry, checksum) hex rows."""
    store = CapkStore()
    for rid, index, modulus, exponent, expiry, check in rows:
        store.add(
            bytes.fromhex(rid),
            int(index, 16),
            bytes.fromhex(modulus),
            bytes.fromhex(exponent),
            bytes.fromhex(expiry),
            bytes.fromhex(check),
        )
    return store
