"""A Mastercard-like kernel: EMV mode of Kernel 2 as EMV Contactless Book
C-2 publicly describes it.

GET PROCESSING OPTIONS (PDOL data when the card has a PDOL), AIP/AFL, the
transaction limit by on-device CVM support, READ RECORD per AFL, ICC public
key retrieval for CDA, processing restrictions, CVM (on-device CVM from the
AIP, else the CVM list against the CVM capability the CVM required limit
selects), terminal risk management (floor limit), terminal action analysis
(TACs and IACs), GENERATE AC with CDOL1 asking for CDA, CDA verification
(Book 2 §6.6: ICC dynamic data with the cryptogram, transaction data hash
code over PDOL data || CDOL1 data || the response's objects but 9F4B), the
outcome.  No second tap, no Data Exchange (DE/DEK), no magstripe mode.
"""

from firmware.emv import oda
from firmware.emv.contactless import cvm_list, pki
from firmware.emv.contactless import outcome as oc
from firmware.emv.contactless.common import (
    AAC,
    ARQC,
    TC,
    TVR_CDA_FAILED,
    TVR_EXPIRED,
    TVR_FLOOR_LIMIT_EXCEEDED,
    TVR_ICC_DATA_MISSING,
    TVR_NOT_EFFECTIVE,
    TVR_ODA_NOT_PERFORMED,
    TVR_SERVICE_NOT_ALLOWED,
    TVR_VERSIONS_DIFFER,
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

# AIP byte 1
AIP_CVM_SUPPORTED = 0x10
AIP_ODCVM_SUPPORTED = 0x02
AIP_CDA_SUPPORTED = 0x01
# AIP byte 2
AIP_EMV_MODE = 0x80

CVM_RESULTS_ODCVM = b"\x01\x00\x02"  # C-2: on-device CVM, successful
CVM_RESULTS_NO_CVM = b"\x3f\x00\x02"

RECORD_TAGS = (
    0x9F02, 0x9F03, 0x9F26, 0x9F27, 0x9F10, 0x9F36, 0x82, 0x9F37, 0x9F1A, 0x5F2A,
    0x9A, 0x9C, 0x95, 0x9F33, 0x9F34, 0x9F35, 0x57, 0x5A, 0x5F34, 0x5F24, 0x84, 0x50, 0x9F12,
    0x9F09, 0x9F1E, 0x9F53, 0x9F6E, 0x9F4C,
)  # fmt: skip


def on_device_cvm(aip, combination, cvm_limit_exceeded):
    """C-2 on-device CVM: (outcome CVM, CVM results) or None when the card
    or the reader does not support it."""
    if not (aip[0] & AIP_ODCVM_SUPPORTED and combination.get("odcvm_supported")):
        return None
    if cvm_limit_exceeded:
        return (oc.CVM_CONFIRMATION_CODE_VERIFIED, CVM_RESULTS_ODCVM)
    return (oc.CVM_NO_CVM, CVM_RESULTS_NO_CVM)


def action_analysis(tvr, combination, store):
    """Terminal action analysis (Book 3 §10.7): AAC, ARQC or TC to ask for."""
    iac_denial = store.get(0x9F0E, b"\x00" * 5)
    iac_online = store.get(0x9F0F, b"\xff" * 5)
    iac_default = store.get(0x9F0D, b"\xff" * 5)

    def hit(tac, iac):
        return any(tvr[i] & (tac[i] | iac[i]) for i in range(5))

    if hit(combination["tac_denial"], iac_denial):
        return AAC
    if combination.get("online_capable", True):
        return ARQC if hit(combination["tac_online"], iac_online) else TC
    return AAC if hit(combination["tac_default"], iac_default) else TC


def restrictions(tvr, combination, store, today):
    """Processing restrictions (Book 3 §10.4)."""
    version = store.get(0x9F08)
    if version is not None and version != combination.get("application_version", version):
        set_bit(tvr, TVR_VERSIONS_DIFFER)
    auc = store.get(0x9F07)
    if auc is not None and len(auc) >= 2:
        domestic = store.get(0x5F28) == store.get(0x9F1A)
        services = store.get(0x9C, b"\x00")[0]
        ok = True
        if services in (0x00, 0x09, 0x20):  # goods and services, cashback, refund
            ok = bool(auc[0] & (0x28 if domestic else 0x14))
        elif services == 0x01:  # cash
            ok = bool(auc[0] & (0x80 if domestic else 0x40))
        if not auc[0] & 0x01 and store.get(0x9F35, b"\x00")[0] in (0x14, 0x15, 0x16):
            ok = False  # not valid at ATMs
        if not ok:
            set_bit(tvr, TVR_SERVICE_NOT_ALLOWED)
    effective = store.get(0x5F25)
    if effective is not None and date_key(effective) > date_key(today):
        set_bit(tvr, TVR_NOT_EFFECTIVE)
    if date_key(store[0x5F24]) < date_key(today):
        set_bit(tvr, TVR_EXPIRED)


def verify_cda(icc, response_nodes, pdol_data, cdol1_data, un, cid):
    """CDA on the first GENERATE AC (Book 2 §6.6.2): returns (AC, IDN).  The
    hash covers PDOL data || CDOL1 data || the response's objects but 9F4B,
    in the order received."""
    sdad = None
    shown = b""
    for node in response_nodes:
        if node.tag == 0x9F4B:
            sdad = node.value
        else:
            shown += tlv.encode_one(node)
    if sdad is None:
        raise pki.OdaError("no signed dynamic data", missing=True)
    number, ac = oda.verify_cda(icc, sdad, un, bytes((cid,)), pdol_data + cdol1_data + shown)
    return ac, number


def run(card, ctx):
    """Kernel 2 from GPO to the outcome; card data errors end the application."""
    try:
        return _run(card, ctx)
    except (KernelError, DecodeError) as e:
        ctx.trace.note("kernel 2: %s" % e)
        return oc.end_application(str(e))


def _select_next(error):
    return oc.Outcome(oc.SELECT_NEXT, oc.parameters(start=oc.START_C), error=error)


def _run(card, ctx):
    store = ctx.store
    trace = ctx.trace
    combo = ctx.combination
    pdol = ctx.fci.get(0x9F38, b"")
    try:
        pdol_data = tlv.build_dol_data(pdol, store) if pdol else b""
    except DecodeError:
        raise KernelError("PDOL malformed")
    r = transmit(card, apdu.get_processing_options(pdol_data))
    if not r.ok:
        trace.note("kernel 2: GPO %04X" % r.sw)
        return _select_next("GPO %04X" % r.sw)
    nodes = decode(r.data, "GPO")
    card_data = {}
    if len(nodes) == 1 and nodes[0].tag == 0x80 and len(nodes[0].value) >= 2:
        card_data[0x82] = nodes[0].value[:2]
        card_data[0x94] = nodes[0].value[2:]
    elif len(nodes) == 1 and nodes[0].tag == 0x77:
        add_primitives(card_data, nodes, "GPO")
    else:
        raise KernelError("GPO response template")
    aip = card_data.get(0x82)
    if aip is None or len(aip) != 2 or 0x94 not in card_data:
        raise KernelError("AIP or AFL missing")
    if not aip[1] & AIP_EMV_MODE:
        trace.note("kernel 2: card offers magstripe mode only")
        return oc.Outcome(
            oc.TRY_ANOTHER_INTERFACE,
            oc.parameters(ui_on_outcome=True, alternate_interface=oc.ALT_CONTACT_CHIP),
            ui=oc.ui_request(oc.MSG_INSERT_CARD, oc.PROCESSING_ERROR),
            error="magstripe mode",
        )
    amount = ctx.txn["amount"]
    odcvm_card = bool(aip[0] & AIP_ODCVM_SUPPORTED) and combo.get("odcvm_supported")
    limit = combo["transaction_limit_odcvm" if odcvm_card else "transaction_limit_no_odcvm"]
    if limit is not None and amount > limit:
        trace.note("kernel 2: amount above the reader contactless transaction limit")
        return _select_next("max limit exceeded")
    entries = parse_afl(card_data[0x94])
    records = read_records(card, entries, card_data)
    for tag in card_data:
        store[tag] = card_data[tag]
    for tag in (0x5A, 0x5F24, 0x8C, 0x8D):
        if tag not in store:
            raise KernelError("card data %s missing" % tlv.tag_hex(tag))
    tvr = bytearray(5)
    ind = ctx.indicators
    # Kernel 2 compares with ">" (C-2), the Entry Point's indicator with ">="
    cvm_limit = combo.get("cvm_required_limit")
    cvm_required = cvm_limit is not None and amount > cvm_limit
    # ODA: CDA only (Kernel 2 supports no SDA/DDA)
    icc = None
    terminal_cda = store.get(0x9F33, b"\x00\x00\x00")[2] & 0x08
    if aip[0] & AIP_CDA_SUPPORTED and terminal_cda:
        try:
            aid = ctx.aid or b""
            icc = pki.icc_key(ctx.capks, aid[:5], store, entries, records, ctx.txn["date"])
            trace.note("kernel 2: ICC public key recovered")
        except pki.OdaError as e:
            trace.note("kernel 2: ICC key retrieval failed: %s" % e)
            if e.missing:
                set_bit(tvr, TVR_ICC_DATA_MISSING)
            set_bit(tvr, TVR_CDA_FAILED)
    else:
        set_bit(tvr, TVR_ODA_NOT_PERFORMED)
    restrictions(tvr, combo, store, ctx.txn["date"])
    # cardholder verification
    odcvm = on_device_cvm(aip, combo, cvm_required)
    if odcvm is not None:
        method, results = odcvm
    elif aip[0] & AIP_CVM_SUPPORTED:
        capability = combo[
            "cvm_capability_required" if cvm_required else "cvm_capability_not_required"
        ][0]
        currency_match = store.get(0x9F42) == store.get(0x5F2A)
        method, results, bits = cvm_list.select(
            store.get(0x8E), capability, store[0x9C][0], amount, currency_match
        )
        for bit in bits:
            set_bit(tvr, bit)
    else:
        method, results = oc.CVM_NO_CVM, b"\x3f\x00\x00"
    store[0x9F34] = results
    # terminal risk management: floor limit
    if ind["floor_limit_exceeded"]:
        set_bit(tvr, TVR_FLOOR_LIMIT_EXCEEDED)
    requested = action_analysis(tvr, combo, store)
    if ind["zero_amount"] and requested == TC:
        requested = ARQC  # zero amount: online only (Book B)
    store[0x95] = bytes(tvr)
    cdol1_data = tlv.build_dol_data(store[0x8C], store)
    cda = icc is not None and requested != AAC
    trace.note("kernel 2: GENERATE AC %02X%s" % (requested, " CDA" if cda else ""))
    r = transmit(card, apdu.generate_ac(requested, cdol1_data, cda))
    if not r.ok:
        raise KernelError("GENERATE AC %04X" % r.sw)
    ac_nodes = decode(r.data, "GENERATE AC")
    response = {}
    if len(ac_nodes) == 1 and ac_nodes[0].tag == 0x80:
        value = ac_nodes[0].value
        if len(value) < 11:
            raise KernelError("GENERATE AC format 1 too short")
        response = {0x9F27: value[0:1], 0x9F36: value[1:3], 0x9F26: value[3:11]}
        if len(value) > 11:
            response[0x9F10] = value[11:]
        children = []
    elif len(ac_nodes) == 1 and ac_nodes[0].tag == 0x77:
        children = ac_nodes[0].children or []
        add_primitives(response, ac_nodes, "GENERATE AC")
    else:
        raise KernelError("GENERATE AC template")
    cid = response.get(0x9F27)
    if cid is None or 0x9F36 not in response:
        raise KernelError("CID or ATC missing")
    kind = cid[0] & 0xC0
    order = {AAC: 0, ARQC: 1, TC: 2}
    if kind not in order or order[kind] > order[requested]:
        raise KernelError("card answered more than the terminal asked for")
    store.update(response)
    ui_read = oc.ui_request(oc.MSG_CARD_READ_OK, oc.CARD_READ_SUCCESSFULLY)
    if cda and kind != AAC:
        try:
            ac, idn = verify_cda(icc, children, pdol_data, cdol1_data, store[0x9F37], cid[0])
            store[0x9F26] = ac
            store[0x9F4C] = idn
            trace.note("kernel 2: CDA verified")
        except pki.OdaError as e:
            trace.note("kernel 2: CDA failed: %s" % e)
            set_bit(tvr, TVR_CDA_FAILED)
            kind = AAC
    elif 0x9F26 not in store:
        raise KernelError("application cryptogram missing")
    store[0x95] = bytes(tvr)
    result = _outcome(kind, method)
    if kind == AAC:
        result.error = "CDA failed" if tvr[0] & 0x04 and cda else "declined"
    result.ui_requests = [ui_read]
    result.params["data_record"] = True
    result.params["field_off_ms"] = 0
    data = {}
    for tag in RECORD_TAGS:
        if tag in store:
            data[tag] = store[tag]
    result.data = data
    trace.note("kernel 2 outcome: %s" % result.status)
    return result


def _outcome(kind, method):
    signature = method == oc.CVM_OBTAIN_SIGNATURE
    if kind == TC:
        return oc.Outcome(
            oc.APPROVED,
            oc.parameters(cvm=method, ui_on_outcome=True, receipt=signature),
            ui=oc.ui_request(
                oc.MSG_APPROVED_SIGN if signature else oc.MSG_APPROVED,
                oc.NOT_READY,
                oc.DEFAULT_HOLD_MS,
            ),
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
