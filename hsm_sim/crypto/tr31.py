"""TR-31 / ANSI X9.143 key blocks, versions B (TDES) and D (AES).

Both versions use the key derivation binding method: from the key block
protection key (KBPK) derive an encryption key (KBEK) and a MAC key (KBMK)
with CMAC over 8-byte derivation data (counter, usage 0000/0001, separator,
algorithm, length in bits); MAC = CMAC(KBMK, header || clear key data);
key data (2-byte bit length, key, padding) is encrypted in CBC mode under
KBEK with the MAC as IV.  The block is header || hex(ciphertext) || hex(MAC)
(MAC 8 bytes for B, 16 for D).

Headers are parsed and built with their optional blocks (ordered; a "PB"
padding block is added on build when the optional blocks do not fill whole
cipher blocks).  Values are checked against the TR-31/X9.143 tables: key
usage, algorithm, mode of use (and which modes a usage allows), key version,
exportability.  Errors are typed: ``HeaderError`` (malformed or disallowed
header), ``AuthenticationError`` (MAC mismatch: wrong KBPK or tampering),
``KeyBlockError`` (their base; also malformed key data), ``UsageError``
(a well-formed key used for something its header forbids).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hsm_sim.crypto import aes, des
from protocols.crypto import aes_cmac

# --- the tables (data, not code) -------------------------------------------

# key usage -> modes of use allowed besides "N" (no special restrictions)
KEY_USAGES: dict[str, tuple[str, str]] = {
    "B0": ("BDK base derivation key", "X"),
    "B1": ("initial DUKPT key", "X"),
    "B2": ("base key variant key", "X"),
    "C0": ("card verification key", "CGV"),
    "D0": ("symmetric data encryption key", "BDE"),
    "D1": ("asymmetric data encryption key", "BDE"),
    "D2": ("data encryption key for decimalization table", "BDE"),
    "E0": ("EMV/chip issuer master key: application cryptograms", "X"),
    "E1": ("EMV/chip issuer master key: secure messaging confidentiality", "X"),
    "E2": ("EMV/chip issuer master key: secure messaging integrity", "X"),
    "E3": ("EMV/chip issuer master key: data authentication code", "X"),
    "E4": ("EMV/chip issuer master key: dynamic numbers", "X"),
    "E5": ("EMV/chip issuer master key: card personalization", "X"),
    "E6": ("EMV/chip issuer master key: other", "X"),
    "I0": ("initialization value", "N"),
    "K0": ("key encryption or wrapping", "BDE"),
    "K1": ("TR-31 key block protection key", "BDE"),
    "K2": ("TR-34 asymmetric key", "BDE"),
    "K3": ("asymmetric key for key agreement/wrapping", "BDEX"),
    "M0": ("ISO 16609 MAC algorithm 1 (TDEA)", "CGV"),
    "M1": ("ISO 9797-1 MAC algorithm 1", "CGV"),
    "M2": ("ISO 9797-1 MAC algorithm 2", "CGV"),
    "M3": ("ISO 9797-1 MAC algorithm 3", "CGV"),
    "M4": ("ISO 9797-1 MAC algorithm 4", "CGV"),
    "M5": ("ISO 9797-1:1999 MAC algorithm 5", "CGV"),
    "M6": ("ISO 9797-1:2011 MAC algorithm 5/CMAC", "CGV"),
    "M7": ("HMAC", "CGV"),
    "M8": ("ISO 9797-1:2011 MAC algorithm 6", "CGV"),
    "P0": ("PIN encryption", "BDE"),
    "S0": ("asymmetric key pair for digital signature", "SV"),
    "S1": ("asymmetric key pair, CA key", "SV"),
    "S2": ("asymmetric key pair, non-X9.24 key", "SVTBDE"),
    "V0": ("PIN verification, KPV, other algorithm", "CGV"),
    "V1": ("PIN verification, IBM 3624", "CGV"),
    "V2": ("PIN verification, VISA PVV", "CGV"),
    "V3": ("PIN verification, X9.132 algorithm 1", "CGV"),
    "V4": ("PIN verification, X9.132 algorithm 2", "CGV"),
}
ALGORITHMS: dict[str, str] = {
    "A": "AES",
    "D": "DEA",
    "E": "elliptic curve",
    "H": "HMAC",
    "R": "RSA",
    "S": "DSA",
    "T": "TDEA",
}
MODES_OF_USE: dict[str, str] = {
    "B": "encrypt/wrap and decrypt/unwrap",
    "C": "MAC calculate (generate and verify)",
    "D": "decrypt/unwrap only",
    "E": "encrypt/wrap only",
    "G": "MAC generate only",
    "N": "no special restrictions",
    "S": "signature only",
    "T": "sign and decrypt",
    "V": "verify only",
    "X": "key derivation",
    "Y": "create key variants",
}
EXPORTABILITY: dict[str, str] = {
    "E": "exportable under a KEK meeting X9.24",
    "N": "non-exportable",
    "S": "sensitive: exportable under an untrusted KEK",
}
# version -> (cipher block size, MAC length in bytes, KBPK lengths)
VERSIONS: dict[str, tuple[int, int, tuple[int, ...]]] = {
    "B": (8, 8, (16, 24)),
    "D": (16, 16, (16, 24, 32)),
}
KEY_LENGTHS: dict[str, tuple[int, ...]] = {"T": (8, 16, 24), "D": (8,), "A": (16, 24, 32)}
HEADER_LEN = 16
MAX_BLOCK_LEN = 9999


class KeyBlockError(ValueError):
    """A key block cannot be wrapped or unwrapped."""


class HeaderError(KeyBlockError):
    """The header is malformed or carries values TR-31 does not allow."""


class AuthenticationError(KeyBlockError):
    """The key block MAC does not verify (wrong KBPK or altered block)."""


class UsageError(KeyBlockError):
    """The key's header forbids the requested use or export."""


