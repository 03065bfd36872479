# Contact-card interface under MicroPython with a scripted card on a fake
# UART: every byte the terminal writes is checked against the script, in
# order.  ATRs are published ones (tests/vectors/atr_cards.json); T=1 blocks
# were written out with their LRC computed separately (XOR in CPython), T=0
# exchanges follow ISO 7816-3 §10.3 procedure bytes.
from mpyunit import eq, raises

from firmware.drivers.iso7816 import (
    T1,
    CardAbsent,
    CardPort,
    CardProtocolError,
    CardReader,
    CardTimeout,
)


def h(text):
    text = text.replace(" ", "")
    return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))


COLD = "FFA501"
ATR_T0 = "3B6500002063CB6800"  # VISA credit card (Skandiabanken), T=0
ATR_T1 = "3BE600FF8131FE4544492030324D70"  # MasterCard Debit (Alior), T=1 IFSC 254
ATR_T1_IFSC16 = "3B8081111000"  # T=1, TA3 = 10: IFSC 16 (built for chaining)


class ScriptedCard:
    """A fake UART.  ``steps``: ("w", hex) the terminal must write next,
    ("r", hex) the card sends.  Reads run the script up to the next write
    the terminal has not made yet; nothing to read is a timeout (None)."""

    def __init__(self, steps):
        self.steps = [(k, h(v)) for k, v in steps]
        self.wire = b""
        self.rx = b""
        self.inits = []

    def _run(self):
        while self.steps:
            kind, data = self.steps[0]
            if kind == "r":
                self.rx += data
                self.steps.pop(0)
                continue
            if len(self.wire) < len(data):
                return
            eq(self.wire[: len(data)].hex(), data.hex(), "terminal wrote")
            self.wire = self.wire[len(data) :]
            self.steps.pop(0)

    def write(self, buf):
        self.wire += bytes(buf)
        return len(buf)

    def init(self, **kw):
        self.inits.append(kw)

    def any(self):
        self._run()
        return len(self.rx)

    def read(self, n=None):
        self._run()
        if not self.rx:
            return None
        n = len(self.rx) if n is None else n
        out, self.rx = self.rx[:n], self.rx[n:]
        return out

    def done(self):
        self._run()
        eq(self.steps, [], "script left")
        eq(self.wire, b"", "unexpected bytes from the terminal")


def reader_with(steps, **kw):
    card = ScriptedCard(steps)
    return card, CardReader(card, **kw)


# -- ATR and power ----------------------------------------------------------------------


def test_cold_reset_reads_exactly_the_atr():
    card, r = reader_with([("w", COLD), ("r", ATR_T0)])
    atr = r.power_on()
    eq(atr.raw, h(ATR_T0))
    eq((r.protocol, atr.historical), (0, h("2063CB6800")))
    # WWT = 960 x WI(10) x 372 / 3.5712 MHz = 1000 ms, + 1 + 200 margin
    eq(r.transport.wwt_ms, 1201)
    card.done()


def test_mute_card_and_bad_atr():
    _card, r = reader_with([("w", COLD)])
    raises(CardAbsent, r.power_on)
    _card, r = reader_with([("w", COLD), ("r", "3BE600FF8131FE4544492030324D71")])
    raises(CardProtocolError, r.power_on)  # TCK wrong
    _card, r = reader_with([("w", COLD), ("r", "4142")])
    raises(CardProtocolError, r.power_on)  # not a TS


def test_inverse_convention_card_is_converted_both_ways():
    # logical ATR 3F65250024096B9000 as a direct UART sees it, then a T=0 command
    from protocols.atr import inverse_byte

    def inv(hexs):
        return "".join("%02X" % inverse_byte(b) for b in h(hexs))

    card, r = reader_with(
        [
            ("w", COLD),
            ("r", inv("3F65250024096B9000")),
            ("w", inv("00B2010C00")),
            ("r", inv("6A83")),
        ]
    )
    eq(r.power_on().convention, "inverse")
    eq(r.exchange_apdu(h("00B2010C00")), h("6A83"))
    card.done()


