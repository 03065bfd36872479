"""Entry Point (EMV Contactless Book B): pre-processing, PPSE combination
selection, kernel activation, outcome processing.

``EntryPoint(rng=..., capks=...)`` then ``start(card, txn)`` -> ``Outcome``.
``card`` has ``exchange_apdu(apdu) -> bytes`` (the PN532 driver's
Iso14443aTarget, or a virtual card); ``txn`` is a dict: ``amount`` and
``amount_other`` (ints, minor units), ``type`` (9C), ``date`` (YYMMDD
bytes), ``time`` (HHMMSS bytes).  ``rng(n) -> bytes`` gives the unpredictable
number.  The reader limits are data (``limits.COMBINATIONS``).
"""

from firmware.emv.contactless import limits, mastercard, visa
from firmware.emv.contactless import outcome as oc
from firmware.emv.contactless.common import (
    CardError,
    Context,
    KernelError,
    decode,
    terminal_store,
    transmit,
)
from firmware.emv.contactless.trace import Trace
from protocols import apdu, tlv

PPSE = b"2PAY.SYS.DDF01"

KERNELS = {limits.KERNEL_MASTERCARD: mastercard, limits.KERNEL_VISA: visa}


def preprocess(combination, amount, terminal_floor_limit=None):
    """Book B §3.1.1 for one combination -> indicators dict (with the TTQ copy)."""
    ind = {
        "status_check": False,
        "not_allowed": False,
        "zero_amount": False,
        "cvm_limit_exceeded": False,
        "floor_limit_exceeded": False,
        "ttq": None,
    }
    ttq = combination.get("ttq")
    if ttq is not None:
        ttq = bytearray(ttq)
        ttq[1] &= 0x3F  # reset 'online cryptogram required' and 'CVM required'
    if combination.get("status_check") and amount == 1000:  # one unit of JOD
        ind["status_check"] = True
    if amount == 0:
        if combination.get("zero_amount_allowed"):
            ind["zero_amount"] = True
        else:
            ind["not_allowed"] = True
    limit = combination.get("transaction_limit")
    if limit is not None and amount >= limit:
        ind["not_allowed"] = True
    floor = combination.get("floor_limit")
    if floor is None:
        floor = terminal_floor_limit
    if floor is not None and amount > floor:
        ind["floor_limit_exceeded"] = True
    cvm_limit = combination.get("cvm_required_limit")
    if cvm_limit is not None and amount >= cvm_limit:
        ind["cvm_limit_exceeded"] = True
    if ttq is not None:
        if ind["floor_limit_exceeded"] or ind["status_check"]:
            ttq[1] |= 0x80
        if ind["zero_amount"]:
            if ttq[0] & 0x08:  # offline-only reader
                ind["not_allowed"] = True
            else:
                ttq[1] |= 0x80
        if ind["cvm_limit_exceeded"]:
            ttq[1] |= 0x40
        ind["ttq"] = bytes(ttq)
    return ind


def kernel_id(entry):
    """Requested kernel ID of a directory entry (Book B §3.3.2.5), or None
    for a kernel this reader cannot know (domestic)."""
    raw = entry.get(0x9F2A)
    aid = entry.get(0x4F, b"")
    if raw is None or len(raw) == 0 or raw[0] == 0:
        for rid, kid in limits.DEFAULT_KERNEL_BY_RID:
            if aid[:5] == rid:
                return kid
        return None
    if raw[0] & 0xC0:
        return None  # proprietary / domestic kernel IDs: none supported
    return raw[0] & 0x3F


def directory_entries(fci_data):
    """The 61 entries of a PPSE FCI as dicts of their primitive objects."""
    nodes = decode(fci_data, "PPSE")
    if not nodes or nodes[0].tag != 0x6F:
        raise KernelError("PPSE answer is not an FCI")
    out = []
    for entry in tlv.find_all(nodes, 0x61):
        values = {}
        for child in entry.children or []:
            if not child.constructed and child.tag not in values:
                values[child.tag] = child.value
        out.append(values)
    return out


