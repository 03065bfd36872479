# The PN532 driver (firmware/drivers/pn532) under MicroPython against a fake
# UART that records every byte written and serves scripted answers, nfcpy
# style: each step says which bytes the driver must write and what the "chip"
# answers (in pieces, with noise, a NACK, a corrupt checksum, or nothing).
# Time is a fake clock, so timeouts cost no real time.
#
# Literal frames and their sources (also in tests/vectors/pn532_frames.json):
#   GetFirmwareVersion 0000FF02FED4022A00, answer 0000FF06FAD50332010607E800:
#     nfcpy 1.0.4 nfc/clf/pn532.py init(); DFRobot DFR0231 sketch command list
#   SAMConfiguration 01 00 00 = 0000FF05FBD4140100001700, answer 0000FF02FED5151600:
#     nfcpy 1.0.4 nfc/clf/pn532.py init()
#   InListPassiveTarget 01 00 = 0000FF04FCD44A0100E100 and the answer
#     0000FF0CF4D54B010100040804078CFC4FF000 (UID 078CFC4F): DFR0231 capture
from mpyunit import eq, raises

from firmware.drivers.pn532 import (
    PN532,
    AckTimeout,
    CardCollision,
    NoTargetError,
    PN532ProtocolError,
    PN532StatusError,
    PN532SyntaxError,
    ResponseTimeout,
    TargetTimeout,
)
from protocols import pn532 as frames


def h(text):
    text = text.replace(" ", "")
    return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))


ACK = frames.ACK_FRAME
NACK = frames.NACK_FRAME
GET_VERSION = h("0000FF02FED4022A00")
VERSION_ANSWER = h("0000FF06FAD50332010607E800")
SAM_NORMAL = h("0000FF05FBD4140100001700")
SAM_ANSWER = h("0000FF02FED5151600")
LIST_ONE_A = h("0000FF04FCD44A0100E100")
LIST_ANSWER_CLASSIC = h("0000FF0CF4D54B010100040804078CFC4FF000")


class FakeClock:
    def __init__(self):
        self.now = 1000

    def ticks_ms(self):
        return self.now

    def ticks_diff(self, a, b):
        return a - b

    def sleep_ms(self, ms):
        self.now += ms


class FakeUart:
    """Each write must equal the next expected bytes of the script (steps of
    (expected, [chunks])); a matching write queues that step's chunks, served
    one chunk per read.  Writes with no script step left are recorded and
    fail the test in done()."""

    def __init__(self, steps):
        self.steps = list(steps)
        self.written = []
        self.queue = []
        self.unexpected = []

    def write(self, data):
        data = bytes(data)
        self.written.append(data)
        if not self.steps:
            self.unexpected.append(data)
            return len(data)
        expected, chunks = self.steps.pop(0)
        if data != expected:
            raise AssertionError("wrote %s, expected %s" % (data.hex(), expected.hex()))
        self.queue.extend(chunks)
        return len(data)

    def any(self):
        return len(self.queue[0]) if self.queue else 0

    def read(self, n=None):
        if not self.queue:
            return None
        chunk = self.queue[0]
        if n is None or n >= len(chunk):
            self.queue.pop(0)
            return chunk
        self.queue[0] = chunk[n:]
        return chunk[:n]

    def done(self):
        eq(self.steps, [], "script steps left")
        eq(self.unexpected, [], "unexpected writes")


def reader(steps, **kw):
    uart = FakeUart(steps)
    clock = FakeClock()
    return PN532(uart, clock, **kw), uart, clock


def bytewise(data):
    return [data[i : i + 1] for i in range(len(data))]


def test_wakeup_writes_hsu_preamble_then_sam_configuration():
    r, uart, _ = reader([(frames.HSU_WAKEUP, []), (SAM_NORMAL, [ACK, SAM_ANSWER])])
    r.wakeup()
    eq(uart.written, [h("5555" + "00" * 14), SAM_NORMAL])
    uart.done()


