"""Card contacts: power, reset and presence.

``LineContacts`` is the sim board's: its card reader is one TCP byte stream
(uart3), so activation, reset and presence travel in-band as a control
sequence the card emulator recognises at a command boundary, where no valid
T=0 header (CLA FF is invalid) or T=1 block (NAD b8 and b4 shall be 0) nor a
PPS (PPS0 b8 is RFU) can begin (docs/drivers.md):

    FF A5 op      op 00 deactivate, 01 cold reset, 02 warm reset,
                  03 presence (the emulator answers one byte: 01 present, 00 absent)

After 01/02 the emulator answers with the ATR, as a card does after reset.
Control sequences are always sent as direct-convention bytes.

``PinContacts`` drives a TDA8035-style interface with the board's pins:
CMDVCC (active low) starts and stops the activation sequence, RST is the card
reset, OFF (input, low = no card or fault) reports presence.
"""

CONTROL = b"\xff\xa5"
OP_OFF = 0x00
OP_COLD = 0x01
OP_WARM = 0x02
OP_PRESENCE = 0x03


class LineContacts:
    def __init__(self, port):
        self.port = port

    def _op(self, op):
        self.port.inverse = False
        self.port.drain()
        self.port.write(CONTROL + bytes((op,)))

    def cold_reset(self):
        self._op(OP_COLD)

    def warm_reset(self):
        self._op(OP_WARM)

    def deactivate(self):
        self._op(OP_OFF)

    def present(self, timeout_ms=500):
        self._op(OP_PRESENCE)
        return self.port.read(1, timeout_ms, timeout_ms) == b"\x01"


class PinContacts:
    def __init__(self, cmdvcc, rst, off=None, sleep_ms=None):
        self.cmdvcc = cmdvcc
        self.rst = rst
        self.off = off
        self.sleep_ms = sleep_ms
        self.cmdvcc.value(1)
        self.rst.value(0)

    def _wait(self, ms):
        if self.sleep_ms is not None:
            self.sleep_ms(ms)

    def cold_reset(self):
        self.cmdvcc.value(1)
        self.rst.value(0)
        self._wait(10)
        self.cmdvcc.value(0)  # the interface powers the card and starts CLK
        self._wait(1)  # >= 400 clock cycles with RST low (ISO 7816-3 §6.2.2)
        self.rst.value(1)

    def warm_reset(self):
        self.rst.value(0)
        self._wait(1)
        self.rst.value(1)

    def deactivate(self):
        self.rst.value(0)
        self.cmdvcc.value(1)

    def present(self, timeout_ms=0):
        return True if self.off is None else bool(self.off.value())