def candidates(entries, combos, indicators):
    """Candidate list (Book B §3.3.2): (priority, order, aid, combination)."""
    out = []
    for order, entry in enumerate(entries):
        aid = entry.get(0x4F)
        if aid is None or not 5 <= len(aid) <= 16:
            continue
        kid = kernel_id(entry)
        for i, combo in enumerate(combos):
            if indicators[i]["not_allowed"]:
                continue
            if combo["kernel"] != kid or aid[: len(combo["aid"])] != combo["aid"]:
                continue
            prio = entry.get(0x87, b"\x00")
            rank = prio[0] & 0x0F if prio else 0
            out.append((rank if rank else 16, order, aid, i))
    out.sort(key=lambda c: (c[0], c[1]))
    return out


def _try_another_interface(message):
    return oc.Outcome(
        oc.TRY_ANOTHER_INTERFACE,
        oc.parameters(ui_on_outcome=True, alternate_interface=oc.ALT_CONTACT_CHIP),
        ui=oc.ui_request(message, oc.PROCESSING_ERROR),
    )


def _try_again(reason):
    out = oc.Outcome(
        oc.TRY_AGAIN,
        oc.parameters(start=oc.START_B, ui_on_restart=True),
        ui=oc.ui_request(oc.MSG_PRESENT_CARD_AGAIN, oc.READY_TO_READ),
        error=reason,
    )
    return out


class EntryPoint:
    def __init__(self, rng, capks=None, combos=None, terminal=None, clock=None):
        """``capks``: a firmware.emv.capk.CapkStore (default: the TEST keys
        of firmware.emv.capk_data)."""
        self.rng = rng
        if capks is None:
            from firmware.emv import capk, capk_data

            capks = capk.from_table(capk_data.TEST_CAPKS)
        self.capks = capks
        self.combos = combos if combos is not None else limits.COMBINATIONS
        self.terminal = terminal if terminal is not None else limits.TERMINAL
        self.clock = clock

    def preprocess(self, amount):
        return [preprocess(c, amount) for c in self.combos]

    def start(self, card, txn):
        trace = Trace(self.clock)
        result = self._run(trace.card(card), txn, trace)
        result.trace = trace
        return result

    def _run(self, card, txn, trace):
        indicators = self.preprocess(txn["amount"])
        if all(i["not_allowed"] for i in indicators):
            trace.note("pre-processing: contactless not allowed for every combination")
            return _try_another_interface(oc.MSG_INSERT_OR_SWIPE)
        try:
            r = transmit(card, apdu.select_by_name(PPSE))
            entries = directory_entries(r.data) if r.ok else []
            if not r.ok:
                trace.note("PPSE: %04X" % r.sw)
            cands = candidates(entries, self.combos, indicators)
            while cands:
                _rank, _order, aid, i = cands.pop(0)
                result = self._activate(card, aid, i, indicators[i], txn, trace)
                if result is not None and result.status != oc.SELECT_NEXT:
                    return result
            trace.note("candidate list empty")
            return _try_another_interface(oc.MSG_TRY_ANOTHER_CARD)
        except CardError as e:
            trace.note("communication error: %s" % e)
            return _try_again(str(e))
        except KernelError as e:
            trace.note("entry point: %s" % e)
            return _try_another_interface(oc.MSG_TRY_ANOTHER_CARD)

    def _activate(self, card, aid, i, ind, txn, trace):
        r = transmit(card, apdu.select_by_name(aid))
        if not r.ok:
            trace.note("SELECT %s: %04X" % (aid.hex().upper(), r.sw))
            return None
        fci = {}
        for node in tlv.walk(decode(r.data, "FCI")):
            if not node.constructed and node.tag not in fci:
                fci[node.tag] = node.value
        combo = self.combos[i]
        store = terminal_store(self.terminal, combo, txn, self.rng(4))
        if ind["ttq"] is not None:
            store[0x9F66] = ind["ttq"]
        ctx = Context(combo, ind, fci, txn, store, self.capks, trace)
        ctx.aid = fci.get(0x84, aid)
        store[0x84] = ctx.aid
        for tag in (0x50, 0x9F12, 0x5F2D):  # label, preferred name, languages
            if tag in fci:
                store[tag] = fci[tag]
        kernel = KERNELS[combo["kernel"]]
        trace.note("kernel %d activated for %s" % (combo["kernel"], aid.hex().upper()))
        result = kernel.run(card, ctx)
        result.kernel = combo["kernel"]
        result.aid = ctx.aid
        return result