def test_presence_and_power_off_are_in_band_on_the_sim_line():
    card, r = reader_with([("w", "FFA503"), ("r", "01"), ("w", "FFA500")])
    eq(r.present(), True)
    r.power_off()
    card.done()
    raises(Exception, r.exchange_apdu, h("00B2010C00"))


# -- T=0 ------------------------------------------------------------------------------------

FCI = "6F1A840E315041592E5359532E4444463031A5088801015F2D02656E"


def test_t0_case4_select_with_61xx_get_response():
    card, r = reader_with(
        [
            ("w", COLD),
            ("r", ATR_T0),
            ("w", "00A404000E"),
            ("r", "A4"),  # INS: send all data
            ("w", "315041592E5359532E4444463031"),
            ("r", "611C"),
            ("w", "00C000001C"),  # GET RESPONSE, Le = 1C
            ("r", "C0" + FCI + "9000"),
        ]
    )
    r.power_on()
    resp = r.exchange_apdu(h("00A404000E315041592E5359532E444446303100"))
    eq(resp, h(FCI + "9000"))
    card.done()


def test_t0_case2_with_6cxx_and_nulls():
    card, r = reader_with(
        [
            ("w", COLD),
            ("r", ATR_T0),
            ("w", "00B2010C00"),
            ("r", "6C0A"),  # wrong Le: 0A
            ("w", "00B2010C0A"),
            ("r", "6060B2"),  # two NULLs, then INS
            ("r", "70085A06476173900123" + "9000"),
        ]
    )
    r.power_on()
    eq(r.exchange_apdu(h("00B2010C00")), h("70085A06476173900123 9000"))
    card.done()


def test_t0_case3_byte_by_byte_with_complemented_ins():
    card, r = reader_with(
        [
            ("w", COLD),
            ("r", ATR_T0),
            ("w", "0020008008"),
            ("r", "60DF"),  # NULL, then ~INS: one byte
            ("w", "24"),
            ("r", "DF"),
            ("w", "12"),
            ("r", "20"),  # INS: the rest
            ("w", "34FFFFFFFFFF"),
            ("r", "63C2"),  # wrong PIN, 2 tries left: passed through
        ]
    )
    r.power_on()
    eq(r.exchange_apdu(h("002000800824 1234FFFFFFFFFF")), h("63C2"))
    card.done()


def test_t0_case1_and_errors_then_recovery():
    card, r = reader_with(
        [
            ("w", COLD),
            ("r", ATR_T0),
            ("w", "0070000000"),
            ("r", "9000"),
            ("w", "00B2010C00"),
            ("r", "A5"),  # not a procedure byte
            ("w", "00B2010C00"),  # nothing comes back: timeout
            ("w", "00B2010C00"),
            ("r", "6A83"),
        ]
    )
    r.power_on()
    eq(r.exchange_apdu(h("0070000000")), h("9000"))
    raises(CardProtocolError, r.exchange_apdu, h("00B2010C00"))
    raises(CardTimeout, r.exchange_apdu, h("00B2010C00"))
    eq(r.exchange_apdu(h("00B2010C00")), h("6A83"))
    raises(CardProtocolError, r.exchange_apdu, h("00B2010C0000010000"))  # extended
    card.done()


def test_t0_card_sending_too_much_is_an_error():
    _card, r = reader_with(
        [("w", COLD), ("r", ATR_T0), ("w", "00B2010C02"), ("r", "B2AABB"), ("r", "B2")]
    )
    r.power_on()
    raises(CardProtocolError, r.exchange_apdu, h("00B2010C02"))


# -- T=1 --------------------------------------------------------------------------------------

