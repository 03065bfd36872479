"""A Visa-like kernel: qVSDC as EMV Contactless Book C-3 (Kernel 3) publicly
describes it.

GET PROCESSING OPTIONS with the PDOL data (TTQ 9F66 from pre-processing,
amount, unpredictable number, ...) returns the cryptogram (9F26, CID 9F27,
IAD 9F10, ATC 9F36, CTQ 9F6C, track 2 57) in template 77; records are read
per the AFL; a TC is approved offline only when fDDA verifies (9F4B over
UN || amount || currency || 9F69, the Book C-3 fDDA version 01 reading that
``host_sim/cards`` implements, see docs/contactless.md); the CVM comes from
the CTQ.  No second tap (issuer update processing is not supported).
"""

from firmware.emv.contactless import outcome as oc
from firmware.emv.contactless import pki
from firmware.emv.contactless.common import (
    AAC,
    ARQC,
    TC,
    TVR_DDA_FAILED,
    TVR_EXPIRED,
    TVR_ICC_DATA_MISSING,
    KernelError,
    add_primitives,
    date_key,
    decode,
    parse_afl,
    read_records,
    set_bit,
    transmit,
)
from protocols import apdu, tlv
from protocols.errors import DecodeError

# TTQ byte 1
TTQ_OFFLINE_ONLY = 0x08
TTQ_ONLINE_PIN = 0x04
TTQ_SIGNATURE = 0x02
# TTQ byte 2
TTQ_CVM_REQUIRED = 0x40
# CTQ byte 1
CTQ_ONLINE_PIN = 0x80
CTQ_SIGNATURE = 0x40
CTQ_ONLINE_IF_ODA_FAILS = 0x20
CTQ_SWITCH_IF_ODA_FAILS = 0x10
CTQ_ONLINE_IF_EXPIRED = 0x08
# CTQ byte 2
CTQ_CDCVM = 0x80

RECORD_TAGS = (
    0x9F02, 0x9F03, 0x9F26, 0x9F27, 0x9F10, 0x9F36, 0x82, 0x9F37, 0x9F1A, 0x5F2A,
    0x9A, 0x9C, 0x95, 0x9F66, 0x9F6C, 0x9F6E, 0x9F33, 0x9F35, 0x57, 0x5F34, 0x5F24,
    0x5A, 0x84, 0x50, 0x9F12, 0x9F09, 0x9F7C,
)  # fmt: skip


def cryptogram_type(store):
    """CID b8-b7; without 9F27 the CVR in a Visa IAD (format 06) says it."""
    cid = store.get(0x9F27)
    if cid:
        return cid[0] & 0xC0
    iad = store.get(0x9F10, b"")
    if len(iad) >= 5 and iad[0] == 0x06:
        return {0x00: AAC, 0x10: TC, 0x20: ARQC}.get(iad[4] & 0x30, AAC)
    raise KernelError("no cryptogram information")


def verify_fdda(ctx, entries, records):
    """Recover the ICC key and check fDDA; raise pki.OdaError if it fails."""
    store = ctx.store
    aid = ctx.aid or b""
    view = store
    if 0x5A not in store and 0x57 in store:
        # no PAN object: the PAN of track 2 equivalent data (C-3)
        digits = store[0x57].hex().upper().split("D")[0]
        if len(digits) % 2:
            digits += "F"
        view = dict(store)
        view[0x5A] = bytes.fromhex(digits)
    icc = pki.icc_key(ctx.capks, aid[:5], view, entries, records, ctx.txn["date"])
    store[0x9F4C] = pki.verify_fdda(icc, store)


def cvm(ttq, ctq, online):
    """The CVM from the CTQ and TTQ (Book C-3 §5): (outcome CVM, ok)."""
    c1 = ctq[0] if ctq else 0
    c2 = ctq[1] if len(ctq) > 1 else 0
    if c1 & CTQ_ONLINE_PIN and ttq[0] & TTQ_ONLINE_PIN:
        return (oc.CVM_ONLINE_PIN, online)
    if c2 & CTQ_CDCVM:
        return (oc.CVM_CONFIRMATION_CODE_VERIFIED, True)
    if c1 & CTQ_SIGNATURE and ttq[0] & TTQ_SIGNATURE:
        return (oc.CVM_OBTAIN_SIGNATURE, True)
    if ttq[1] & TTQ_CVM_REQUIRED:
        if ttq[0] & TTQ_SIGNATURE:
            return (oc.CVM_OBTAIN_SIGNATURE, True)
        return (oc.NA, False)
    return (oc.CVM_NO_CVM, True)


def _end(status, message, ui_status, error=None, alternate=oc.NA):
    return oc.Outcome(
        status,
        oc.parameters(ui_on_outcome=True, alternate_interface=alternate),
        ui=oc.ui_request(message, ui_status),
        error=error,
    )


def _data_record(store, tvr):
    data = {}
    for tag in RECORD_TAGS:
        if tag in store:
            data[tag] = store[tag]
    data[0x95] = bytes(tvr)
    return data


def run(card, ctx):
    """Kernel 3 from GPO to the outcome; card data errors end the application."""
    try:
        return _run(card, ctx)
    except (KernelError, DecodeError) as e:
        ctx.trace.note("qVSDC: %s" % e)
        return oc.end_application(str(e))


