# APDU vectors (tests/vectors/apdu_*.json), run under MicroPython.
from mpyunit import eq, load_json, raises

from protocols import apdu, tlv
from protocols.errors import DecodeError, EncodeError

COMMANDS = "../vectors/apdu_commands.json"
STATUS = "../vectors/apdu_status.json"
DOL = "../vectors/tlv_dol.json"

CRYPTOGRAMS = {"AAC": apdu.AAC, "TC": apdu.TC, "ARQC": apdu.ARQC}


def _h(text):
    return bytes.fromhex(text)


def _build(name, args):
    # Vector arguments are JSON: hex strings for bytes, names for constants.
    if name == "select_by_name":
        return apdu.select_by_name(_h(args["name"]), args.get("next_occurrence", False))
    if name == "get_processing_options":
        return apdu.get_processing_options(_h(args["pdol_data"]))
    if name == "read_record":
        return apdu.read_record(args["record"], args["sfi"])
    if name == "get_data":
        return apdu.get_data(int(args["tag"], 16))
    if name == "get_challenge":
        return apdu.get_challenge()
    if name == "generate_ac":
        return apdu.generate_ac(CRYPTOGRAMS[args["cryptogram"]], _h(args["cdol_data"]), args["cda"])
    if name == "internal_authenticate":
        return apdu.internal_authenticate(_h(args["ddol_data"]))
    if name == "external_authenticate":
        return apdu.external_authenticate(_h(args["issuer_authentication_data"]))
    if name == "verify":
        return apdu.verify(_h(args["pin_data"]), args["enciphered"])
    if name == "plaintext_pin_block":
        return apdu.plaintext_pin_block(args["pin"])
    if name == "get_response":
        return apdu.get_response(args["le"])
    raise AssertionError("no builder " + name)


def test_builders_match_published_commands():
    vectors = load_json(COMMANDS)["builders"]
    for v in vectors:
        got = _build(v["builder"], v["args"])
        eq(got.hex().upper(), v["command"], v["builder"] + str(v["args"]))


def test_gpo_from_published_pdol_and_terminal_data():
    for v in load_json(DOL)["build"]:
        if "gpo_command" not in v:
            continue
        store = {}
        for key in v["store"]:
            store[int(key, 16)] = _h(v["store"][key])
        data = tlv.build_dol_data(_h(v["dol"]), store)
        eq(apdu.get_processing_options(data).hex().upper(), v["gpo_command"], v["name"])


def test_parse_iso_cases():
    for v in load_json(COMMANDS)["parse"]:
        command = apdu.parse_command(_h(v["command"]))
        header = bytes((command.cla, command.ins, command.p1, command.p2))
        eq(header.hex().upper(), v["header"], v["name"])
        eq(command.data.hex().upper(), v["data"], v["name"])
        eq(command.le, v["le"], v["name"] + " Le")
        eq(command.case, v["case"], v["name"] + " case")
        eq(command.extended, v["extended"], v["name"] + " extended")
        eq(command.encode().hex().upper(), v["command"], v["name"] + " re-encoded")


def test_parse_rejects_inconsistent_lengths():
    for v in load_json(COMMANDS)["invalid"]:
        e = raises(DecodeError, apdu.parse_command, _h(v["command"]))
        eq(e.field, v["field"], v["name"])


def test_responses():
    vectors = load_json(COMMANDS)
    for v in vectors["responses"]:
        response = apdu.parse_response(_h(v["response"]))
        eq(response.data.hex().upper(), v["data"])
        eq("%04X" % response.sw, v["sw"])
        eq(response.encode().hex().upper(), v["response"])
    for v in vectors["invalid_responses"]:
        raises(DecodeError, apdu.parse_response, _h(v["response"]))


def test_status_word_meanings():
    for v in load_json(STATUS)["meanings"]:
        meaning = apdu.sw_meaning(int(v["sw"], 16))
        eq(v["contains"].lower() in meaning.lower(), True, v["sw"] + ": " + meaning)


def _scripted_card(steps):
    # A card that expects exactly the listed commands, in order.
    state = {"next": 0}

    def transmit(command):
        index = state["next"]
        if index >= len(steps):
            raise AssertionError("unexpected extra command " + command.hex())
        expected, reply = steps[index]
        eq(command.hex().upper(), expected, "command %d" % index)
        state["next"] = index + 1
        return _h(reply)

    return transmit, state


def test_exchanges_follow_61xx_and_6cxx():
    for v in load_json(STATUS)["exchanges"]:
        transmit, state = _scripted_card(v["steps"])
        final = apdu.exchange(transmit, _h(v["command"]))
        eq(final.encode().hex().upper(), v["final"], v["name"])
        eq(state["next"], len(v["steps"]), v["name"] + " all steps used")


def test_next_command_for():
    select = apdu.select_by_name(_h("A0000000031010"))
    eq(apdu.next_command_for(_h("6110"), select), _h("00C0000010"))
    eq(apdu.next_command_for(_h("6100"), select), _h("00C0000000"))
    eq(apdu.next_command_for(_h("6C08"), _h("0084000000")), _h("0084000008"))
    eq(apdu.next_command_for(_h("9000"), select), None)
    eq(apdu.next_command_for(_h("6A82"), select), None)


def test_exchange_gives_up_on_endless_61xx():
    def transmit(command):
        return _h("6101")

    raises(DecodeError, apdu.exchange, transmit, apdu.get_challenge())


def test_builders_reject_bad_arguments():
    raises(EncodeError, apdu.read_record, 1, 0)
    raises(EncodeError, apdu.read_record, 1, 31)
    raises(EncodeError, apdu.read_record, 0, 1)
    raises(EncodeError, apdu.select_by_name, b"")
    raises(EncodeError, apdu.select_by_name, bytes(17))
    raises(EncodeError, apdu.generate_ac, 0xC0, b"")
    raises(EncodeError, apdu.get_data, 0xDF8129)
    raises(EncodeError, apdu.plaintext_pin_block, "123")
    raises(EncodeError, apdu.plaintext_pin_block, "12a4")
    raises(EncodeError, apdu.external_authenticate, bytes(7))
    raises(EncodeError, apdu.Command(0, 0, 0, 0, bytes(65536)).encode)
    raises(EncodeError, apdu.Command(0, 0, 0, 0, le=0).encode)
    raises(EncodeError, apdu.Command(0x100, 0, 0, 0).encode)


def test_extended_form_is_chosen_when_needed():
    eq(apdu.Command(0, 0xB0, 0, 0, le=257).encode(), _h("00B00000000101"))
    eq(apdu.Command(0, 0xD6, 0, 0, bytes(256)).encode()[:7], _h("00D60000000100"))
    eq(apdu.Command(0, 0xB0, 0, 0, le=256).encode(), _h("00B0000000"))