SELECT_PPSE = "00A404000E325041592E5359532E444446303100"
I0_PPSE = "00001400A404000E325041592E5359532E444446303100DE"
PPSE_FCI = "6F10840E325041592E5359532E4444463031"
I0_FCI = "0000146F10840E325041592E5359532E4444463031900015"
GPO = "80A8000002830000"
I1_GPO = "00400880A8000002830000E1"
I1_GPO_RESP = "00400877069F270180900090"


def t1_session(extra, atr=ATR_T1, ifs=True):
    steps = [("w", COLD), ("r", atr)]
    if ifs:
        steps += [("w", "00C101FE3E"), ("r", "00E101FE1E")]
    card, r = reader_with(steps + extra, ifsd=254 if ifs else None)
    r.power_on()
    return card, r


def test_t1_ifs_negotiation_and_two_apdus_with_alternating_ns():
    card, r = t1_session([("w", I0_PPSE), ("r", I0_FCI), ("w", I1_GPO), ("r", I1_GPO_RESP)])
    eq(r.protocol, 1)
    t = r.transport
    eq((t.ifsc, t.edc), (254, "LRC"))
    # BWT = 11 etu + 2^4 x 960 etu at 372 / 3.5712 MHz = 1601 ms, + 1 + 200
    eq((t.bwt_ms, t.cwt_ms), (1802, 205))
    eq(r.exchange_apdu(h(SELECT_PPSE)), h(PPSE_FCI + "9000"))
    eq(r.exchange_apdu(h(GPO)), h("77069F2701809000"))
    card.done()


def test_t1_command_chaining_at_the_ifsc():
    apdu = "00DA000023" + "".join("%02X" % i for i in range(1, 36))
    card, r = t1_session(
        [
            ("w", "00201000DA0000230102030405060708090A0BC9"),  # I(0,M)
            ("r", "00900090"),  # R(1)
            ("w", "0060100C0D0E0F101112131415161718191A1B70"),  # I(1,M)
            ("r", "00800080"),  # R(0)
            ("w", "0000081C1D1E1F2021222308"),  # I(0)
            ("r", "000002900092"),  # I(0) 9000
        ],
        atr=ATR_T1_IFSC16,
        ifs=False,
    )
    eq(r.transport.ifsc, 16)
    eq(r.exchange_apdu(h(apdu)), h("9000"))
    card.done()


def test_t1_response_chaining_and_wtx():
    card, r = t1_session(
        [
            ("w", I0_PPSE),
            ("r", "00C30103C1"),  # S(WTX request) x3
            ("w", "00E30103E1"),  # S(WTX response) x3
            ("r", "002005010203040524"),  # I(0,M)
            ("w", "00900090"),  # R(1): next please
            ("r", "00400406079000D5"),  # I(1)
        ]
    )
    card.inits = []
    eq(r.exchange_apdu(h(SELECT_PPSE)), h("0102030405060790 00"))
    firsts = [kw["timeout"] for kw in card.inits]
    if 3 * 1802 not in firsts:
        raise AssertionError("no read waited 3 x BWT after WTX: %r" % firsts)
    eq(r.transport.stats["wtx"], 1)
    card.done()


def test_t1_edc_error_and_retransmission_request():
    bad = I0_FCI[:-2] + "14"  # LRC off by one bit
    card, r = t1_session(
        [
            ("w", I0_PPSE),
            ("r", bad),
            ("w", "00810081"),  # R(0), EDC error
            ("r", I0_FCI),
            ("w", I1_GPO),
            ("r", "00800080"),  # R(0) after our I(1): an acknowledgement out of place
            ("w", "00C000C0"),  # so the terminal resynchronises
            ("r", "00E000E0"),
        ]
    )
    eq(r.exchange_apdu(h(SELECT_PPSE)), h(PPSE_FCI + "9000"))
    # an R-block that is no answer to I(1): resynchronise and fail the APDU
    raises(CardProtocolError, r.exchange_apdu, h(GPO))
    card.done()


