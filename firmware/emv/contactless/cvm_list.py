"""CVM list processing for Kernel 2 (EMV Book 3 §10.5, as Book C-2 uses it).

``select(cvm_list, capability, txn_type, amount, currency_match)`` returns
(outcome CVM, CVM Results 9F34 bytes, TVR bits to set).  ``capability`` is
one byte with the layout of terminal capabilities byte 2 (80 plaintext PIN,
40 online enciphered PIN, 20 signature, 10 offline enciphered PIN, 08 no
CVM): Kernel 2 passes 'CVM Capability - CVM Required' (DF8118) or '- No CVM
Required' (DF8119) by the CVM required limit.
"""

from firmware.emv.contactless import outcome as oc
from firmware.emv.contactless.common import TVR_CVM_FAILED, TVR_ONLINE_PIN_ENTERED

FAIL_CVM = 0x00
PLAINTEXT_PIN = 0x01
ONLINE_PIN = 0x02
PLAINTEXT_PIN_SIGNATURE = 0x03
ENCIPHERED_PIN = 0x04
ENCIPHERED_PIN_SIGNATURE = 0x05
SIGNATURE = 0x1E
NO_CVM = 0x1F

RESULT_UNKNOWN = 0x00
RESULT_FAILED = 0x01
RESULT_SUCCESSFUL = 0x02

# the capability bit each CVM needs; offline PINs never on contactless here
NEEDS = {ONLINE_PIN: 0x40, SIGNATURE: 0x20, NO_CVM: 0x08}


def _condition(cond, capability, code, txn_type, amount, currency_match, x, y):
    if cond == 0x00:
        return True
    if cond == 0x01:
        return txn_type == 0x01
    if cond == 0x02:
        return txn_type not in (0x01, 0x17, 0x09)
    if cond == 0x03:
        need = NEEDS.get(code)
        return need is not None and bool(capability & need)
    if cond == 0x04:
        return txn_type == 0x17
    if cond == 0x05:
        return txn_type == 0x09
    if cond in (0x06, 0x07, 0x08, 0x09):
        if not currency_match:
            return False
        limit = x if cond in (0x06, 0x07) else y
        return amount < limit if cond in (0x06, 0x08) else amount > limit
    return False  # RFU / proprietary conditions: not understood, skip


def select(cvm_list, capability, txn_type, amount, currency_match):
    """Walk the CVM list; (outcome CVM, CVM results, [TVR bits])."""
    if cvm_list is None or len(cvm_list) < 10 or len(cvm_list) % 2:
        return (oc.CVM_NO_CVM, b"\x3f\x00\x00", [])
    x = int.from_bytes(cvm_list[0:4], "big")
    y = int.from_bytes(cvm_list[4:8], "big")
    for i in range(8, len(cvm_list), 2):
        rule, cond = cvm_list[i], cvm_list[i + 1]
        code = rule & 0x3F
        if not _condition(cond, capability, code, txn_type, amount, currency_match, x, y):
            continue
        need = NEEDS.get(code)
        if code != FAIL_CVM and need is not None and capability & need:
            if code == ONLINE_PIN:
                return (
                    oc.CVM_ONLINE_PIN,
                    bytes((rule, cond, RESULT_UNKNOWN)),
                    [TVR_ONLINE_PIN_ENTERED],
                )
            if code == SIGNATURE:
                return (oc.CVM_OBTAIN_SIGNATURE, bytes((rule, cond, RESULT_UNKNOWN)), [])
            return (oc.CVM_NO_CVM, bytes((rule, cond, RESULT_SUCCESSFUL)), [])
        # the CVM failed or is not supported here
        if rule & 0x40 and code != FAIL_CVM:
            continue
        return (oc.NA, bytes((rule, cond, RESULT_FAILED)), [TVR_CVM_FAILED])
    return (oc.NA, b"\x3f\x00\x01", [TVR_CVM_FAILED])
