"""A PN532 v1.6 on its HSU link, sans I/O: ``receive(bytes)`` returns the
bytes the chip sends back, each with the time it takes to send them.

Behaviour per command, and what we chose where UM0701 is silent, is in
docs/nfc.md.  In short:

- every command frame that passes its checksums is ACKed; a frame with a bad
  LCS/DCS gets no answer at all (the host's ACK timeout catches it);
  line noise between frames is skipped;
- a checked frame the chip cannot execute (unknown or unsupported command,
  wrong parameter count, TFI D5) gets the ACK and then the error frame
  ``00 00 FF 01 FF 7F 81 00`` instead of a response;
- a NACK from the host makes the chip send its last response again; an ACK
  from the host aborts (and completes a SetSerialBaudRate);
- after PowerDown with the HSU among the wake-up sources, the chip ignores
  the line until a 0x55 byte (the HSU wake-up) arrives.
"""

from __future__ import annotations

from collections.abc import Callable

from host_sim.nfc import iso_dep
from host_sim.nfc.iso_dep import Picc
from host_sim.nfc.rf_field import RfField, anticollision_order, cascade_levels
from host_sim.nfc.timing import BAUD_RATES, FC_HZ, LinkTiming
from host_sim.nfc.virtual_card import ats_with_length
from protocols import pn532 as frames
from protocols.errors import DecodeError

FIRMWARE_VERSION = bytes((0x32, 0x01, 0x06, 0x07))  # PN532, v1.6, ISO18092+14443A/B

STATUS_OK = 0x00
STATUS_TIMEOUT = 0x01
STATUS_RF_PROTOCOL = 0x0B
STATUS_NOT_ACCEPTABLE = 0x27
STATUS_MI = frames.STATUS_MORE_INFORMATION

# SetParameters flags (UM0701 §7.2.9); after reset fAutomaticATR_RES and
# fAutomaticRATS are set.
PARAM_AUTO_ATR_RES = 0x04
PARAM_AUTO_RATS = 0x10
DEFAULT_PARAMETERS = PARAM_AUTO_ATR_RES | PARAM_AUTO_RATS

# RATS the emulated PN532 sends itself: FSDI 5 (FSD 64), CID 0.  UM0701 does
# not print the byte; E0 50 is what PN53x readers are commonly traced sending.
AUTO_RATS_PARAM = 0x50
AUTO_RATS_FSD = iso_dep.fsd_from_fsdi(AUTO_RATS_PARAM >> 4)
# PN532 buffer for one InDataExchange answer: 265 - TFI, PD0, status.
MAX_ANSWER = frames.MAX_FRAME_LEN - 3
WAKEUP_HSU = 0x10
HSU_WAKEUP_BYTE = 0x55

# RFConfiguration items and their data lengths (UM0701 §7.3.1).
RF_ITEM_LENGTHS = {0x01: 1, 0x02: 3, 0x04: 1, 0x05: 3, 0x0A: 11, 0x0B: 8, 0x0C: 3, 0x0D: 9}

# CIU registers (PN512 register map, as nfcpy names them) with the values
# the firmware leaves after reset.  Unknown addresses read 0x00.
CIU_MODE = 0x6301
CIU_TX_MODE = 0x6302
CIU_RX_MODE = 0x6303
CIU_TX_CONTROL = 0x6304
CIU_TX_AUTO = 0x6305
CIU_FIFO_DATA = 0x6339
CIU_VERSION = 0x6327
REGISTER_DEFAULTS = {
    CIU_MODE: 0x3F,
    CIU_TX_MODE: 0x80,
    CIU_RX_MODE: 0x80,
    CIU_TX_CONTROL: 0x80,
    CIU_TX_AUTO: 0x40,
    CIU_FIFO_DATA: 0x00,
    CIU_VERSION: 0x82,
}
REQA = 0x26


class _Unparseable(Exception):
    """The command cannot be executed: answer with the error frame."""


