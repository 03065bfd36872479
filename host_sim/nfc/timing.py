"""Optional link timing: what bytes cost on the wires of a real reader.

UART (HSU): 8N1, 10 bit times per byte at the current baud rate (115200
after reset; SetSerialBaudRate changes it).

RF, ISO/IEC 14443-2/-3 type A at 106 kbps (fc/128, fc = 13.56 MHz): a
standard frame costs 9 bits per byte (8 data + odd parity), plus start and
end of communication (2 bits), and carries CRC_A (2 bytes); the card starts
answering after the frame delay time FDT = 1172/fc (ISO/IEC 14443-3, when
the reader's last bit is 1) and the reader waits at least 1172/fc again
before its next frame.  A missing answer costs the reader's timeout instead.
"""

from __future__ import annotations

FC_HZ = 13_560_000
RF_BIT_S = 128 / FC_HZ  # one bit at 106 kbps
FDT_S = 1172 / FC_HZ
CRC_BYTES = 2

UART_BITS_PER_BYTE = 10
DEFAULT_BAUD = 115200
# SetSerialBaudRate BR codes (UM0701 §7.2.7).
BAUD_RATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1288000)


def uart_seconds(nbytes: int, baud: int) -> float:
    return nbytes * UART_BITS_PER_BYTE / baud


def rf_frame_seconds(nbytes: int) -> float:
    """One standard frame of ``nbytes`` (CRC_A added) at 106 kbps."""
    return ((nbytes + CRC_BYTES) * 9 + 2) * RF_BIT_S


def rf_exchange_seconds(sent: int, received: int | None, timeout_s: float) -> float:
    """Reader frame, card frame after FDT (or the timeout), the guard time after."""
    out = rf_frame_seconds(sent)
    if received is None:
        return out + timeout_s
    return out + FDT_S + rf_frame_seconds(received) + FDT_S


class LinkTiming:
    """Accumulates the RF time of one command; the UART side is computed per frame."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.baud = DEFAULT_BAUD
        self.rf_s = 0.0

    def uart(self, nbytes: int) -> float:
        return uart_seconds(nbytes, self.baud) if self.enabled else 0.0

    def rf(self, sent: int, received: int | None, timeout_s: float) -> None:
        if self.enabled:
            self.rf_s += rf_exchange_seconds(sent, received, timeout_s)

    def take_rf(self) -> float:
        spent = self.rf_s
        self.rf_s = 0.0
        return spent