def test_start_bounds_the_polling_and_switches_the_field_off():
    r, uart, _ = reader(
        [
            (frames.HSU_WAKEUP, []),
            (SAM_NORMAL, [ACK, SAM_ANSWER]),
            # RFConfiguration CfgItem 5: MxRtyATR FF, MxRtyPSL 01, MxRtyPassiveActivation 02
            (h("0000FF06FAD43205FF0102F300"), [ACK, frames.encode_response(0x32)]),
            (h("0000FF04FCD4320100F900"), [ACK, frames.encode_response(0x32)]),
        ]
    )
    r.start()
    uart.done()


def test_wait_for_card_polls_until_timeout_then_restores_the_retries():
    poll_forever = h("0000FF06FAD43205FF01FFF600")
    poll_twice = h("0000FF06FAD43205FF0102F300")
    r, uart, clock = reader(
        [
            (poll_forever, [ACK, frames.encode_response(0x32)]),
            (h("0000FF04FCD44A0200E000"), [ACK]),  # the chip polls on...
            (ACK, []),  # ...until our abort
            (poll_twice, [ACK, frames.encode_response(0x32)]),
        ]
    )
    start = clock.now
    eq(r.wait_for_card(700), None)
    eq(clock.now - start, 700)
    uart.done()


def test_firmware_version_answer_byte_by_byte():
    r, uart, _ = reader([(GET_VERSION, bytewise(ACK + VERSION_ANSWER))])
    eq(r.firmware_version(), (0x32, 1, 6, 7))
    uart.done()


def test_noise_before_and_between_frames_is_skipped():
    noise = b"\xff\x13\x00\x37\x00\xff\x99"  # includes a false start code
    r, uart, _ = reader([(GET_VERSION, [noise, ACK[:4], ACK[4:] + b"\xa5\x5a", VERSION_ANSWER])])
    eq(r.firmware_version(), (0x32, 1, 6, 7))
    eq(r.link.noise_bytes > 0, True, "noise counted")
    uart.done()


def test_list_passive_target_classic_capture():
    r, uart, _ = reader([(LIST_ONE_A, [ACK, LIST_ANSWER_CLASSIC])])
    targets = r.list_passive_target()
    eq(len(targets), 1)
    t = targets[0]
    eq((t.tg, t.atqa, t.sak, t.uid, t.ats), (1, h("0004"), 0x08, h("078CFC4F"), b""))
    eq(t.iso_dep, False)
    eq(r.target is t, True)
    uart.done()


ATS = h("0578807002")  # TL 05, T0 78 (FSCI 8), TA 80, TB 70, TC 02
ISO_TARGET = h("01 01 0004 20 04 A1B2C3D4") + ATS
SELECT_PPSE = h("00A404000E325041592E5359532E444446303100")
PPSE_FCI = h("6F10840E325041592E5359532E4444463031A5009000")


def test_activate_and_exchange_select_ppse():
    exchange_cmd = frames.encode_command(0x40, b"\x01" + SELECT_PPSE)
    eq(exchange_cmd[:8], h("0000FF17E9D44001"), "InDataExchange header")
    r, uart, _ = reader(
        [
            (h("0000FF04FCD44A0200E000"), [ACK, frames.encode_response(0x4A, ISO_TARGET)]),
            (exchange_cmd, [ACK, frames.encode_response(0x40, b"\x00" + PPSE_FCI)]),
        ]
    )
    card = r.activate()
    eq((card.uid, card.sak, card.ats, card.iso_dep), (h("A1B2C3D4"), 0x20, ATS, True))
    eq(card.exchange_apdu(SELECT_PPSE), PPSE_FCI)
    uart.done()


def test_two_cards_release_and_collision():
    two = h("02 01 0004 20 04 A1B2C3D4") + ATS + h("02 0004 20 04 01020304") + ATS
    r, uart, _ = reader(
        [
            (h("0000FF04FCD44A0200E000"), [ACK, frames.encode_response(0x4A, two)]),
            (frames.encode_command(0x52, b"\x00"), [ACK, frames.encode_response(0x52, b"\x00")]),
        ]
    )
    e = raises(CardCollision, r.activate)
    eq(e.count, 2)
    eq(r.target, None)
    uart.done()