class Output:
    """Bytes the chip sends after ``delay_s`` (link timing; 0 without)."""

    __slots__ = ("data", "delay_s")

    def __init__(self, delay_s: float, data: bytes) -> None:
        self.delay_s = delay_s
        self.data = data

    def __repr__(self) -> str:
        return f"Output({self.delay_s:.6f}, {self.data.hex()})"


class Target:
    def __init__(self, tg: int, picc: Picc, ats: bytes) -> None:
        self.tg = tg
        self.picc = picc
        self.ats = ats
        self.deselected = False
        self.pcd_block = 0
        self.more_to_collect = False

    @property
    def fsc(self) -> int:
        """The card's maximum frame size, from the ATS's T0 FSCI (256 if no ATS)."""
        if len(self.ats) >= 2:
            return iso_dep.fsd_from_fsdi(self.ats[1] & 0x0F)
        return 256

    @property
    def fwt_s(self) -> float:
        """Frame waiting time from the FWI in TB(1) (ISO/IEC 14443-4), FWI 4 without one."""
        fwi = 4
        if len(self.ats) >= 2 and self.ats[1] & 0x20:
            tb_at = 3 if self.ats[1] & 0x10 else 2
            if len(self.ats) > tb_at:
                fwi = self.ats[tb_at] >> 4
        return 256 * 16 / FC_HZ * (1 << min(fwi, 14))


