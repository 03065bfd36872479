# AES DUKPT (X9.24-3-2017) under MicroPython with cryptolib: the published
# vectors give the same bytes as on CPython, and the terminal side
# (Originator) agrees with the host-side derivation.
from mpyunit import eq, load_json, raises

from protocols.crypto import aes_dukpt as d
from protocols.crypto.cryptolib_aes import CryptolibAes

V = load_json("../vectors/dukpt_aes_x9_24_3.json")
IKID = bytes.fromhex(V["initial_key_id"])
A128 = V["aes128"]
A256 = V["aes256"]


def _hex(b):
    return "".join("%02X" % x for x in b)


def _ik128():
    return d.initial_key(CryptolibAes, bytes.fromhex(A128["bdk"]), IKID)


def test_initial_keys():
    eq(_hex(_ik128()), A128["initial_key"], "AES-128 IK")
    ik = d.initial_key(CryptolibAes, bytes.fromhex(A256["bdk"]), IKID)
    eq(_hex(ik), A256["initial_key"], "AES-256 IK")


def test_derivation_keys():
    ik = _ik128()
    for c in A128["derivation_keys"]:
        counter = int(c["counter"], 16)
        eq(_hex(d.intermediate_key(CryptolibAes, ik, IKID, counter)), c["key"], c["counter"])


def test_working_keys_aes128():
    ik = _ik128()
    for c in A128["working_keys"]:
        ksn = IKID + bytes.fromhex(c["counter"])
        eq(
            _hex(d.working_key(CryptolibAes, ik, ksn, d.USAGE_PIN_ENCRYPTION)),
            c["pin_encryption"],
            c["counter"],
        )
        eq(
            _hex(d.working_key(CryptolibAes, ik, ksn, d.USAGE_MAC_GENERATION)),
            c["mac_generation"],
            c["counter"],
        )
        eq(
            _hex(d.working_key(CryptolibAes, ik, ksn, d.USAGE_DATA_ENCRYPT)),
            c["data_encrypt"],
            c["counter"],
        )


def test_working_keys_aes256():
    ik = d.initial_key(CryptolibAes, bytes.fromhex(A256["bdk"]), IKID)
    ksn = IKID + b"\x00\x00\x00\x01"
    w256 = A256["working_keys_aes256_counter_1"]
    w128 = A256["working_keys_aes128_counter_1"]
    eq(
        _hex(d.working_key(CryptolibAes, ik, ksn, d.USAGE_PIN_ENCRYPTION)),
        w256["pin_encryption"],
        "PIN 256",
    )
    eq(
        _hex(d.working_key(CryptolibAes, ik, ksn, d.USAGE_DATA_ENCRYPT)),
        w256["data_encrypt"],
        "data 256",
    )
    eq(
        _hex(d.working_key(CryptolibAes, ik, ksn, d.USAGE_MAC_GENERATION, d.KEY_AES128)),
        w128["mac_generation"],
        "MAC 128",
    )


def test_originator_follows_published_sequence():
    o = d.Originator(CryptolibAes, _ik128(), IKID)
    byc = {}
    for c in A128["working_keys"]:
        byc[c["counter"]] = c
    for want in A128["ksn_sequence_first"]:
        eq(_hex(o.ksn()), want, "KSN")
        c = byc.get(want[16:])
        if c is not None:
            eq(_hex(o.working_key(d.USAGE_PIN_ENCRYPTION)), c["pin_encryption"], want)
            eq(_hex(o.working_key(d.USAGE_MAC_GENERATION)), c["mac_generation"], want)
        o.advance()


def test_originator_matches_host_for_first_counters():
    ik = _ik128()
    o = d.Originator(CryptolibAes, ik, IKID)
    for _ in range(40):
        ksn = o.ksn()
        eq(
            o.working_key(d.USAGE_DATA_ENCRYPT),
            d.working_key(CryptolibAes, ik, ksn, d.USAGE_DATA_ENCRYPT),
            _hex(ksn),
        )
        o.advance()


def test_originator_skips_and_exhausts_with_small_max_work():
    # With at most 2 one-bits there are 32 + 32*31/2 = 528 usable counters.
    ik = _ik128()
    o = d.Originator(CryptolibAes, ik, IKID, max_work=2)
    seen = 0
    last = 0
    while True:
        counter = o.counter
        if counter <= last or d.count_bits(counter) > 2:
            raise AssertionError("bad counter %08X after %08X" % (counter, last))
        last = counter
        seen += 1
        if seen % 97 == 0:
            ksn = o.ksn()
            eq(
                o.working_key(d.USAGE_PIN_ENCRYPTION),
                d.working_key(CryptolibAes, ik, ksn, d.USAGE_PIN_ENCRYPTION),
                _hex(ksn),
            )
        try:
            o.advance()
        except d.DukptError:
            break
    eq(seen, 528, "usable counters")
    eq(last, 0xC0000000, "last counter")


def test_bad_inputs_raise_dukpt_error():
    raises(d.DukptError, d.split_ksn, b"\x00" * 10)
    raises(d.DukptError, d.intermediate_key, CryptolibAes, _ik128(), IKID, 0)
    raises(d.DukptError, d.initial_key, CryptolibAes, b"\x00" * 15, IKID)
    eq(d.ksn_is_valid(IKID + bytes.fromhex("0001FFFF")), False, "17 one-bits")
    eq(d.ksn_is_valid(IKID + bytes.fromhex("0001FFFE")), True, "16 one-bits")


def _state_at(ik, counter):
    # Registers a terminal holds when about to use ``counter`` (see the
    # CPython test of the same name), built from host-side derivations.
    low = 0
    while not (counter >> low) & 1:
        low += 1
    bitmap = 1 << low
    keys = [(low, d.intermediate_key(CryptolibAes, ik, IKID, counter))]
    for k in range(low + 1, 32):
        if (counter >> k) & 1:
            continue
        prefix = counter & ~((1 << (k + 1)) - 1)
        if prefix == 0 or d.count_bits(prefix) < d.MAX_WORK:
            bitmap |= 1 << k
            keys.append((k, d.intermediate_key(CryptolibAes, ik, IKID, prefix | (1 << k))))
    head = bytes([1, d.KEY_AES128, d.MAX_WORK]) + IKID
    return (
        head + counter.to_bytes(4, "big") + bitmap.to_bytes(4, "big") + b"".join(k for _, k in keys)
    )


def test_state_round_trip_and_published_rollover():
    ik = _ik128()
    o = d.Originator(CryptolibAes, ik, IKID)
    for _ in range(20):
        o.advance()
    eq(o.to_state(), _state_at(ik, o.counter), "state model")
    r = d.Originator.from_state(CryptolibAes, o.to_state())
    for _ in range(20):
        eq(r.working_key(d.USAGE_PIN_ENCRYPTION), o.working_key(d.USAGE_PIN_ENCRYPTION), "restored")
        r.advance()
        o.advance()
    for seq in ("ksn_sequence_rollover", "ksn_sequence_last"):
        ksns = A128[seq]
        o = d.Originator.from_state(CryptolibAes, _state_at(ik, int(ksns[0][16:], 16)))
        for want in ksns:
            eq(_hex(o.ksn()), want, seq)
            if want != ksns[-1] or seq == "ksn_sequence_rollover":
                o.advance()
    raises(d.DukptError, o.advance)