def _printable(text: str) -> bool:
    return all(0x20 <= ord(c) <= 0x7E for c in text)


def _alnum(text: str) -> bool:
    return all(c.isascii() and c.isalnum() for c in text)


@dataclass
class Header:
    version: str = "D"
    key_usage: str = "P0"
    algorithm: str = "A"
    mode_of_use: str = "E"
    key_version: str = "00"
    exportability: str = "N"
    blocks: list[tuple[str, str]] = field(default_factory=list)
    reserved: str = "00"

    def block(self, block_id: str) -> str | None:
        for bid, data in self.blocks:
            if bid == block_id:
                return data
        return None

    def validate(self) -> None:
        """Raise HeaderError unless every field holds a TR-31 value."""
        if self.version not in VERSIONS:
            raise HeaderError(f"key block version {self.version!r} not supported (B or D)")
        usage = self.key_usage
        if len(usage) != 2 or not _alnum(usage):
            raise HeaderError(f"key usage {usage!r} is not two alphanumerics")
        numeric = usage.isdigit()  # 00-99: proprietary, not checked
        if not numeric and usage not in KEY_USAGES:
            raise HeaderError(f"unknown key usage {usage!r}")
        if self.algorithm not in ALGORITHMS and not self.algorithm.isdigit():
            raise HeaderError(f"unknown algorithm {self.algorithm!r}")
        if len(self.algorithm) != 1:
            raise HeaderError(f"algorithm {self.algorithm!r} is not one character")
        mode = self.mode_of_use
        if len(mode) != 1 or (mode not in MODES_OF_USE and not mode.isdigit()):
            raise HeaderError(f"unknown mode of use {mode!r}")
        if not numeric and mode != "N" and mode in MODES_OF_USE:
            allowed = KEY_USAGES[usage][1]
            if mode not in allowed:
                raise HeaderError(
                    f"mode of use {mode!r} not allowed for key usage {usage!r} "
                    f"(allowed: {', '.join(allowed)} or N)"
                )
        if len(self.key_version) != 2 or not _alnum(self.key_version):
            raise HeaderError(f"key version number {self.key_version!r} is not two alphanumerics")
        if len(self.exportability) != 1 or (
            self.exportability not in EXPORTABILITY and not self.exportability.isdigit()
        ):
            raise HeaderError(f"unknown exportability {self.exportability!r}")
        if len(self.reserved) != 2 or not _alnum(self.reserved):
            raise HeaderError(f"reserved field {self.reserved!r} is not two alphanumerics")
        for bid, data in self.blocks:
            if len(bid) != 2 or not _alnum(bid):
                raise HeaderError(f"optional block ID {bid!r} is not two alphanumerics")
            if not _printable(data):
                raise HeaderError(f"optional block {bid} holds non-printable characters")

    def encode(self, total_length: int = 0) -> str:
        """The header text, its length field set to ``total_length``.

        Adds a PB block when the optional blocks do not fill whole cipher
        blocks (the PB block is rebuilt each time)."""
        self.validate()
        size = VERSIONS[self.version][0]
        parts = []
        count = 0
        for bid, data in self.blocks:
            if bid == "PB":
                continue
            parts.append(_encode_block(bid, data))
            count += 1
        opt = "".join(parts)
        if opt and len(opt) % size:
            fill = -(len(opt) + 4) % size
            opt += _encode_block("PB", "0" * fill)
            count += 1
        if count > 99:
            raise HeaderError("more than 99 optional blocks")
        if total_length > MAX_BLOCK_LEN:
            raise HeaderError(f"key block length {total_length} exceeds {MAX_BLOCK_LEN}")
        return (
            f"{self.version}{total_length:04d}{self.key_usage}{self.algorithm}"
            f"{self.mode_of_use}{self.key_version}{self.exportability}{count:02d}"
            f"{self.reserved}{opt}"
        )

    def __str__(self) -> str:
        return self.encode()


