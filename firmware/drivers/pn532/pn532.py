"""NXP PN532 NFC reader over HSU (UART), as an ISO/IEC 14443 type A reader.

    from firmware.drivers.pn532 import PN532, for_board
    reader = PN532(board.bus_for("nfc"), board.rtc())   # or for_board(board)
    reader.wakeup()                      # HSU wake-up + SAMConfiguration normal
    reader.firmware_version()            # (0x32, 1, 6, 7) for a PN532 v1.6
    card = reader.activate()             # one card, or None; CardCollision for two
    card.exchange_apdu(select_ppse)      # response APDU bytes
    reader.release()
    reader.rf_off()

Commands and their bytes follow NXP UM0701-02 (PN532 User Manual) §7.
The UART is injected, and so is the clock (``ticks_ms``, ``ticks_diff``,
``sleep_ms``): the driver touches neither ``machine`` nor ``time``.
"""

from firmware.drivers.pn532.errors import (
    CardCollision,
    NoTargetError,
    PN532ProtocolError,
    ResponseTimeout,
    status_error,
)
from firmware.drivers.pn532.link import DEFAULT_ACK_TIMEOUT_MS, DEFAULT_MAX_RETRIES, Link
from firmware.drivers.pn532.target import parse_type_a_targets
from protocols import pn532 as frames

# A command frame carries at most 265 bytes after LEN (TFI, command code, Tg,
# data): 262 bytes of card data per InDataExchange (UM0701 §6.2.1.2).
MAX_EXCHANGE_DATA = frames.MAX_FRAME_LEN - 3
# The MI bit: in the Tg byte (host has more to send) and in the status byte
# (the PN532 has more to give), UM0701 §7.3.8.
MORE_INFORMATION = frames.STATUS_MORE_INFORMATION
# Longest response APDU we accept: extended Le 65536 + SW1 SW2.
MAX_RESPONSE = 65538

SAM_MODE_NORMAL = 0x01
RF_CFG_FIELD = 0x01
RF_CFG_MAX_RETRIES = 0x05
# InListPassiveTarget tries this many times before answering "no card".
DEFAULT_PASSIVE_RETRIES = 0x02
BRTY_106_TYPE_A = 0x00
# PowerDown WakeUpEnable bit for the HSU (UM0701 §7.2.11).
WAKEUP_HSU = 0x10

DEFAULT_EXCHANGE_TIMEOUT_MS = 2000