def test_t1_card_asks_for_the_block_again():
    card, r = t1_session(
        [
            ("w", I0_PPSE),
            ("r", "00800080"),  # R(0): N(R) = our N(S): retransmit
            ("w", I0_PPSE),
            ("r", I0_FCI),
        ]
    )
    eq(r.exchange_apdu(h(SELECT_PPSE)), h(PPSE_FCI + "9000"))
    eq(r.transport.stats["retransmits"], 1)
    card.done()


def test_t1_persistent_garbage_resynchronises_and_the_link_recovers():
    card, r = t1_session(
        [
            ("w", I0_PPSE),
            ("r", "DEADBEEF"),
            ("w", "00820082"),  # R(0) other error (LEN/PCB/NAD)
            ("r", "00000155AA"),
            ("w", "00810081"),  # R(0) EDC error
            ("r", "FF"),
            ("w", "00820082"),
            ("r", "0000"),
            ("w", "00C000C0"),  # S(RESYNCH request)
            ("r", "00E000E0"),  # S(RESYNCH response)
            ("w", I0_PPSE),  # sequence numbers restarted: I(0) again
            ("r", I0_FCI),
        ]
    )
    raises(CardProtocolError, r.exchange_apdu, h(SELECT_PPSE))
    eq((r.transport.ns, r.transport.card_ns, r.transport.stats["resynch"]), (0, 0, 1))
    eq(r.exchange_apdu(h(SELECT_PPSE)), h(PPSE_FCI + "9000"))
    card.done()


def test_t1_silent_card_gives_up_without_hanging():
    card = ScriptedCard(
        [
            ("w", I0_PPSE),
            ("w", "00820082"),
            ("w", "00820082"),
            ("w", "00820082"),
            ("w", "00C000C0"),
            ("w", "00C000C0"),
            ("w", "00C000C0"),
        ]
    )
    t = T1(CardPort(card), 254, "LRC", 20, 20)
    raises(CardProtocolError, t.transmit, h(SELECT_PPSE))
    card.done()


def test_t1_abort_and_ifs_request_from_the_card():
    card, r = t1_session(
        [
            ("w", I0_PPSE),
            ("r", "00C10120E0"),  # S(IFS request) 32
            ("w", "00E10120C0"),  # S(IFS response) 32
            ("r", I0_FCI),
            ("w", I1_GPO),
            ("r", "00C200C2"),  # S(ABORT request)
            ("w", "00E200E2"),
        ]
    )
    eq(r.exchange_apdu(h(SELECT_PPSE)), h(PPSE_FCI + "9000"))
    eq(r.transport.ifsc, 32)
    raises(CardProtocolError, r.exchange_apdu, h(GPO))
    card.done()


class Pin:
    def __init__(self, name, log, level=0, on_high=None):
        self.name = name
        self.log = log
        self.level = level
        self.on_high = on_high

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v
        self.log.append((self.name, v))
        if v and self.on_high is not None:
            self.on_high()


def test_pin_contacts_activation_order():
    from firmware.drivers.iso7816 import PinContacts

    log = []
    card = ScriptedCard([])

    def answer_to_reset():  # the card answers when RST goes high with power on
        if cmdvcc.level == 0:
            card.rx += h(ATR_T0)

    cmdvcc = Pin("cmdvcc", log)
    off = Pin("off", log, 1)
    slept = []
    contacts = PinContacts(cmdvcc, Pin("rst", log, 0, answer_to_reset), off, slept.append)
    r = CardReader(card, contacts)
    eq(r.power_on().raw, h(ATR_T0))
    # idle (CMDVCC high, RST low), then activation, then RST high after the wait
    eq(
        log,
        [("cmdvcc", 1), ("rst", 0), ("cmdvcc", 1), ("rst", 0), ("cmdvcc", 0), ("rst", 1)],
    )
    eq(slept, [10, 1])
    eq(r.present(), True)
    off.level = 0
    eq(r.present(), False)
    r.power_off()
    eq(log[-2:], [("rst", 0), ("cmdvcc", 1)])
