"""PN532 host-interface frames (NXP UM0701-02 "PN532 User Manual", §6.2).

Frames on the wire (HSU, I2C and SPI all carry the same bytes):

  normal       00 00 FF LEN LCS TFI PD0..PDn DCS 00      LEN = 1 + n + 1 <= 255
  extended     00 00 FF FF FF LENM LENL LCS TFI PD.. DCS 00
  ACK          00 00 FF 00 FF 00
  NACK         00 00 FF FF 00 00
  error        00 00 FF 01 FF 7F 81 00   (syntax error reported by the PN532)

LEN counts TFI and the PD bytes; LEN + LCS and TFI + sum(PD) + DCS are 0 mod
256.  TFI is D4 from the host to the PN532 and D5 back; a response's PD0 is the
command code plus one.

`encode_command` / `encode_response` build frames, `decode_frame` checks one
complete frame strictly, and `FrameParser` finds frames in a byte stream that
may be split anywhere and may carry line noise.
"""

from protocols.errors import DecodeError, EncodeError

TFI_HOST_TO_PN532 = 0xD4
TFI_PN532_TO_HOST = 0xD5
# The single PD byte of the error frame (UM0701 §6.2.1.5).
ERROR_FRAME_CODE = 0x7F

ACK_FRAME = b"\x00\x00\xff\x00\xff\x00"
NACK_FRAME = b"\x00\x00\xff\xff\x00\x00"
ERROR_FRAME = b"\x00\x00\xff\x01\xff\x7f\x81\x00"

# HSU wake-up from power-down (UM0701 §7.2.11 PowerDown, HSU wake-up
# condition): the PN532 wakes on activity on its RX line and needs the
# oscillator to settle before the next frame.  0x55 toggles every bit; the
# zeros give the settling time at 115200 baud.  Sixteen bytes as libnfc's
# pn532_uart driver sends them.
HSU_WAKEUP = b"\x55\x55" + b"\x00" * 14

# Largest LEN (TFI + PD) the PN532 accepts in one frame: "up to 265 bytes sent
# in one frame from the host controller" (NXP AN10449 §1; nfcpy's
# pn532.Chipset.host_command_frame_max_size agrees).
MAX_FRAME_LEN = 265
MAX_NORMAL_LEN = 255

KIND_ACK = "ack"
KIND_NACK = "nack"
KIND_ERROR = "error"
KIND_NORMAL = "normal"
KIND_EXTENDED = "extended"
# Only from FrameParser: a frame whose checksums or length were wrong.
KIND_CORRUPT = "corrupt"

# Command codes (UM0701 §7, table 5 "command set").  Pairs, not a dict, so the
# order is stable on every port.
COMMANDS = (
    (0x00, "Diagnose"),
    (0x02, "GetFirmwareVersion"),
    (0x04, "GetGeneralStatus"),
    (0x06, "ReadRegister"),
    (0x08, "WriteRegister"),
    (0x0C, "ReadGPIO"),
    (0x0E, "WriteGPIO"),
    (0x10, "SetSerialBaudRate"),
    (0x12, "SetParameters"),
    (0x14, "SAMConfiguration"),
    (0x16, "PowerDown"),
    (0x32, "RFConfiguration"),
    (0x58, "RFRegulationTest"),
    (0x40, "InDataExchange"),
    (0x42, "InCommunicateThru"),
    (0x44, "InDeselect"),
    (0x46, "InJumpForPSL"),
    (0x4A, "InListPassiveTarget"),
    (0x4E, "InPSL"),
    (0x50, "InATR"),
    (0x52, "InRelease"),
    (0x54, "InSelect"),
    (0x56, "InJumpForDEP"),
    (0x60, "InAutoPoll"),
    (0x86, "TgGetData"),
    (0x88, "TgGetInitiatorCommand"),
    (0x8A, "TgGetTargetStatus"),
    (0x8C, "TgInitAsTarget"),
    (0x8E, "TgSetData"),
    (0x90, "TgResponseToInitiator"),
    (0x92, "TgSetGeneralBytes"),
    (0x94, "TgSetMetaData"),
)

DIAGNOSE = 0x00
GET_FIRMWARE_VERSION = 0x02
GET_GENERAL_STATUS = 0x04
READ_REGISTER = 0x06
WRITE_REGISTER = 0x08
SET_SERIAL_BAUD_RATE = 0x10
SET_PARAMETERS = 0x12
SAM_CONFIGURATION = 0x14
POWER_DOWN = 0x16
RF_CONFIGURATION = 0x32
IN_DATA_EXCHANGE = 0x40
IN_COMMUNICATE_THRU = 0x42
IN_DESELECT = 0x44
IN_LIST_PASSIVE_TARGET = 0x4A
IN_RELEASE = 0x52
IN_SELECT = 0x54
IN_AUTO_POLL = 0x60