def _encode_block(bid: str, data: str) -> str:
    total = 4 + len(data)
    if total <= 0xFF:
        return f"{bid}{total:02X}{data}"
    # Extended length: "00", then the length of the length in bytes (2 hex
    # digits, here 02), then the length (4 hex digits).
    total = 2 + 2 + 2 + 4 + len(data)
    if total > 0xFFFF:
        raise HeaderError(f"optional block {bid} is too long")
    return f"{bid}0002{total:04X}{data}"


def _hex_int(text: str, what: str, offset: int) -> int:
    if not text or any(c not in "0123456789ABCDEFabcdef" for c in text):
        raise HeaderError(f"{what} {text!r} at offset {offset} is not hex")
    return int(text, 16)


def parse_header(text: str) -> tuple[Header, int]:
    """Parse the header at the start of ``text`` (a header or a whole block).

    Returns the header and the header's length in characters.  Reads the
    key block length field without checking it (``unwrap`` does)."""
    if len(text) < HEADER_LEN:
        raise HeaderError(f"key block header needs {HEADER_LEN} characters, got {len(text)}")
    if not _printable(text):
        raise HeaderError("key block holds non-printable characters")
    count_text = text[12:14]
    if not count_text.isdigit():
        raise HeaderError(f"number of optional blocks {count_text!r} is not two digits")
    if not text[1:5].isdigit():
        raise HeaderError(f"key block length {text[1:5]!r} is not four digits")
    header = Header(
        version=text[0],
        key_usage=text[5:7],
        algorithm=text[7],
        mode_of_use=text[8],
        key_version=text[9:11],
        exportability=text[11],
        reserved=text[14:16],
    )
    pos = HEADER_LEN
    for _ in range(int(count_text)):
        if pos + 4 > len(text):
            raise HeaderError(f"optional block at offset {pos} runs past the end")
        bid = text[pos : pos + 2]
        length = _hex_int(text[pos + 2 : pos + 4], "optional block length", pos + 2)
        start = pos + 4
        if length == 0:
            lenlen = 2 * _hex_int(text[pos + 4 : pos + 6], "extended length size", pos + 4)
            if lenlen == 0:
                raise HeaderError(f"optional block {bid} has an empty extended length")
            length = _hex_int(
                text[pos + 6 : pos + 6 + lenlen], "optional block extended length", pos + 6
            )
            start = pos + 6 + lenlen
        if length < start - pos or pos + length > len(text):
            raise HeaderError(f"optional block {bid} at offset {pos} has a bad length {length}")
        header.blocks.append((bid, text[start : pos + length]))
        pos += length
    header.validate()
    size = VERSIONS[header.version][0]
    if (pos - HEADER_LEN) % size:
        raise HeaderError(f"optional blocks are not a multiple of {size} characters")
    return header, pos


