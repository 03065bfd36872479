"""Pieces both contactless kernels use: card commands, AFL and records, TVR
bits, amounts and dates.  No I/O of its own: the card is an object with
``exchange_apdu(apdu) -> bytes``.
"""

from firmware.emv.tvr import TVR_BITS
from protocols import apdu, tlv
from protocols.errors import DecodeError

# TVR bits (EMV Book 3 Annex C5), from the shared table firmware.emv.tvr
TVR_ODA_NOT_PERFORMED = TVR_BITS["oda_not_performed"]
TVR_SDA_FAILED = TVR_BITS["sda_failed"]
TVR_ICC_DATA_MISSING = TVR_BITS["icc_data_missing"]
TVR_DDA_FAILED = TVR_BITS["dda_failed"]
TVR_CDA_FAILED = TVR_BITS["cda_failed"]
TVR_VERSIONS_DIFFER = TVR_BITS["different_versions"]
TVR_EXPIRED = TVR_BITS["expired_application"]
TVR_NOT_EFFECTIVE = TVR_BITS["not_yet_effective"]
TVR_SERVICE_NOT_ALLOWED = TVR_BITS["service_not_allowed"]
TVR_CVM_FAILED = TVR_BITS["cvm_not_successful"]
TVR_ONLINE_PIN_ENTERED = TVR_BITS["online_pin_entered"]
TVR_FLOOR_LIMIT_EXCEEDED = TVR_BITS["floor_limit_exceeded"]

# Cryptogram types (CID b8-b7; GENERATE AC P1)
AAC = 0x00
TC = 0x40
ARQC = 0x80


class CardError(Exception):
    """The card did not answer (removed, transmission error)."""


class KernelError(Exception):
    """The card's data breaks the kernel's rules (missing or malformed)."""


def set_bit(tvr, bit):
    tvr[bit[0]] |= bit[1]


def has_bit(tvr, bit):
    return bool(tvr[bit[0]] & bit[1])


def n12(amount):
    """An amount in minor units as numeric n12 (6 bytes BCD)."""
    if amount < 0 or amount > 999999999999:
        raise KernelError("amount out of range")
    return bytes.fromhex("%012d" % amount)


def bcd_value(raw):
    text = raw.hex()
    if not text.isdigit():
        raise KernelError("not BCD")
    return int(text) if text else 0


def date_key(yymmdd):
    """Comparable key of a YYMMDD date (YY < 50 is 20YY, Book 3 §7)."""
    if len(yymmdd) != 3:
        raise KernelError("date length")
    yy = bcd_value(yymmdd[0:1])
    return (1 if yy < 50 else 0, bytes(yymmdd))


def transmit(card, command):
    """Send a command (61XX / 6CXX followed) -> protocols.apdu.Response."""
    try:
        return apdu.exchange(card.exchange_apdu, command)
    except DecodeError as e:
        raise CardError("malformed response: %s" % e)
    except Exception as e:  # a reader driver's timeout or link error
        raise CardError("%s: %s" % (type(e).__name__, e))


def decode(data, what):
    try:
        return tlv.decode(data)
    except DecodeError as e:
        raise KernelError("%s: %s" % (what, e))


def parse_afl(afl):
    """AFL entries (SFI, first, last, ODA count), checked (Book 3 §10.2)."""
    if len(afl) % 4:
        raise KernelError("AFL length")
    out = []
    for i in range(0, len(afl), 4):
        sfi = afl[i] >> 3
        first, last, oda = afl[i + 1], afl[i + 2], afl[i + 3]
        if afl[i] & 7 or not 1 <= sfi <= 30 or first == 0 or last < first:
            raise KernelError("AFL entry")
        if oda > last - first + 1:
            raise KernelError("AFL ODA count")
        out.append((sfi, first, last, oda))
    return out


def add_primitives(store, nodes, what):
    """Put the primitive objects of ``nodes`` into ``store``; a tag seen twice
    with another value is a card error (Book 3 §10.2, C-2 'redundant data');
    the same value again (qVSDC cards repeat track 2 in GPO and record) is not."""
    for node in tlv.walk(nodes):
        if node.constructed:
            continue
        if node.tag in store and store[node.tag] != node.value:
            raise KernelError("%s: %s given twice" % (what, tlv.tag_hex(node.tag)))
        store[node.tag] = node.value


def read_records(card, entries, store):
    """READ RECORD for each AFL entry; returns {(sfi, record): raw} and fills
    ``store`` with the records' objects."""
    records = {}
    for sfi, first, last, _oda in entries:
        for number in range(first, last + 1):
            r = transmit(card, apdu.read_record(number, sfi))
            if not r.ok:
                raise KernelError("READ RECORD %d/%d: %04X" % (sfi, number, r.sw))
            nodes = decode(r.data, "record")
            if (len(nodes) != 1 or nodes[0].tag != 0x70) and sfi <= 10:
                raise KernelError("record %d/%d is not a 70 template" % (sfi, number))
            records[(sfi, number)] = r.data
            add_primitives(store, nodes, "record")
    return records


def terminal_store(terminal, combination, txn, un):
    """The terminal-sourced data objects of a transaction."""
    store = dict(terminal)
    store[0x9F02] = n12(txn["amount"])
    store[0x9F03] = n12(txn.get("amount_other", 0))
    store[0x9A] = txn["date"]
    store[0x9F21] = txn.get("time", b"\x00\x00\x00")
    store[0x9C] = bytes((txn.get("type", 0),))
    store[0x9F37] = un
    store[0x9F09] = combination.get("application_version", store.get(0x9F09, b"\x00\x00"))
    store[0x95] = bytes(5)
    return store


class Context:
    """What the entry point hands a kernel on activation (Book B §3.4)."""

    def __init__(self, combination, indicators, fci, txn, store, capks, trace):
        self.combination = combination
        self.indicators = indicators  # pre-processing indicators (entry_point)
        self.fci = fci  # primitive objects of the SELECT AID answer
        self.txn = txn
        self.store = store  # terminal data, then the card's as the kernel reads it
        self.capks = capks
        self.trace = trace
        self.aid = None