# Error codes in the low 6 bits of a response status byte (UM0701 §7.1,
# table 4 "Error code list").  Bit 6 is MI (more information), bit 7 NAD.
ERRORS = (
    (0x00, "no error"),
    (0x01, "time out, the target has not answered"),
    (0x02, "CRC error detected by the CIU"),
    (0x03, "parity error detected by the CIU"),
    (0x04, "erroneous bit count during anticollision/select (ISO 14443-3 A)"),
    (0x05, "framing error during MIFARE operation"),
    (0x06, "abnormal bit collision during bitwise anticollision at 106 kbps"),
    (0x07, "communication buffer size insufficient"),
    (0x09, "RF buffer overflow detected by the CIU"),
    (0x0A, "RF field not switched on in time by the counterpart (active mode)"),
    (0x0B, "RF protocol error"),
    (0x0D, "temperature error: overheating, antenna drivers switched off"),
    (0x0E, "internal buffer overflow"),
    (0x10, "invalid parameter (range, format)"),
    (0x12, "DEP: command from the initiator not supported by the target"),
    (0x13, "DEP, MIFARE or ISO 14443-4: data format does not match the specification"),
    (0x14, "MIFARE: authentication error"),
    (0x23, "ISO 14443-3: UID check byte is wrong"),
    (0x25, "DEP: invalid device state for the operation"),
    (0x26, "operation not allowed in this configuration (host interface)"),
    (0x27, "command not acceptable in the current context of the PN532"),
    (0x29, "the PN532 as target has been released by its initiator"),
    (0x2A, "ISO 14443-3B: the ID of the card does not match (card exchanged)"),
    (0x2B, "ISO 14443-3B: the card previously activated has disappeared"),
    (0x2C, "NFCID3 initiator/target mismatch in DEP 212/424 kbps passive"),
    (0x2D, "an over-current event has been detected"),
    (0x2E, "NAD missing in DEP frame"),
)

STATUS_ERROR_MASK = 0x3F
STATUS_MORE_INFORMATION = 0x40
STATUS_NAD_PRESENT = 0x80


def command_name(code: int) -> "str | None":
    """Name of a command code, or None when UM0701 does not define it."""
    for known, name in COMMANDS:
        if known == code:
            return name
    return None


def error_meaning(status: int) -> str:
    """Meaning of the error code in a status byte (the MI and NAD bits are ignored)."""
    code = status & STATUS_ERROR_MASK
    for known, meaning in ERRORS:
        if known == code:
            return meaning
    return "unknown error 0x%02X" % code


class Frame:
    """One frame: `kind` (KIND_*), `tfi` (None for ACK/NACK/error/corrupt),
    `data` (PD0..PDn), `offset` (stream offset of the 00 FF start code when it
    came from a FrameParser) and `error` (a DecodeError for corrupt frames)."""

    __slots__ = ("data", "error", "kind", "offset", "tfi")

    def __init__(
        self,
        kind: str,
        tfi: "int | None" = None,
        data: bytes = b"",
        offset: "int | None" = None,
        error: "DecodeError | None" = None,
    ) -> None:
        self.kind = kind
        self.tfi = tfi
        self.data = data
        self.offset = offset
        self.error = error

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Frame)
            and self.kind == other.kind
            and self.tfi == other.tfi
            and self.data == other.data
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.tfi, self.data))

    def __repr__(self) -> str:
        return "Frame(%r, %r, %r)" % (self.kind, self.tfi, self.data)


def _byte(value: int, field: str) -> int:
    if not isinstance(value, int) or value < 0 or value > 0xFF:
        raise EncodeError("must be an integer 0..255", field=field)
    return value


def encode_frame(tfi: int, data: bytes = b"") -> bytes:
    """Information frame carrying TFI and PD bytes; extended when LEN > 255."""
    _byte(tfi, "TFI")
    length = 1 + len(data)
    if length > MAX_FRAME_LEN:
        raise EncodeError(
            "frame of %d bytes exceeds the PN532 limit of %d" % (length, MAX_FRAME_LEN),
            field="data",
        )
    dcs = (-(tfi + sum(data))) & 0xFF
    if length <= MAX_NORMAL_LEN:
        head = bytes((0x00, 0x00, 0xFF, length, (-length) & 0xFF))
    else:
        high = length >> 8
        low = length & 0xFF
        head = bytes((0x00, 0x00, 0xFF, 0xFF, 0xFF, high, low, (-(high + low)) & 0xFF))
    return head + bytes((tfi,)) + bytes(data) + bytes((dcs, 0x00))