# --- key derivation binding method -----------------------------------------


def _check_kbpk(version: str, kbpk: bytes) -> None:
    lengths = VERSIONS[version][2]
    if len(kbpk) not in lengths:
        raise KeyBlockError(
            f"version {version} KBPK must be {', '.join(map(str, lengths))} bytes, not {len(kbpk)}"
        )


def derive_keys(version: str, kbpk: bytes) -> tuple[bytes, bytes]:
    """KBEK and KBMK from the KBPK (TR-31:2018 sections 5.3.2.1 and 5.3.2.3)."""
    _check_kbpk(version, kbpk)
    if version == "B":
        cipher: object = des.TdesBlock(kbpk)
        alg = 0x0000 if len(kbpk) == 16 else 0x0001
    else:
        cipher = aes.AesBlock(kbpk)
        alg = {16: 0x0002, 24: 0x0003, 32: 0x0004}[len(kbpk)]
    bits = len(kbpk) * 8
    out = []
    for usage in (0x0000, 0x0001):
        key = b""
        counter = 1
        while len(key) < len(kbpk):
            data = bytes([counter]) + usage.to_bytes(2, "big") + b"\x00"
            data += alg.to_bytes(2, "big") + bits.to_bytes(2, "big")
            key += aes_cmac.cmac(cipher, data)
            counter += 1
        out.append(key[: len(kbpk)])
    return out[0], out[1]


def _mac(version: str, kbmk: bytes, header: str, key_data: bytes) -> bytes:
    cipher = des.TdesBlock(kbmk) if version == "B" else aes.AesBlock(kbmk)
    return aes_cmac.cmac(cipher, header.encode("ascii") + key_data)


def _check_key(header: Header, kbpk: bytes, key: bytes) -> None:
    lengths = KEY_LENGTHS.get(header.algorithm)
    if lengths is not None and len(key) not in lengths:
        raise KeyBlockError(
            f"algorithm {header.algorithm} key must be "
            f"{', '.join(map(str, lengths))} bytes, not {len(key)}"
        )
    if header.version == "B" and header.algorithm == "A":
        raise KeyBlockError("an AES key needs a version D key block (AES KBPK)")
    if header.algorithm in ("T", "D", "A") and len(key) > len(kbpk):
        raise KeyBlockError(f"a {len(key)}-byte key must not be wrapped by a {len(kbpk)}-byte KBPK")
    if not key:
        raise KeyBlockError("empty key")


def wrap(
    kbpk: bytes,
    header: Header | str,
    key: bytes,
    random: bytes | None = None,
    masked_length: int | None = None,
) -> str:
    """Wrap ``key`` under ``kbpk``.

    ``header`` is a Header or header text (its length field is ignored and
    rewritten).  Key data is padded to a whole number of cipher blocks with
    ``random`` (exactly the padding length; random bytes when None).
    ``masked_length`` pads as if the key had that many bytes, hiding its
    true length."""
    hdr = parse_header(header)[0] if isinstance(header, str) else header
    hdr.validate()
    _check_kbpk(hdr.version, kbpk)
    _check_key(hdr, kbpk, key)
    size, mac_len, _ = VERSIONS[hdr.version]
    body = max(len(key), masked_length or 0)
    pad_len = -(2 + body) % size + (body - len(key))
    if random is None:
        random = os.urandom(pad_len)
    elif len(random) != pad_len:
        raise KeyBlockError(f"padding must be {pad_len} bytes for this key, not {len(random)}")
    key_data = (len(key) * 8).to_bytes(2, "big") + key + random
    opt_len = len(hdr.encode()) - HEADER_LEN
    total = HEADER_LEN + opt_len + 2 * len(key_data) + 2 * mac_len
    text = hdr.encode(total)
    kbek, kbmk = derive_keys(hdr.version, kbpk)
    mac = _mac(hdr.version, kbmk, text, key_data)
    if hdr.version == "B":
        enc = des.encrypt_cbc(kbek, key_data, mac)
    else:
        enc = aes.encrypt_cbc(kbek, key_data, mac)
    return text + enc.hex().upper() + mac.hex().upper()