class PN532:
    def __init__(
        self,
        uart,
        clock,
        ack_timeout_ms=DEFAULT_ACK_TIMEOUT_MS,
        max_retries=DEFAULT_MAX_RETRIES,
        exchange_timeout_ms=DEFAULT_EXCHANGE_TIMEOUT_MS,
    ):
        self.link = Link(uart, clock, ack_timeout_ms, max_retries)
        self.exchange_timeout_ms = exchange_timeout_ms
        self.passive_retries = DEFAULT_PASSIVE_RETRIES
        self.targets = []
        self.target = None

    # -- general ----------------------------------------------------------
    def command(self, code, params=b"", timeout_ms=1000):
        """Any command: its response bytes after the response code."""
        return self.link.command(code, params, timeout_ms)

    def wakeup(self):
        """Wake the chip from power-down (or its power-on low-VBAT mode) and
        put it in normal mode: the HSU wake-up bytes, then SAMConfiguration."""
        self.link.write(frames.HSU_WAKEUP)
        self.sam_configuration()

    def start(self, passive_retries=DEFAULT_PASSIVE_RETRIES):
        """Ready to poll: wakeup(), a bounded number of activation retries
        (after reset the PN532 polls forever for a card that is not there),
        and the field off, so every card in it starts from IDLE."""
        self.wakeup()
        self.passive_retries = passive_retries
        self.set_max_retries(passive_activation=passive_retries)
        self.rf_off()

    def set_max_retries(self, atr=0xFF, psl=0x01, passive_activation=0xFF):
        """RFConfiguration CfgItem 5 (MaxRetries); 0xFF = retry forever."""
        params = bytes((RF_CFG_MAX_RETRIES, atr, psl, passive_activation))
        self.command(frames.RF_CONFIGURATION, params, 100)

    def sam_configuration(self, mode=SAM_MODE_NORMAL, timeout=0, use_irq=False):
        data = self.command(
            frames.SAM_CONFIGURATION, bytes((mode, timeout, 1 if use_irq else 0)), 100
        )
        if data:
            raise PN532ProtocolError("SAMConfiguration: unexpected data %s" % data.hex())

    def firmware_version(self):
        """(IC, Ver, Rev, Support): (0x32, 1, 6, 7) for a PN532 v1.6."""
        data = self.command(frames.GET_FIRMWARE_VERSION, b"", 100)
        if len(data) != 4:
            raise PN532ProtocolError("GetFirmwareVersion: %d bytes, want 4" % len(data))
        return (data[0], data[1], data[2], data[3])

    def general_status(self):
        """GetGeneralStatus: (last error, field present, number of targets)."""
        data = self.command(frames.GET_GENERAL_STATUS, b"", 100)
        if len(data) < 3:
            raise PN532ProtocolError("GetGeneralStatus: %d bytes" % len(data))
        return (data[0], data[1], data[2])

    def diagnose_echo(self, payload):
        """Diagnose NumTst 0x00 (communication line test): the chip echoes."""
        data = self.command(frames.DIAGNOSE, b"\x00" + bytes(payload), 1000)
        if data != b"\x00" + bytes(payload):
            raise PN532ProtocolError("Diagnose: echo differs")
        return data[1:]

    def rf_field(self, on):
        """RFConfiguration CfgItem 1: switch the RF field on or off."""
        self.command(frames.RF_CONFIGURATION, bytes((RF_CFG_FIELD, 0x01 if on else 0x00)), 100)
        if not on:
            self.targets = []
            self.target = None

    def rf_off(self):
        self.rf_field(False)

    def power_down(self, wakeup_sources=WAKEUP_HSU):
        """PowerDown; wake it again with wakeup()."""
        data = self.command(frames.POWER_DOWN, bytes((wakeup_sources,)), 100)
        self._check(frames.POWER_DOWN, data)
        self.targets = []
        self.target = None

    # -- initiator ------------------------------------------------------------
    def list_passive_target(self, max_targets=1, uid=b"", timeout_ms=1000):
        """InListPassiveTarget at 106 kbps type A: a list of Iso14443aTarget
        (empty when no card answered)."""
        if max_targets not in (1, 2):
            raise ValueError("max_targets must be 1 or 2")
        params = bytes((max_targets, BRTY_106_TYPE_A)) + bytes(uid)
        data = self.command(frames.IN_LIST_PASSIVE_TARGET, params, timeout_ms)
        self.targets = parse_type_a_targets(self, data)
        self.target = self.targets[0] if len(self.targets) == 1 else None
        return self.targets

    def activate(self, timeout_ms=1000):
        """The one card in the field, or None.  Polls for two so that a second
        card is seen (EMV Book D collision): with two, both are released and
        CardCollision is raised."""
        return self._one_card(self.list_passive_target(2, b"", timeout_ms))

    def wait_for_card(self, timeout_ms=30000):
        """Like activate(), but the chip keeps polling (MaxRetries FF) until a
        card is presented or ``timeout_ms`` passes (then the poll is aborted
        and None returned)."""
        self.set_max_retries(passive_activation=0xFF)
        try:
            targets = self.list_passive_target(2, b"", timeout_ms)
        except ResponseTimeout:
            targets = []
            self.targets = []
            self.target = None
        self.set_max_retries(passive_activation=self.passive_retries)
        return self._one_card(targets)

    def _one_card(self, targets):
        if len(targets) > 1:
            self.release()
            raise CardCollision(len(targets))
        return self.target

    def data_exchange(self, tg, data, timeout_ms=None):
        """InDataExchange with chaining both ways: data longer than 262 bytes
        goes out in pieces with MI set in Tg; while the PN532 answers with MI
        set in the status, ask for the rest.  Returns the card's whole answer."""
        if timeout_ms is None:
            timeout_ms = self.exchange_timeout_ms
        data = bytes(data)
        offset = 0
        while len(data) - offset > MAX_EXCHANGE_DATA:
            piece = data[offset : offset + MAX_EXCHANGE_DATA]
            self._exchange_piece(tg | MORE_INFORMATION, piece, timeout_ms)
            offset += MAX_EXCHANGE_DATA
        status, answer = self._exchange_piece(tg, data[offset:], timeout_ms)
        parts = [answer]
        total = len(answer)
        while status & MORE_INFORMATION:
            status, answer = self._exchange_piece(tg, b"", timeout_ms)
            total += len(answer)
            if total > MAX_RESPONSE:
                raise PN532ProtocolError("InDataExchange: answer exceeds %d bytes" % MAX_RESPONSE)
            parts.append(answer)
        return b"".join(parts)

    def _exchange_piece(self, tg_byte, piece, timeout_ms):
        params = bytes((tg_byte,)) + piece
        data = self.command(frames.IN_DATA_EXCHANGE, params, timeout_ms)
        status = self._check(frames.IN_DATA_EXCHANGE, data)
        return status, data[1:]

    def exchange_apdu(self, apdu, timeout_ms=None):
        """Send a command APDU to the activated card; its response APDU."""
        if self.target is None:
            raise NoTargetError("no activated card: call activate() first")
        return self.data_exchange(self.target.tg, apdu, timeout_ms)

    def release(self, tg=0):
        """InRelease (Tg 0: every target)."""
        data = self.command(frames.IN_RELEASE, bytes((tg,)), 1000)
        self._check(frames.IN_RELEASE, data)
        if tg == 0 or (self.target is not None and self.target.tg == tg):
            self.target = None
        self.targets = [t for t in self.targets if tg != 0 and t.tg != tg]

    def deselect(self, tg=0):
        """InDeselect: the card stays listed, ISO-DEP DESELECT sent."""
        data = self.command(frames.IN_DESELECT, bytes((tg,)), 1000)
        self._check(frames.IN_DESELECT, data)

    def select(self, tg):
        """InSelect: make a listed (deselected) target current again."""
        data = self.command(frames.IN_SELECT, bytes((tg,)), 1000)
        self._check(frames.IN_SELECT, data)
        for t in self.targets:
            if t.tg == tg:
                self.target = t

    def _check(self, code, data):
        if not data:
            raise PN532ProtocolError("%s: no status byte" % frames.command_name(code))
        status = data[0]
        if status & frames.STATUS_ERROR_MASK:
            raise status_error(code, status)
        return status


def for_board(board, clock=None):
    """The PN532 as the board data wires it: its bus, and the ACK timeout of
    the ``nfc`` device when the board sets one (the sim board does: its
    reader is a host process behind loopback TCP, whose scheduling on a busy
    machine is slower than a chip's 1 ms ACK)."""
    device = board.device("nfc")
    return PN532(
        board.bus_for("nfc"),
        clock if clock is not None else board.rtc(),
        ack_timeout_ms=device.get("ack_timeout_ms", DEFAULT_ACK_TIMEOUT_MS),
    )
