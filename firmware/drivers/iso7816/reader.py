"""Contact-card reader: reset, ATR, protocol, APDUs (ISO/IEC 7816-3).

    reader = CardReader(board.bus_for("card_reader"), clock_hz=3571200)
    atr = reader.power_on()                 # protocols.atr.Atr
    resp = reader.exchange_apdu(select)     # response data + SW1 SW2
    reader.power_off()

The reader takes the protocol the ATR makes the default (TA2's specific mode,
else the first offered) without PPS, so Fi/Di stay at 372/1; the waiting
times follow from the ATR and the card clock:

    etu = 372 / f,  WWT = 960 x WI x Fi / f (T=0)
    BWT = 11 etu + 2^BWI x 960 x 372 / f,  CWT = (11 + 2^CWI) etu (T=1)

each with ``min_wait_ms`` added (a loopback link or an interface chip adds
latency a card does not have).  For T=1 it then offers IFSD with S(IFS).
"""

from firmware.drivers.iso7816.contacts import LineContacts
from firmware.drivers.iso7816.errors import CardAbsent, CardError, CardProtocolError, CardTimeout
from firmware.drivers.iso7816.port import CardPort
from firmware.drivers.iso7816.t0 import T0
from firmware.drivers.iso7816.t1 import T1
from protocols import atr as atr_codec
from protocols.errors import DecodeError


class CardReader:
    def __init__(
        self,
        uart,
        contacts=None,
        clock_hz=3571200,
        echo=False,
        ifsd=254,
        atr_first_ms=1000,
        atr_char_ms=1000,
        min_wait_ms=200,
    ):
        self.port = CardPort(uart, echo)
        self.contacts = contacts if contacts is not None else LineContacts(self.port)
        self.clock_hz = clock_hz
        self.ifsd = ifsd
        self.atr_first_ms = atr_first_ms
        self.atr_char_ms = atr_char_ms
        self.min_wait_ms = min_wait_ms
        self.atr = None
        self.protocol = None
        self.transport = None
        self._last_ts_raw = None

    def _ms(self, cycles):
        return cycles * 1000 // self.clock_hz + 1 + self.min_wait_ms

    def read_atr(self):
        """Read the ATR byte by byte until its length is known and reached."""
        raw = self.port.read(1, self.atr_first_ms, self.atr_char_ms)
        self._last_ts_raw = raw[0]
        try:
            while True:
                want = atr_codec.expected_length(raw)
                if want is not None and len(raw) >= want:
                    break
                raw += self.port.read(1, self.atr_char_ms, self.atr_char_ms)
            return atr_codec.decode(raw)
        except DecodeError as e:
            raise CardProtocolError("bad ATR %s: %s" % (raw.hex(), e))

    def power_on(self, warm=False):
        self.port.inverse = False
        self.port.drain()  # whatever a previous session left on the line
        if warm:
            self.contacts.warm_reset()
        else:
            self.contacts.cold_reset()
        self.transport = None
        try:
            atr = self.read_atr()
        except CardTimeout:
            raise CardAbsent("no ATR: card mute or absent")
        if self._last_ts_raw == atr_codec.TS_INVERSE_AS_DIRECT:
            # the card talks inverse convention to a direct-convention UART:
            # convert every byte from here on, as decode() did for the ATR
            self.port.inverse = True
        self.atr = atr
        self.protocol = atr.default_protocol
        if self.protocol == 0:
            self.transport = T0(self.port, self._ms(960 * atr.wi * 372))
        elif self.protocol == 1:
            etu = 372
            bwt = self._ms(11 * etu + (1 << atr.bwi) * 960 * 372)
            cwt = self._ms((11 + (1 << atr.cwi)) * etu)
            self.transport = T1(self.port, atr.ifsc, atr.edc, bwt, cwt)
            if self.ifsd:
                self.transport.negotiate_ifsd(self.ifsd)
        else:
            raise CardProtocolError("card offers T=%d only" % self.protocol)
        return atr

    def exchange_apdu(self, apdu):
        """Send one command APDU; the response (data + SW1 SW2)."""
        if self.transport is None:
            raise CardError("card not powered: call power_on()")
        return self.transport.transmit(apdu)

    def present(self):
        return self.contacts.present()

    def power_off(self):
        self.contacts.deactivate()
        self.transport = None
        self.atr = None