def test_no_card_returns_none_and_exchange_needs_a_target():
    r, uart, _ = reader(
        [(h("0000FF04FCD44A0200E000"), [ACK, frames.encode_response(0x4A, b"\x00")])]
    )
    eq(r.activate(), None)
    raises(NoTargetError, r.exchange_apdu, SELECT_PPSE)
    uart.done()


def test_nack_instead_of_ack_resends_the_command():
    r, uart, _ = reader([(GET_VERSION, [NACK]), (GET_VERSION, [ACK, VERSION_ANSWER])])
    eq(r.firmware_version(), (0x32, 1, 6, 7))
    eq(r.link.resends, 1)
    uart.done()


def test_corrupt_response_is_nacked_and_the_resend_accepted():
    bad = bytearray(VERSION_ANSWER)
    bad[-2] ^= 0x01  # DCS
    r, uart, _ = reader([(GET_VERSION, [ACK, bytes(bad)]), (NACK, [VERSION_ANSWER])])
    eq(r.firmware_version(), (0x32, 1, 6, 7))
    eq(uart.written, [GET_VERSION, NACK])
    eq(r.link.nacks_sent, 1)
    uart.done()


def test_response_corrupt_every_time_gives_protocol_error():
    bad = bytearray(VERSION_ANSWER)
    bad[4] ^= 0x01  # LCS
    bad = bytes(bad)
    r, uart, _ = reader([(GET_VERSION, [ACK, bad]), (NACK, [bad]), (NACK, [bad]), (NACK, [bad])])
    raises(PN532ProtocolError, r.firmware_version)
    eq(uart.written, [GET_VERSION, NACK, NACK, NACK])
    uart.done()


def test_silence_is_an_ack_timeout():
    r, uart, clock = reader([(GET_VERSION, [])], ack_timeout_ms=40)
    start = clock.now
    e = raises(AckTimeout, r.firmware_version)
    eq("GetFirmwareVersion" in str(e), True, str(e))
    eq(clock.now - start, 40, "waited the ACK timeout")
    uart.done()


def test_ack_then_silence_is_a_response_timeout_and_aborts_with_ack():
    r, uart, clock = reader([(LIST_ONE_A, [ACK]), (ACK, [])])
    start = clock.now
    raises(ResponseTimeout, r.list_passive_target, 1, b"", 300)
    eq(clock.now - start, 300)
    eq(uart.written, [LIST_ONE_A, ACK])
    uart.done()


def test_a_stream_of_corrupt_frames_cannot_hold_the_ack_wait_forever():
    corrupt = h("0000FF0301FF00")  # LEN 03, LCS 01: a bad length checksum

    class Flood(FakeUart):
        # Once the command is out, every poll of the line finds one more corrupt frame.
        flooding = False

        def write(self, data):
            self.flooding = True
            return FakeUart.write(self, data)

        def any(self):
            return len(corrupt) if self.flooding else 0

        def read(self, n=None):
            clock.now += 5
            return corrupt

    uart = Flood([(GET_VERSION, [])])
    clock = FakeClock()
    r = PN532(uart, clock, ack_timeout_ms=40)
    start = clock.now
    raises(AckTimeout, r.firmware_version)
    # three extensions of 40 ms at most, then the ACK timeout stands
    eq(clock.now - start <= 40 * 4 + 5, True, "waited %d ms" % (clock.now - start))
    uart.done()


def test_error_frame_is_a_syntax_error():
    r, uart, _ = reader([(GET_VERSION, [ACK, frames.ERROR_FRAME])])
    raises(PN532SyntaxError, r.firmware_version)
    uart.done()


def test_stray_frame_for_another_command_is_ignored():
    stray = frames.encode_response(0x14)
    r, uart, _ = reader([(GET_VERSION, [ACK, stray, VERSION_ANSWER])])
    eq(r.firmware_version(), (0x32, 1, 6, 7))
    eq(r.link.stray_frames, 1)
    uart.done()


def _listed(steps):
    steps = [(LIST_ONE_A, [ACK, frames.encode_response(0x4A, ISO_TARGET)])] + steps
    r, uart, _clock = reader(steps)
    r.list_passive_target()
    return r, uart


