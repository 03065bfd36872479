# The contactless entry point's pure pieces under MicroPython (256K heap):
# pre-processing and the TTQ, kernel IDs and the candidate list, CVM list
# rules, Kernel 3 CVM from the CTQ, Kernel 2 action analysis and on-device
# CVM, the masked trace and the outcome's JSON view.
from mpyunit import eq

from firmware.emv.contactless import cvm_list, entry_point, limits, mastercard, visa
from firmware.emv.contactless import outcome as oc
from firmware.emv.contactless.trace import Trace

VISA_AID = b"\xa0\x00\x00\x00\x03\x10\x10"
MC_AID = b"\xa0\x00\x00\x00\x04\x10\x10"
VISA = limits.combination(VISA_AID, limits.KERNEL_VISA)
MC = limits.combination(MC_AID, limits.KERNEL_MASTERCARD)


def test_preprocessing_ttq_at_the_limits():
    cases = (
        (0, "36804000", False),
        (20000, "36004000", False),
        (20001, "36804000", False),
        (50000, "36c04000", False),
        (300000, "36c04000", True),
    )
    for amount, ttq, not_allowed in cases:
        ind = entry_point.preprocess(VISA, amount)
        eq(ind["ttq"].hex(), ttq, "TTQ at %d" % amount)
        eq(ind["not_allowed"], not_allowed, "not allowed at %d" % amount)
    eq(entry_point.preprocess(MC, 5000000)["not_allowed"], False, "K2 checks its own limit")


def test_kernel_ids_and_candidates():
    entries = [
        {0x4F: MC_AID, 0x87: b"\x02"},
        {0x4F: VISA_AID, 0x87: b"\x01", 0x9F2A: b"\x03"},
        {0x4F: b"\xa0\x00\x00\x00\x25\x01", 0x9F2A: b"\x04"},
    ]
    eq([entry_point.kernel_id(e) for e in entries], [2, 3, 4])
    inds = [entry_point.preprocess(c, 1000) for c in limits.COMBINATIONS]
    cands = entry_point.candidates(entries, limits.COMBINATIONS, inds)
    eq([c[2] for c in cands], [VISA_AID, MC_AID])
    inds = [entry_point.preprocess(c, 400000) for c in limits.COMBINATIONS]
    cands = entry_point.candidates(entries, limits.COMBINATIONS, inds)
    eq([c[2] for c in cands], [MC_AID], "Visa not allowed above its limit")


def test_cvm_list():
    rules = bytes.fromhex("000000000000000042031F03")
    eq(cvm_list.select(rules, 0x60, 0, 60000, True)[:2], (oc.CVM_ONLINE_PIN, b"\x42\x03\x00"))
    eq(cvm_list.select(rules, 0x08, 0, 100, True)[:2], (oc.CVM_NO_CVM, b"\x1f\x03\x02"))
    eq(cvm_list.select(rules, 0x00, 0, 100, True)[:2], (oc.NA, b"\x3f\x00\x01"))
    eq(cvm_list.select(None, 0x60, 0, 100, True)[:2], (oc.CVM_NO_CVM, b"\x3f\x00\x00"))


def test_visa_cvm_from_the_ctq():
    ttq = bytes.fromhex("36404000")
    eq(visa.cvm(ttq, b"\x80\x00", True), (oc.CVM_ONLINE_PIN, True))
    eq(visa.cvm(ttq, b"\x00\x80", False), (oc.CVM_CONFIRMATION_CODE_VERIFIED, True))
    eq(visa.cvm(ttq, b"\x40\x00", False), (oc.CVM_OBTAIN_SIGNATURE, True))
    eq(visa.cvm(bytes.fromhex("36004000"), b"", False), (oc.CVM_NO_CVM, True))


def test_kernel_2_action_analysis_and_on_device_cvm():
    card = {0x9F0E: bytes(5), 0x9F0F: bytes.fromhex("F470849800"), 0x9F0D: bytes(5)}
    eq(mastercard.action_analysis(bytearray(5), MC, card), 0x40, "clean TVR: TC")
    eq(mastercard.action_analysis(bytearray(b"\x00\x00\x00\x80\x00"), MC, card), 0x80, "floor")
    denial = dict(card)
    denial[0x9F0E] = bytes.fromhex("0000008000")
    eq(mastercard.action_analysis(bytearray(b"\x00\x00\x00\x80\x00"), MC, denial), 0x00)
    eq(mastercard.on_device_cvm(b"\x1b\x80", MC, True)[1], b"\x01\x00\x02")
    eq(mastercard.on_device_cvm(b"\x19\x80", MC, True), None)


class FakeCard:
    def exchange_apdu(self, command):
        return bytes.fromhex("700E5A084761730000000045" + "5F3401019000")


def test_trace_masks_the_pan():
    trace = Trace()
    card = trace.card(FakeCard())
    card.exchange_apdu(b"\x00\xb2\x01\x0c\x00")
    card.exchange_apdu(b"\x00\xb2\x01\x0c\x00")
    eq(len(trace.entries), 4)
    for _direction, text, _ms in trace.entries:
        eq("4761730000000045" in text, False, "clear PAN in " + text)
    eq(trace.entries[1][1], "700E5A08476173******00455F3401019000")


def test_outcome_json_masks_the_pan():
    out = oc.Outcome(oc.APPROVED, oc.parameters(cvm=oc.CVM_NO_CVM))
    out.data = {0x5A: bytes.fromhex("5413330000000027"), 0x9F27: b"\x40"}
    view = out.to_json()
    eq(view["data"]["5A"], "541333******0027")
    eq(view["data"]["9F27"], "40")
    eq(view["params"]["cvm"], "no CVM")