def encode_command(cmd_code: int, params: bytes = b"") -> bytes:
    """Host-to-PN532 frame (TFI D4) for one command and its parameters."""
    return encode_frame(TFI_HOST_TO_PN532, bytes((_byte(cmd_code, "command"),)) + bytes(params))


def encode_response(cmd_code: int, data: bytes = b"") -> bytes:
    """PN532-to-host frame (TFI D5) answering `cmd_code`: PD0 is cmd_code + 1."""
    _byte(cmd_code, "command")
    if cmd_code == 0xFF:
        raise EncodeError("command 0xFF has no response code", field="command")
    return encode_frame(TFI_PN532_TO_HOST, bytes((cmd_code + 1,)) + bytes(data))


def _corrupt(message: str, offset: int, field: str) -> Frame:
    return Frame(KIND_CORRUPT, error=DecodeError(message, offset=offset, field=field))


def _frame_at(
    buf: "bytes | bytearray", start: int, end: int, max_len: int
) -> "tuple[Frame, int] | None":
    """Read the frame whose 00 FF start code is at `start`.

    Returns (frame, index after its DCS) or None when buf[:end] ends before the
    frame does.  A frame with bad checksums comes back as KIND_CORRUPT with the
    index just after the start code, so the caller rescans its bytes: a good
    frame hiding behind a corrupt header is not lost.
    """
    if end - start < 4:
        return None
    length = buf[start + 2]
    lcs = buf[start + 3]
    resume = start + 2
    if length == 0x00 and lcs == 0xFF:
        return Frame(KIND_ACK), start + 4
    if length == 0xFF and lcs == 0x00:
        return Frame(KIND_NACK), start + 4
    if length == 0xFF and lcs == 0xFF:
        if end - start < 7:
            return None
        high = buf[start + 4]
        low = buf[start + 5]
        if (high + low + buf[start + 6]) & 0xFF:
            return _corrupt("length checksum LCS mismatch", start + 6, "LCS"), resume
        length = (high << 8) | low
        body = start + 7
        kind = KIND_EXTENDED
    else:
        if (length + lcs) & 0xFF:
            return _corrupt("length checksum LCS mismatch", start + 3, "LCS"), resume
        body = start + 4
        kind = KIND_NORMAL
    if length == 0:
        return _corrupt("LEN is 0: no room for TFI", body - 1, "LEN"), resume
    if length > max_len:
        return _corrupt("LEN %d exceeds the limit %d" % (length, max_len), body - 1, "LEN"), resume
    dcs_at = body + length
    if end <= dcs_at:
        return None
    total = 0
    for i in range(body, dcs_at + 1):
        total += buf[i]
    if total & 0xFF:
        return _corrupt("data checksum DCS mismatch", dcs_at, "DCS"), resume
    tfi = buf[body]
    data = bytes(buf[body + 1 : dcs_at])
    if tfi == ERROR_FRAME_CODE and length == 1:
        return Frame(KIND_ERROR), dcs_at + 1
    if tfi != TFI_HOST_TO_PN532 and tfi != TFI_PN532_TO_HOST:
        return _corrupt("TFI 0x%02X is neither D4 nor D5" % tfi, body, "TFI"), resume
    return Frame(kind, tfi, data), dcs_at + 1


def decode_frame(raw: bytes) -> Frame:
    """Decode exactly one complete frame, preamble to postamble."""
    if len(raw) < 3 or raw[0] != 0x00 or raw[1] != 0x00 or raw[2] != 0xFF:
        raise DecodeError("frame must start with 00 00 FF", offset=0, field="start code")
    got = _frame_at(raw, 1, len(raw), MAX_FRAME_LEN)
    if got is None:
        raise DecodeError("frame is truncated", offset=len(raw))
    frame, after = got
    if frame.error is not None:
        raise frame.error
    if after >= len(raw):
        raise DecodeError("postamble 00 missing", offset=after, field="postamble")
    if raw[after] != 0x00:
        raise DecodeError("postamble must be 00", offset=after, field="postamble")
    if after + 1 != len(raw):
        raise DecodeError("bytes after the postamble", offset=after + 1)
    return frame