def test_status_timeout_is_target_timeout_naming_the_status():
    cmd = frames.encode_command(0x40, b"\x01" + SELECT_PPSE)
    r, uart = _listed([(cmd, [ACK, frames.encode_response(0x40, b"\x01")])])
    e = raises(TargetTimeout, r.exchange_apdu, SELECT_PPSE)
    eq((e.status, e.code), (0x01, 0x01))
    eq("time out" in str(e) and "InDataExchange" in str(e), True, str(e))
    uart.done()


def test_other_status_is_status_error_with_meaning():
    cmd = frames.encode_command(0x40, b"\x01" + SELECT_PPSE)
    r, uart = _listed([(cmd, [ACK, frames.encode_response(0x40, b"\x27")])])
    e = raises(PN532StatusError, r.exchange_apdu, SELECT_PPSE)
    eq(isinstance(e, TargetTimeout), False)
    eq(e.code, 0x27)
    eq("not acceptable" in e.meaning, True, e.meaning)
    uart.done()


def test_long_apdu_is_chained_with_mi_in_tg_and_extended_frames():
    apdu = h("80E20000") + b"\x00" + (296).to_bytes(2, "big") + bytes(range(256)) + bytes(40)
    eq(len(apdu), 303)
    first = frames.encode_command(0x40, b"\x41" + apdu[:262])
    second = frames.encode_command(0x40, b"\x01" + apdu[262:])
    eq(first[3:5], h("FFFF"), "extended frame")
    eq(first[5:7], (265).to_bytes(2, "big"), "LEN 265")
    eq(first[8:11], h("D44041"), "MI set in Tg")
    eq(second[5:8], h("D44001"), "last piece: MI clear")
    r, uart = _listed(
        [
            (first, [ACK, frames.encode_response(0x40, b"\x00")]),
            (second, [ACK, frames.encode_response(0x40, b"\x00\x90\x00")]),
        ]
    )
    eq(r.exchange_apdu(apdu), h("9000"))
    uart.done()


def test_long_answer_is_collected_while_status_has_mi():
    part1 = bytes(range(256)) + bytes(6)
    part2 = bytes(range(100)) + h("9000")
    r, uart = _listed(
        [
            (
                frames.encode_command(0x40, h("0100B0000000")),
                [ACK, frames.encode_response(0x40, b"\x40" + part1)],
            ),
            (
                frames.encode_command(0x40, b"\x01"),
                [ACK, frames.encode_response(0x40, b"\x00" + part2)],
            ),
        ]
    )
    eq(r.exchange_apdu(h("00B0000000")), part1 + part2)
    uart.done()


def test_rf_off_release_and_power_down_bytes():
    r, uart = _listed(
        [
            (h("0000FF03FDD4520AD000"), [ACK, frames.encode_response(0x52, b"\x00")]),
            (h("0000FF04FCD4320100F900"), [ACK, frames.encode_response(0x32)]),
            (h("0000FF03FDD416100600"), [ACK, frames.encode_response(0x16, b"\x00")]),
        ]
    )
    r.release(10)
    r.rf_off()
    eq(r.target, None)
    r.power_down()
    uart.done()


def test_truncated_target_list_is_a_protocol_error():
    r, uart, _ = reader(
        [(LIST_ONE_A, [ACK, frames.encode_response(0x4A, h("01 01 0004 08 07 0102"))])]
    )
    raises(PN532ProtocolError, r.list_passive_target)
    uart.done()


def test_diagnose_echo_and_general_status():
    payload = b"payterm"
    r, uart, _ = reader(
        [
            (
                frames.encode_command(0x00, b"\x00" + payload),
                [ACK, frames.encode_response(0x00, b"\x00" + payload)],
            ),
            (frames.encode_command(0x04), [ACK, frames.encode_response(0x04, h("00 01 00 80"))]),
        ]
    )
    eq(r.diagnose_echo(payload), payload)
    eq(r.general_status(), (0, 1, 0))
    uart.done()