def dukpt_initial_key_block(kbpk: bytes, initial_key: bytes, ikid: bytes) -> str:
    """An AES DUKPT initial key as a TSM loads it into a PIN pad or secure
    element: version D, usage B1, algorithm A, mode X, not exportable, its
    initial key ID in optional block IK (X9.24-3, X9.143)."""
    header = Header(version="D", key_usage="B1", algorithm="A", mode_of_use="X",
                    exportability="N", blocks=[("IK", ikid.hex().upper())])  # fmt: skip
    return wrap(kbpk, header, initial_key)


def decrypt_key_data(kbpk: bytes, block: str) -> tuple[Header, bytes]:
    """Authenticate and decrypt a key block; the clear key data with padding."""
    block = block.strip()
    header, hlen = parse_header(block)
    declared = int(block[1:5])
    if declared != len(block):
        raise HeaderError(f"key block length field says {declared}, block has {len(block)}")
    _check_kbpk(header.version, kbpk)
    size, mac_len, _ = VERSIONS[header.version]
    rest = block[hlen:]
    if len(rest) < 2 * (mac_len + size) or len(rest) % 2:
        raise KeyBlockError("key block too short for key data and MAC")
    if any(c not in "0123456789ABCDEFabcdef" for c in rest):
        raise KeyBlockError("key data and MAC must be hex")
    payload = bytes.fromhex(rest)
    enc, mac = payload[:-mac_len], payload[-mac_len:]
    if len(enc) % size:
        raise KeyBlockError(f"encrypted key data is not a multiple of {size} bytes")
    kbek, kbmk = derive_keys(header.version, kbpk)
    if header.version == "B":
        key_data = des.decrypt_cbc(kbek, enc, mac)
    else:
        key_data = aes.decrypt_cbc(kbek, enc, mac)
    expected = _mac(header.version, kbmk, block[:hlen], key_data)
    diff = 0
    for a, b in zip(expected, mac, strict=True):
        diff |= a ^ b
    if diff:
        raise AuthenticationError("key block MAC does not verify (wrong KBPK or altered block)")
    return header, key_data


def unwrap(kbpk: bytes, block: str) -> tuple[Header, bytes]:
    """Authenticate, decrypt and check a key block; the header and the key."""
    header, key_data = decrypt_key_data(kbpk, block)
    bits = int.from_bytes(key_data[:2], "big")
    if bits == 0 or bits % 8 or 2 + bits // 8 > len(key_data):
        raise KeyBlockError(f"decrypted key length {bits} bits does not fit the key data")
    key = key_data[2 : 2 + bits // 8]
    lengths = KEY_LENGTHS.get(header.algorithm)
    if lengths is not None and len(key) not in lengths:
        raise KeyBlockError(f"algorithm {header.algorithm} key of {len(key)} bytes is invalid")
    return header, key


# --- use and export checks (for the HSM) ------------------------------------


def check_use(
    header: Header,
    usages: tuple[str, ...],
    modes: str = "",
    algorithms: str = "",
) -> None:
    """Raise UsageError unless the key's usage is one of ``usages``, its mode
    of use one of ``modes`` (or N), and its algorithm one of ``algorithms``
    (empty strings: any)."""
    if header.key_usage not in usages:
        raise UsageError(f"key usage {header.key_usage} is not {' or '.join(usages)}")
    if modes and header.mode_of_use != "N" and header.mode_of_use not in modes:
        raise UsageError(f"mode of use {header.mode_of_use} does not permit this ({modes})")
    if algorithms and header.algorithm not in algorithms:
        raise UsageError(f"algorithm {header.algorithm} is not {algorithms}")


def check_export(header: Header, trusted_kek: bool = True) -> None:
    """Raise UsageError if the key may not leave under the given kind of KEK:
    N never; E only under a trusted (X9.24-compliant) KEK; S under any."""
    if header.exportability == "N":
        raise UsageError("key is non-exportable (exportability N)")
    if header.exportability == "E" and not trusted_kek:
        raise UsageError("key is exportable only under a trusted KEK (exportability E)")
