"""T=0 (ISO/IEC 7816-3:2006 §10): one command TPDU at a time, driven by the
card's procedure bytes.

After the 5-byte header CLA INS P1 P2 P3 the card sends procedure bytes:
    60          NULL: wait again (another WWT)
    INS         send (or receive) all remaining data bytes
    INS ^ FF    send (or receive) the next data byte only
    6X (X != 0), 9X   SW1; SW2 follows and ends the command
P3 is Lc when there is command data, else Le (00 = 256), else 00 (case 1).
Case 4 goes out as case 3 (T=0 carries no Le with data); the response comes
with 61XX and GET RESPONSE, 6CXX repeats the command with the right Le: both
followed by ``protocols.apdu.exchange``.  Extended lengths need T=1.
"""

from firmware.drivers.iso7816.errors import CardProtocolError, CardTimeout
from protocols import apdu

NULL = 0x60
MAX_NULLS = 1000


class T0:
    def __init__(self, port, wwt_ms):
        self.port = port
        self.wwt_ms = wwt_ms

    def _byte(self):
        return self.port.read(1, self.wwt_ms, self.wwt_ms)[0]

    def tpdu(self, command):
        """Send one TPDU (APDU bytes, cases 1-4 short); returns data + SW."""
        cmd = apdu.parse_command(command)
        if cmd.extended:
            raise CardProtocolError("extended APDUs need T=1 (or ENVELOPE)")
        data = cmd.data
        if data:
            p3 = len(data)
            expect = 0
        elif cmd.le is not None:
            p3 = cmd.le & 0xFF
            expect = cmd.le
        else:
            p3 = 0
            expect = 0
        ins = cmd.ins
        self.port.write(bytes((cmd.cla, ins, cmd.p1, cmd.p2, p3)))
        sent = 0
        got = b""
        nulls = 0
        while True:
            pb = self._byte()
            if pb == NULL:
                nulls += 1
                if nulls > MAX_NULLS:
                    raise CardTimeout("card sent %d NULL bytes" % nulls)
                continue
            if (pb & 0xF0 in (0x60, 0x90)) and pb != NULL:
                sw2 = self._byte()
                return got + bytes((pb, sw2))
            if pb == ins:
                count = None  # all remaining
            elif pb == ins ^ 0xFF:
                count = 1
            else:
                raise CardProtocolError("procedure byte %02X after INS %02X" % (pb, ins))
            if data:
                left = len(data) - sent
                if left <= 0:
                    raise CardProtocolError("card asks for more data than Lc")
                n = left if count is None else 1
                self.port.write(data[sent : sent + n])
                sent += n
            else:
                left = expect - len(got)
                if left <= 0:
                    raise CardProtocolError("card sends more data than Le")
                n = left if count is None else 1
                got += self.port.read(n, self.wwt_ms, self.wwt_ms)

    def transmit(self, command):
        """An APDU exchange: TPDUs until the card has no more to give."""
        try:
            return apdu.exchange(self.tpdu, bytes(command)).encode()
        except ValueError as e:  # DecodeError: the card keeps asking for more
            raise CardProtocolError(str(e))