def _run(card, ctx):
    store = ctx.store
    trace = ctx.trace
    pdol = ctx.fci.get(0x9F38)
    if pdol is None or b"\x9f\x66" not in pdol:
        trace.note("qVSDC: no TTQ in the PDOL")
        return _end(oc.SELECT_NEXT, oc.MSG_TRY_ANOTHER_CARD, oc.PROCESSING_ERROR, "no PDOL TTQ")
    try:
        pdol_data = tlv.build_dol_data(pdol, store)
    except DecodeError:
        raise KernelError("PDOL malformed")
    r = transmit(card, apdu.get_processing_options(pdol_data))
    if r.sw == 0x6986:
        return oc.Outcome(
            oc.TRY_AGAIN,
            oc.parameters(start=oc.START_B, ui_on_outcome=True, field_off_ms=0),
            ui=oc.ui_request(oc.MSG_SEE_PHONE, oc.NOT_READY, oc.DEFAULT_HOLD_MS),
            error="GPO 6986",
        )
    if r.sw in (0x6984, 0x6985):
        return _end(
            oc.TRY_ANOTHER_INTERFACE,
            oc.MSG_INSERT_CARD,
            oc.PROCESSING_ERROR,
            "GPO %04X" % r.sw,
            oc.ALT_CONTACT_CHIP,
        )
    if not r.ok:
        return _end(
            oc.END_APPLICATION, oc.MSG_TRY_ANOTHER_CARD, oc.PROCESSING_ERROR, "GPO %04X" % r.sw
        )
    nodes = decode(r.data, "GPO")
    if len(nodes) != 1 or nodes[0].tag != 0x77:
        trace.note("qVSDC: GPO format 1 (contact VSDC path) not supported contactless")
        return _end(
            oc.TRY_ANOTHER_INTERFACE,
            oc.MSG_INSERT_CARD,
            oc.PROCESSING_ERROR,
            "GPO format 1",
            oc.ALT_CONTACT_CHIP,
        )
    card_data = {}
    add_primitives(card_data, nodes, "GPO")
    entries = parse_afl(card_data.get(0x94, b""))
    records = read_records(card, entries, card_data)
    for tag in card_data:
        store[tag] = card_data[tag]
    ui_read = oc.ui_request(oc.MSG_CARD_READ_OK, oc.CARD_READ_SUCCESSFULLY)
    for tag in (0x82, 0x9F36, 0x9F26, 0x9F10, 0x57):
        if tag not in card_data:
            raise KernelError("card data %s missing" % tlv.tag_hex(tag))
    tvr = bytearray(5)
    ttq = store[0x9F66]
    ctq = card_data.get(0x9F6C, b"")
    kind = cryptogram_type(card_data)
    online_capable = not ttq[0] & TTQ_OFFLINE_ONLY
    result = None
    if kind == TC:
        expiry = card_data.get(0x5F24)
        if expiry is None:
            set_bit(tvr, TVR_ICC_DATA_MISSING)
            trace.note("qVSDC: no expiry date for an offline approval")
            kind = AAC
        elif date_key(expiry) < date_key(ctx.txn["date"]):
            set_bit(tvr, TVR_EXPIRED)
            trace.note("qVSDC: application expired")
            kind = ARQC if ctq[:1] and ctq[0] & CTQ_ONLINE_IF_EXPIRED and online_capable else AAC
        if kind == TC:
            try:
                verify_fdda(ctx, entries, records)
                trace.note("fDDA verified")
            except pki.OdaError as e:
                set_bit(tvr, TVR_DDA_FAILED)
                trace.note("fDDA failed: %s" % e)
                c1 = ctq[0] if ctq else 0
                if c1 & CTQ_ONLINE_IF_ODA_FAILS and online_capable:
                    kind = ARQC
                elif c1 & CTQ_SWITCH_IF_ODA_FAILS:
                    result = _end(
                        oc.TRY_ANOTHER_INTERFACE,
                        oc.MSG_INSERT_CARD,
                        oc.PROCESSING_ERROR,
                        "fDDA failed",
                        oc.ALT_CONTACT_CHIP,
                    )
                else:
                    kind = AAC
    method, cvm_ok = cvm(ttq, ctq, kind == ARQC)
    if kind != AAC and result is None and not cvm_ok:
        trace.note("qVSDC: CVM required and none possible")
        kind = AAC
    if result is None:
        result = _outcome(kind, method)
        if kind == AAC and result.error is None:
            result.error = "declined"
    result.ui_requests = [ui_read]
    if result.status in (oc.APPROVED, oc.DECLINED, oc.ONLINE_REQUEST):
        result.params["data_record"] = True
        result.data = _data_record(store, tvr)
    if result.params["field_off_ms"] is None:
        result.params["field_off_ms"] = 0
    trace.note("qVSDC outcome: %s" % result.status)
    return result


def _outcome(kind, method):
    signature = method == oc.CVM_OBTAIN_SIGNATURE
    if kind == TC:
        message = oc.MSG_APPROVED_SIGN if signature else oc.MSG_APPROVED
        return oc.Outcome(
            oc.APPROVED,
            oc.parameters(cvm=method, ui_on_outcome=True, receipt=signature),
            ui=oc.ui_request(message, oc.NOT_READY, oc.DEFAULT_HOLD_MS),
        )
    if kind == ARQC:
        return oc.Outcome(
            oc.ONLINE_REQUEST,
            oc.parameters(cvm=method, ui_on_outcome=True, receipt=signature),
            ui=oc.ui_request(oc.MSG_AUTHORISING, oc.NOT_READY),
        )
    return oc.Outcome(
        oc.DECLINED,
        oc.parameters(ui_on_outcome=True),
        ui=oc.ui_request(oc.MSG_NOT_AUTHORISED, oc.NOT_READY, oc.DEFAULT_HOLD_MS),
    )
