"""A card found by InListPassiveTarget at 106 kbps type A.

UM0701 §7.3.5 (InListPassiveTarget, BrTy 0x00) reports each target as

    Tg | SENS_RES (2) | SEL_RES | NFCIDLength | NFCID1 (4, 7 or 10) | ATS

SENS_RES is the ATQA as the PN532 prints it (most significant byte first:
``00 04`` for a 4-byte-UID MIFARE Classic); SEL_RES is the SAK.  The ATS is
there when the card is ISO/IEC 14443-4 compliant (SAK bit 6, 0x20) and the
PN532 sent RATS itself (SetParameters fAutomaticRATS, on by default); its
first byte TL is its own length.
"""

from firmware.drivers.pn532.errors import PN532ProtocolError

SAK_ISO14443_4 = 0x20


class Iso14443aTarget:
    __slots__ = ("_reader", "atqa", "ats", "sak", "tg", "uid")

    def __init__(self, reader, tg, atqa, sak, uid, ats):
        self._reader = reader
        self.tg = tg
        self.atqa = atqa
        self.sak = sak
        self.uid = uid
        self.ats = ats

    @property
    def iso_dep(self):
        """The card speaks ISO-DEP (APDUs)."""
        return bool(self.sak & SAK_ISO14443_4)

    def exchange_apdu(self, apdu, timeout_ms=None):
        """Send a command APDU, return the response APDU (data + SW1 SW2)."""
        return self._reader.data_exchange(self.tg, apdu, timeout_ms)

    def __repr__(self):
        return "Iso14443aTarget(tg=%d, atqa=%s, sak=0x%02X, uid=%s, ats=%s)" % (
            self.tg,
            self.atqa.hex(),
            self.sak,
            self.uid.hex(),
            self.ats.hex(),
        )


def parse_type_a_targets(reader, data):
    """Targets of an InListPassiveTarget (BrTy 0) response; typed error when
    the bytes do not add up."""
    if not data:
        raise PN532ProtocolError("InListPassiveTarget: empty response")
    count = data[0]
    if count > 2:
        raise PN532ProtocolError("InListPassiveTarget: NbTg %d exceeds 2" % count)
    targets = []
    i = 1
    for _ in range(count):
        if len(data) < i + 5:
            raise PN532ProtocolError("InListPassiveTarget: target data truncated at %d" % i)
        tg = data[i]
        atqa = bytes(data[i + 1 : i + 3])
        sak = data[i + 3]
        uid_len = data[i + 4]
        if uid_len not in (4, 7, 10):
            raise PN532ProtocolError("InListPassiveTarget: NFCID1 length %d" % uid_len)
        i += 5
        if len(data) < i + uid_len:
            raise PN532ProtocolError("InListPassiveTarget: NFCID1 truncated at %d" % i)
        uid = bytes(data[i : i + uid_len])
        i += uid_len
        ats = b""
        if sak & SAK_ISO14443_4 and i < len(data):
            tl = data[i]
            if tl < 1 or len(data) < i + tl:
                raise PN532ProtocolError("InListPassiveTarget: ATS length %d at %d" % (tl, i))
            ats = bytes(data[i : i + tl])
            i += tl
        targets.append(Iso14443aTarget(reader, tg, atqa, sak, uid, ats))
    if i != len(data):
        raise PN532ProtocolError(
            "InListPassiveTarget: %d bytes after the last target" % (len(data) - i)
        )
    return targets