class Pn532Emulator:
    def __init__(self, field: RfField | None = None, timing: bool = False) -> None:
        self.field = field if field is not None else RfField()
        self.timing_enabled = timing
        self._power_on()

    def reset(self) -> None:
        """Power-on reset (the RSTPDN pin): every setting back to its default."""
        with self.field.lock:
            self.field.power_off()
            self._power_on()

    def _power_on(self) -> None:
        self.timing = LinkTiming(self.timing_enabled)
        self.parser = frames.FrameParser()
        self.asleep = False
        self.wakeup_sources = 0
        self.last_response: bytes | None = None
        self.pending_baud: int | None = None
        self.waiting_poll: bytes | None = None
        self.registers: dict[int, int] = dict(REGISTER_DEFAULTS)
        self.parameters = DEFAULT_PARAMETERS
        self.sam_mode = 0
        self.rf_on = False
        self.passive_retries = 0xFF
        self.thru_timeout_index = 0x0A
        self.targets: list[Target] = []
        self.current: Target | None = None
        self.last_error = 0
        # What the chip saw (tests and the CLI's log read these).
        self.commands: list[int] = []
        self.corrupt_frames = 0
        self.nacks_received = 0
        self.late_poll_answers = 0
        self.syntax_errors = 0
        self.ignored_while_asleep = 0
        self._handlers: dict[int, Callable[[bytes], bytes | None]] = {
            frames.DIAGNOSE: self._diagnose,
            frames.GET_FIRMWARE_VERSION: self._get_firmware_version,
            frames.GET_GENERAL_STATUS: self._get_general_status,
            frames.READ_REGISTER: self._read_register,
            frames.WRITE_REGISTER: self._write_register,
            0x0C: self._read_gpio,
            0x0E: self._write_gpio,
            frames.SET_SERIAL_BAUD_RATE: self._set_serial_baud_rate,
            frames.SET_PARAMETERS: self._set_parameters,
            frames.SAM_CONFIGURATION: self._sam_configuration,
            frames.POWER_DOWN: self._power_down,
            frames.RF_CONFIGURATION: self._rf_configuration,
            frames.IN_DATA_EXCHANGE: self._in_data_exchange,
            frames.IN_COMMUNICATE_THRU: self._in_communicate_thru,
            frames.IN_DESELECT: self._in_deselect,
            frames.IN_LIST_PASSIVE_TARGET: self._in_list_passive_target,
            frames.IN_RELEASE: self._in_release,
            frames.IN_SELECT: self._in_select,
        }

    @property
    def baud(self) -> int:
        return self.timing.baud

    # -- the link ---------------------------------------------------------
    def receive(self, data: bytes) -> list[Output]:
        """Bytes from the host; what the chip sends back, in order."""
        out: list[Output] = []
        with self.field.lock:
            if self.asleep:
                data = self._wake_on(data)
                if not data:
                    return out
            for frame in self.parser.feed(data):
                self._on_frame(frame, out)
                if self.asleep:
                    # Bytes after the PowerDown frame in the same burst fall on a sleeping chip.
                    self.parser.reset()
                    break
        return out

    def _wake_on(self, data: bytes) -> bytes:
        at = data.find(bytes((HSU_WAKEUP_BYTE,)))
        if at < 0 or not self.wakeup_sources & WAKEUP_HSU:
            self.ignored_while_asleep += len(data)
            return b""
        self.ignored_while_asleep += at + 1
        self.asleep = False
        self.parser.reset()
        return data[at + 1 :]

    def _on_frame(self, frame: frames.Frame, out: list[Output]) -> None:
        kind = frame.kind
        if kind != frames.KIND_CORRUPT:
            self.waiting_poll = None  # an ACK aborts the poll; a new command replaces it
        if kind == frames.KIND_CORRUPT:
            self.corrupt_frames += 1
            return
        if kind == frames.KIND_ACK:
            if self.pending_baud is not None:
                self.timing.baud = self.pending_baud
                self.pending_baud = None
            return
        if kind == frames.KIND_NACK:
            self.nacks_received += 1
            if self.last_response is not None:
                out.append(Output(self.timing.uart(len(self.last_response)), self.last_response))
            return
        if kind == frames.KIND_ERROR:
            return
        received_s = self.timing.uart(len(frames.encode_frame(frame.tfi or 0, frame.data)))
        out.append(Output(received_s + self.timing.uart(6), frames.ACK_FRAME))
        try:
            code, params = frames.command_of(frame)
        except DecodeError:
            self._error_frame(out)
            return
        self.commands.append(code)
        handler = self._handlers.get(code)
        if handler is None:
            self._error_frame(out)
            return
        try:
            answer = handler(params)
        except _Unparseable:
            self._error_frame(out)
            return
        if answer is None:
            # Still polling (MxRtyPassiveActivation FF, no card): the answer
            # comes when a card arrives (poll_again) or never; an ACK aborts.
            self.timing.take_rf()
            self.waiting_poll = params
            return
        self._respond(code, answer, out)

    def _respond(self, code: int, answer: bytes, out: list[Output]) -> None:
        rf_s = self.timing.take_rf()
        response = frames.encode_response(code, answer)
        self.last_response = response
        out.append(Output(rf_s + self.timing.uart(len(response)), response))
        if code == frames.POWER_DOWN:
            self.asleep = True

    def poll_again(self) -> list[Output]:
        """The answer to an InListPassiveTarget still polling, if a card now
        answers it (the server calls this when the field changes)."""
        out: list[Output] = []
        with self.field.lock:
            params = self.waiting_poll
            if params is None or self.asleep:
                return out
            answer = self._in_list_passive_target(params)
            if answer is None:
                self.timing.take_rf()
                return out
            self.waiting_poll = None
            self.late_poll_answers += 1
            self._respond(frames.IN_LIST_PASSIVE_TARGET, answer, out)
        return out

    def _error_frame(self, out: list[Output]) -> None:
        self.syntax_errors += 1
        self.last_response = frames.ERROR_FRAME
        out.append(Output(self.timing.uart(len(frames.ERROR_FRAME)), frames.ERROR_FRAME))

    # -- miscellaneous commands ---------------------------------------------
    def _diagnose(self, params: bytes) -> bytes:
        if not params:
            raise _Unparseable
        test = params[0]
        if test == 0x00:  # communication line test: echo NumTst and InParam
            return params
        if test in (0x01, 0x02):  # ROM / RAM self test: OK
            return b"\x00"
        if test == 0x06:  # attention request / card presence
            present = self.current is not None and self.field.in_field(self.current.picc)
            return bytes((STATUS_OK if present else STATUS_TIMEOUT,))
        raise _Unparseable

    def _get_firmware_version(self, params: bytes) -> bytes:
        if params:
            raise _Unparseable
        return FIRMWARE_VERSION

    def _get_general_status(self, params: bytes) -> bytes:
        if params:
            raise _Unparseable
        out = bytes((self.last_error, 0x00, len(self.targets)))
        for target in self.targets:
            out += bytes((target.tg, 0x00, 0x00, 0x00))  # 106 kbps both ways, type A
        return out + b"\x00"  # SAM status

    def _read_register(self, params: bytes) -> bytes:
        if not params or len(params) % 2:
            raise _Unparseable
        values = []
        for i in range(0, len(params), 2):
            address = (params[i] << 8) | params[i + 1]
            values.append(self._register(address))
        return bytes(values)

    def _register(self, address: int) -> int:
        if address == CIU_TX_CONTROL:
            return (self.registers[CIU_TX_CONTROL] & 0xFC) | (0x03 if self.rf_on else 0x00)
        return self.registers.get(address, 0x00)

    def _write_register(self, params: bytes) -> bytes:
        if not params or len(params) % 3:
            raise _Unparseable
        for i in range(0, len(params), 3):
            self.registers[(params[i] << 8) | params[i + 1]] = params[i + 2]
        return b""

    def _read_gpio(self, params: bytes) -> bytes:
        if params:
            raise _Unparseable
        return b"\x3f\x07\x00"  # P3, P7, I0I1 as after reset (all pulled up, HSU strap)

    def _write_gpio(self, params: bytes) -> bytes:
        if len(params) != 2:
            raise _Unparseable
        return b""

    def _set_serial_baud_rate(self, params: bytes) -> bytes:
        if len(params) != 1 or params[0] >= len(BAUD_RATES):
            raise _Unparseable
        self.pending_baud = BAUD_RATES[params[0]]  # effective after the host's ACK
        return b""

    def _set_parameters(self, params: bytes) -> bytes:
        if len(params) != 1:
            raise _Unparseable
        self.parameters = params[0]
        return b""

    def _sam_configuration(self, params: bytes) -> bytes:
        if not 1 <= len(params) <= 3 or not 1 <= params[0] <= 4:
            raise _Unparseable
        self.sam_mode = params[0]
        return b""

    def _power_down(self, params: bytes) -> bytes:
        if not 1 <= len(params) <= 2:
            raise _Unparseable
        self.wakeup_sources = params[0]
        self._field_off()
        return bytes((STATUS_OK,))

    def _rf_configuration(self, params: bytes) -> bytes:
        if not params or RF_ITEM_LENGTHS.get(params[0]) != len(params) - 1:
            raise _Unparseable
        item = params[0]
        if item == 0x01:
            if params[1] & 0x01:
                self.rf_on = True
            else:
                self._field_off()
        elif item == 0x02:
            self.thru_timeout_index = params[3]
        elif item == 0x05:
            self.passive_retries = params[3]
        return b""

    def _field_off(self) -> None:
        self.rf_on = False
        self.field.power_off()
        self.targets = []
        self.current = None

    # -- initiator: activation ----------------------------------------------
    def _in_list_passive_target(self, params: bytes) -> bytes | None:
        if len(params) < 2 or params[0] not in (1, 2) or params[1] > 8:
            raise _Unparseable
        max_tg, brty = params[0], params[1]
        uid_filter = _uid_from_initiator_data(params[2:]) if brty == 0 else None
        if brty == 0 and params[2:] and uid_filter is None:
            raise _Unparseable
        self._release_all()
        self.rf_on = True
        responders: list[Picc] = []
        if brty == 0:
            responders = [
                p
                for p in self.field.piccs
                if p.answers_request(wake_up=False) and (uid_filter is None or p.uid == uid_filter)
            ]
        self.timing.rf(1, 2 if responders else None, 0.001)  # REQA, ATQA or silence
        if not responders:
            self.registers[CIU_FIFO_DATA] = REQA  # the request is still in the FIFO
            if self.passive_retries == 0xFF:
                return None  # retries forever: the host must abort with an ACK
            return b"\x00"
        self.registers[CIU_FIFO_DATA] = 0x00
        order = anticollision_order([p.uid for p in responders])
        out = bytearray((0,))
        for index in order[:max_tg]:
            picc = responders[index]
            tg = len(self.targets) + 1
            for _level in cascade_levels(picc.uid):  # ANTICOLLISION + SELECT per level
                self.timing.rf(2, 5, 0.001)
                self.timing.rf(7, 1, 0.001)
            picc.select()
            ats = b""
            if self.parameters & PARAM_AUTO_RATS and picc.iso_dep:
                answer = self.field.transceive(picc, bytes((iso_dep.RATS, AUTO_RATS_PARAM)))
                self.timing.rf(2, len(answer) if answer else None, 0.005)
                if answer is None:
                    continue
                ats = ats_with_length(answer)
            target = Target(tg, picc, ats)
            self.targets.append(target)
            out += bytes((tg,)) + bytes(picc.card.atqa) + bytes((picc.card.sak, len(picc.uid)))
            out += picc.uid + ats
        out[0] = len(self.targets)
        self.current = self.targets[0] if self.targets else None
        return bytes(out)

    def _release_all(self) -> None:
        for target in self.targets:
            self._release(target)
        self.targets = []
        self.current = None

    def _release(self, target: Target) -> None:
        picc = target.picc
        if picc.state == iso_dep.PROTOCOL:
            self._rf(target, bytes((iso_dep.PCB_S_DESELECT,)))
        elif picc.state == iso_dep.ACTIVE:
            self.field.transceive(picc, iso_dep.HLTA)

    def _target(self, tg: int) -> Target | None:
        for target in self.targets:
            if target.tg == tg:
                return target
        return None

    def _in_release(self, params: bytes) -> bytes:
        if len(params) != 1:
            raise _Unparseable
        tg = params[0]
        if tg == 0:
            self._release_all()
            return bytes((STATUS_OK,))
        target = self._target(tg)
        if target is None:
            return self._status(STATUS_NOT_ACCEPTABLE)
        self._release(target)
        self.targets.remove(target)
        if self.current is target:
            self.current = None
        return bytes((STATUS_OK,))

    def _in_deselect(self, params: bytes) -> bytes:
        if len(params) != 1:
            raise _Unparseable
        tg = params[0]
        chosen = self.targets if tg == 0 else [t for t in self.targets if t.tg == tg]
        if not chosen:
            return self._status(STATUS_NOT_ACCEPTABLE)
        for target in chosen:
            if not target.deselected:
                self._release(target)
                target.deselected = True
        return bytes((STATUS_OK,))

    def _in_select(self, params: bytes) -> bytes:
        if len(params) != 1:
            raise _Unparseable
        target = self._target(params[0])
        if target is None:
            return self._status(STATUS_NOT_ACCEPTABLE)
        if target.deselected:
            picc = target.picc
            if not self.field.in_field(picc) or not picc.answers_request(wake_up=True):
                return self._status(STATUS_TIMEOUT)
            picc.select()
            if target.ats:
                answer = self.field.transceive(picc, bytes((iso_dep.RATS, AUTO_RATS_PARAM)))
                if answer is None:
                    return self._status(STATUS_TIMEOUT)
            target.deselected = False
            target.pcd_block = 0
        self.current = target
        return bytes((STATUS_OK,))

    def _status(self, status: int) -> bytes:
        self.last_error = status & frames.STATUS_ERROR_MASK
        return bytes((status,))

    # -- initiator: exchanges -------------------------------------------------
    def _rf(self, target: Target, frame: bytes, timeout_s: float | None = None) -> bytes | None:
        answer = self.field.transceive(target.picc, frame)
        wait = target.fwt_s if timeout_s is None else timeout_s
        self.timing.rf(len(frame), len(answer) if answer is not None else None, wait)
        return answer

    def _in_communicate_thru(self, params: bytes) -> bytes:
        if not params:
            raise _Unparseable
        target = self.current
        timeout_s = 100e-6 * (1 << max(0, self.thru_timeout_index - 1))
        if target is None:
            self.timing.rf(len(params), None, timeout_s)
            return self._status(STATUS_TIMEOUT)
        answer = self._rf(target, params, timeout_s)
        if answer is None:
            return self._status(STATUS_TIMEOUT)
        self.last_error = 0
        return bytes((STATUS_OK,)) + answer

    def _in_data_exchange(self, params: bytes) -> bytes:
        if not params:
            raise _Unparseable
        more = bool(params[0] & STATUS_MI)
        target = self._target(params[0] & 0x3F)
        if target is None or target.deselected or not target.ats:
            return self._status(STATUS_NOT_ACCEPTABLE)
        data = params[1:]
        if target.more_to_collect and not data and not more:
            ack = bytes((iso_dep.PCB_R_ACK | target.pcd_block,))
            return self._collect(target, self._rf(target, ack))
        target.more_to_collect = False
        if not data and not more:
            return self._status(STATUS_NOT_ACCEPTABLE)
        room = target.fsc - 3
        chunks = [data[i : i + room] for i in range(0, len(data), room)] or [b""]
        for i, chunk in enumerate(chunks):
            chaining = more or i < len(chunks) - 1
            pcb = iso_dep.PCB_I | target.pcd_block | (iso_dep.PCB_CHAINING if chaining else 0)
            answer = self._rf(target, bytes((pcb,)) + chunk)
            if answer is None:
                return self._status(STATUS_TIMEOUT)
            if chaining:
                if answer[0] != iso_dep.PCB_R_ACK | target.pcd_block:
                    return self._status(STATUS_RF_PROTOCOL)
                target.pcd_block ^= 1
            else:
                return self._collect(target, answer)
        self.last_error = 0
        return bytes((STATUS_OK,))

    def _collect(self, target: Target, block: bytes | None) -> bytes:
        """Gather the card's I-blocks until it stops chaining or our buffer is full."""
        collected = bytearray()
        while True:
            if block is None:
                target.more_to_collect = False
                return self._status(STATUS_TIMEOUT)
            pcb = block[0]
            if not iso_dep.is_i_block(pcb) or pcb & 0x01 != target.pcd_block:
                target.more_to_collect = False
                return self._status(STATUS_RF_PROTOCOL)
            collected += block[1:]
            target.pcd_block ^= 1
            if not pcb & iso_dep.PCB_CHAINING:
                target.more_to_collect = False
                self.last_error = 0
                return bytes((STATUS_OK,)) + bytes(collected)
            if len(collected) + AUTO_RATS_FSD - 3 > MAX_ANSWER:
                target.more_to_collect = True
                return bytes((STATUS_MI,)) + bytes(collected)
            block = self._rf(target, bytes((iso_dep.PCB_R_ACK | target.pcd_block,)))


def _uid_from_initiator_data(data: bytes) -> bytes | None:
    """The UID a type A InitiatorData asks for: none, 4 bytes, or cascade-tagged
    7/10 bytes (88 u0 u1 u2 u3..u6; 88 u0 u1 u2 88 u3 u4 u5 u6..u9)."""
    if not data:
        return None
    if len(data) == 4:
        return data
    if len(data) == 8 and data[0] == 0x88:
        return data[1:]
    if len(data) == 12 and data[0] == 0x88 and data[4] == 0x88:
        return data[1:4] + data[5:]
    return None