def response_data(frame: Frame, cmd_code: int) -> bytes:
    """The bytes after PD0 of a PN532 response to `cmd_code`; DecodeError if it is not one."""
    if frame.kind == KIND_ERROR:
        raise DecodeError("PN532 reported a syntax error frame", field="TFI")
    if frame.kind != KIND_NORMAL and frame.kind != KIND_EXTENDED:
        raise DecodeError("expected an information frame, got " + frame.kind, field="kind")
    if frame.tfi != TFI_PN532_TO_HOST:
        raise DecodeError("TFI is not D5 (PN532 to host)", field="TFI")
    if not frame.data or frame.data[0] != (cmd_code + 1) & 0xFF:
        raise DecodeError("response code is not 0x%02X" % ((cmd_code + 1) & 0xFF), field="PD0")
    return frame.data[1:]


def command_of(frame: Frame) -> "tuple[int, bytes]":
    """(command code, parameters) of a host command frame; DecodeError otherwise."""
    if frame.kind != KIND_NORMAL and frame.kind != KIND_EXTENDED:
        raise DecodeError("expected an information frame, got " + frame.kind, field="kind")
    if frame.tfi != TFI_HOST_TO_PN532:
        raise DecodeError("TFI is not D4 (host to PN532)", field="TFI")
    if not frame.data:
        raise DecodeError("command frame has no command code", field="PD0")
    return frame.data[0], frame.data[1:]


# FrameParser takes input in pieces of this size so that the bytes it holds
# stay bounded whatever the caller passes to feed().
_FEED_PIECE = 64


class FrameParser:
    """Finds frames in a byte stream fed in arbitrary chunks.

    `feed(data)` returns the frames completed by `data`, in order.  Bytes that
    are not part of a frame (noise, preambles, postambles, a wake-up
    preamble) are skipped and counted in `skipped`.  A frame with a bad LCS,
    DCS, LEN or TFI is returned as a Frame of kind KIND_CORRUPT whose `error`
    is a DecodeError (stream offset, field); scanning resumes right after its
    start code, so a good frame following it is still found.  The parser
    holds at most one unfinished frame: never more than
    `max_len + 9 + 64` bytes.
    """

    def __init__(self, max_len: int = MAX_FRAME_LEN) -> None:
        if max_len < 1 or max_len > 0xFFFF:
            raise EncodeError("max_len must be 1..65535", field="max_len")
        self.max_len = max_len
        self.skipped = 0
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        # A good frame ended right at the end of the input: its postamble 00
        # is still to come and must not pair with a following FF as a start code.
        self._postamble_due = False

    @property
    def buffered(self) -> int:
        """Bytes held for an unfinished frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Drop any unfinished frame (e.g. after the UART was reopened)."""
        self._base += len(self._buf)
        self._buf = bytearray()
        self._postamble_due = False

    def feed(self, data: bytes) -> "list[Frame]":
        frames: list[Frame] = []
        for piece_start in range(0, len(data), _FEED_PIECE):
            self._buf.extend(data[piece_start : piece_start + _FEED_PIECE])
            self._scan(frames)
        return frames

    def _scan(self, frames: "list[Frame]") -> None:
        buf = self._buf
        end = len(buf)
        i = 0
        if self._postamble_due and end:
            self._postamble_due = False
            if buf[0] == 0x00:
                i = 1
        while True:
            start = _find_start_code(buf, i, end)
            if start < 0:
                # A trailing 00 may be the first half of the next start code.
                keep_from = end - 1 if end > i and buf[end - 1] == 0x00 else end
                self.skipped += keep_from - i
                i = keep_from
                break
            # The preamble 00 before a start code is framing, not noise.
            noise_end = start - 1 if start > i and buf[start - 1] == 0x00 else start
            self.skipped += noise_end - i
            got = _frame_at(buf, start, end, self.max_len)
            if got is None:
                i = start
                break
            frame, i = got
            frame.offset = self._base + start
            if frame.error is not None:
                frame.error = _shift(frame.error, self._base)
            frames.append(frame)
            if frame.kind != KIND_CORRUPT:
                if i == end:
                    self._postamble_due = True
                elif buf[i] == 0x00:
                    i += 1  # postamble
        if i:
            self._buf = buf[i:]
            self._base += i


def _find_start_code(buf: bytearray, i: int, end: int) -> int:
    while i + 1 < end:
        if buf[i] == 0x00 and buf[i + 1] == 0xFF:
            return i
        i += 1
    return -1


def _shift(error: DecodeError, base: int) -> DecodeError:
    offset = error.offset + base if error.offset is not None else None
    return DecodeError(error.reason, offset=offset, field=error.field)
