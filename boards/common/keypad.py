"""Keypad behind a TI TCA8418 I2C keypad scanner (datasheet SCPS215).

The TCA8418 scans up to 8 rows x 10 columns itself and queues key events in
a 10-deep FIFO, so the MCU spends no pins on the matrix.  Registers: 0x01
CFG (bit 0 KE_IEN), 0x02 INT_STAT (bit 0 K_INT, write 1 to clear), 0x03
KEY_LCK_EC (bits 3..0 event count), 0x04 KEY_EVENT_A (reading pops one
event: bit 7 = pressed, bits 6..0 = key number row*10 + col + 1), 0x1D/0x1E/
0x1F KP_GPIO1..3 (pins in keypad mode: rows 0-7, columns 0-7, columns 8-9).
"""

import time

REG_CFG = 0x01
REG_INT_STAT = 0x02
REG_KEY_LCK_EC = 0x03
REG_KEY_EVENT_A = 0x04
REG_KP_GPIO1 = 0x1D
REG_KP_GPIO2 = 0x1E
REG_KP_GPIO3 = 0x1F


class Tca8418Keypad:
    """``read_key(timeout_ms) -> key name or None`` (presses only)."""

    def __init__(self, i2c, addr, keys, poll_ms=5):
        self.i2c = i2c
        self.addr = addr
        self.rows = keys
        self.poll_ms = poll_ms
        ncols = max(len(r) for r in keys)
        if len(keys) > 8 or ncols > 10:
            raise ValueError("TCA8418 scans at most 8 rows x 10 columns")
        cols = (1 << ncols) - 1
        self._set(REG_KP_GPIO1, (1 << len(keys)) - 1)
        self._set(REG_KP_GPIO2, cols & 0xFF)
        self._set(REG_KP_GPIO3, (cols >> 8) & 0x03)
        self._set(REG_CFG, 0x01)
        while self._pending():  # drop events queued before we started
            self._get(REG_KEY_EVENT_A)
        self._set(REG_INT_STAT, 0x01)

    def _set(self, reg, value):
        self.i2c.writeto_mem(self.addr, reg, bytes([value]))

    def _get(self, reg):
        return self.i2c.readfrom_mem(self.addr, reg, 1)[0]

    def _pending(self):
        return self._get(REG_KEY_LCK_EC) & 0x0F

    def decode(self, event):
        """Key name of a press event, None for a release or an unmapped key."""
        if not event & 0x80:
            return None
        code = (event & 0x7F) - 1
        row, col = code // 10, code % 10
        if 0 <= row < len(self.rows) and col < len(self.rows[row]):
            return self.rows[row][col]
        return None

    def read_key(self, timeout_ms=0):
        start = time.ticks_ms()
        while True:
            while self._pending():
                name = self.decode(self._get(REG_KEY_EVENT_A))
                if name is not None:
                    return name
            self._set(REG_INT_STAT, 0x01)
            if time.ticks_diff(time.ticks_ms(), start) >= timeout_ms:
                return None
            time.sleep_ms(self.poll_ms)

    def deinit(self):
        self._set(REG_CFG, 0x00)
