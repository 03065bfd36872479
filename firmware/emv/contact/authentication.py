"""Offline data authentication in the kernel's flow (EMV 4.3 Book 3 §10.3):
the method (CDA > DDA > SDA, by the AIP and Terminal Capabilities), the CAPK,
key recovery through firmware.emv.oda, INTERNAL AUTHENTICATE for DDA, and
the TVR/TSI bits of each outcome.  CDA's signature check on the GENERATE AC
response is ``verify_generate_ac``."""

from firmware.emv import oda
from protocols import apdu, tlv
from protocols.errors import DecodeError

SDA = "sda"
DDA = "dda"
CDA = "cda"

FAILED_BIT = {SDA: "sda_failed", DDA: "dda_failed", CDA: "cda_failed"}


def choose(aip: bytes, caps: bytes) -> "str | None":
    """AIP byte 1: b7 SDA, b6 DDA, b1 CDA; 9F33 byte 3: b8 SDA, b7 DDA, b4 CDA."""
    if aip[0] & 0x01 and caps[2] & 0x08:
        return CDA
    if aip[0] & 0x20 and caps[2] & 0x40:
        return DDA
    if aip[0] & 0x40 and caps[2] & 0x80:
        return SDA
    return None


class Authenticator:
    def __init__(
        self, link: "object", store: "object", tvr: "object", tsi: "object", trace: "object"
    ) -> None:
        self.link = link
        self.store = store
        self.tvr = tvr
        self.tsi = tsi
        self.trace = trace
        self.method: "str | None" = None
        self.icc_key: "oda.PublicKey | None" = None
        self.issuer_key: "oda.PublicKey | None" = None
        self.failed = False
        self.records: "list[tuple[int, bytes]]" = []
        self.capks: "object" = None
        self.today = b""

    def fail(self, error: "oda.OdaError") -> None:
        self.failed = True
        if self.method is not None:
            self.tvr.set(FAILED_BIT[self.method])  # type: ignore[attr-defined]
        if error.missing:
            self.tvr.set("icc_data_missing")  # type: ignore[attr-defined]
        self.trace.note("ODA %s failed: %s" % (self.method, error.reason))  # type: ignore[attr-defined]

    def run(
        self,
        config: "object",
        aid_config: "object",
        records: "list[tuple[int, bytes]]",
        today: bytes,
        caps: bytes,
    ) -> None:
        values = self.store.values  # type: ignore[attr-defined]
        aip = values[0x82]
        self.records = records
        self.today = today
        self.capks = config.capks  # type: ignore[attr-defined]
        self.method = choose(aip, caps)
        if self.method is None:
            self.tvr.set("oda_not_performed")  # type: ignore[attr-defined]
            return
        if self.method == SDA:
            self.tvr.set("sda_selected")  # type: ignore[attr-defined]
        self.tsi.set("oda_performed")  # type: ignore[attr-defined]
        try:
            static = oda.static_data(records, values.get(0x9F4A), aip)
            index = values.get(0x8F)
            if index is None or len(index) != 1:
                raise oda.OdaError("CA public key index missing", missing=True)
            rid = values[0x4F][:5]
            capk = config.capks.find(rid, index[0], today)  # type: ignore[attr-defined]
            if capk is None:
                raise oda.OdaError("no CA public key %s %02X" % (rid.hex().upper(), index[0]))

            def revoked(serial: bytes) -> bool:
                return config.capks.is_revoked(rid, index[0], serial)  # type: ignore[attr-defined]

            issuer = oda.issuer_public_key(
                oda.PublicKey(capk.modulus, capk.exponent), values, today, revoked
            )
            self.issuer_key = issuer
            if self.method == SDA:
                dac = oda.verify_sda(issuer, values, static)
                self.store.put(0x9F45, dac, "card")  # type: ignore[attr-defined]
                return
            self.icc_key = oda.icc_public_key(issuer, values, static, today)
            if self.method == DDA:
                self._dda(aid_config)
        except oda.OdaError as error:
            self.fail(error)

    def pin_key(self) -> "oda.PublicKey | None":
        """Book 3 §10.5.1 / Book 2 §7: the key for offline enciphered PIN --
        the ICC PIN Encipherment key (9F2D) if the card has one, else the ICC
        key; recovered here if ODA did not already.  None if it cannot be."""
        values = self.store.values  # type: ignore[attr-defined]
        try:
            issuer = self.issuer_key
            if issuer is None:
                issuer = self._recover_issuer()
            if values.get(0x9F2D) is not None:
                return oda.icc_pin_public_key(issuer, values, self.today)
            if self.icc_key is not None:
                return self.icc_key
            static = oda.static_data(self.records, values.get(0x9F4A), values[0x82])
            return oda.icc_public_key(issuer, values, static, self.today)
        except oda.OdaError as error:
            self.trace.note("PIN encipherment key: %s" % error.reason)  # type: ignore[attr-defined]
            return None

    def _recover_issuer(self) -> "oda.PublicKey":
        values = self.store.values  # type: ignore[attr-defined]
        index = values.get(0x8F)
        capks = self.capks
        if index is None or len(index) != 1 or capks is None:
            raise oda.OdaError("CA public key index missing", missing=True)
        rid = values[0x4F][:5]
        capk = capks.find(rid, index[0], self.today)  # type: ignore[attr-defined]
        if capk is None:
            raise oda.OdaError("no CA public key")

        def revoked(serial: bytes) -> bool:
            return capks.is_revoked(rid, index[0], serial)  # type: ignore[attr-defined]

        ca = oda.PublicKey(capk.modulus, capk.exponent)
        return oda.issuer_public_key(ca, values, self.today, revoked)

    def _dda(self, aid_config: "object") -> None:
        """Book 2 §6.5: INTERNAL AUTHENTICATE with the DDOL data."""
        values = self.store.values  # type: ignore[attr-defined]
        ddol = values.get(0x9F49) or aid_config.ddol  # type: ignore[attr-defined]
        if not ddol or 0x9F37 not in [tag for tag, _length in tlv.parse_dol(ddol)]:
            raise oda.OdaError("DDOL without the unpredictable number", missing=True)
        ddol_data = tlv.build_dol_data(ddol, values)
        reply = self.link.send(apdu.internal_authenticate(ddol_data))  # type: ignore[attr-defined]
        if reply.sw != 0x9000:
            raise oda.OdaError("INTERNAL AUTHENTICATE %04X" % reply.sw)
        sdad = _sdad(reply.data)
        assert self.icc_key is not None
        dynamic = oda.verify_sdad(self.icc_key, sdad, ddol_data)
        self.store.put(0x9F4C, oda.dynamic_number(dynamic), "card")  # type: ignore[attr-defined]

    def verify_generate_ac(self, response: bytes, cid: bytes, hash_prefix: bytes) -> "bytes | None":
        """Book 2 §6.6.2 on a format 2 response; the cryptogram, or None
        (CDA failed: TVR bit set)."""
        try:
            if self.icc_key is None:
                raise oda.OdaError("no ICC public key")
            nodes = tlv.decode(response)
            if not nodes or nodes[0].tag != 0x77 or nodes[0].children is None:
                raise oda.OdaError("CDA response is not a 77 template")
            sdad = None
            rest = b""
            for child in nodes[0].children:
                if child.tag == 0x9F4B:
                    sdad = child.value
                else:
                    rest += tlv.encode_one(child)
            if sdad is None:
                raise oda.OdaError("signed dynamic data 9F4B missing", missing=True)
            un = self.store.values[0x9F37]  # type: ignore[attr-defined]
            number, cryptogram = oda.verify_cda(self.icc_key, sdad, un, cid, hash_prefix + rest)
            self.store.put(0x9F4C, number, "card")  # type: ignore[attr-defined]
            return cryptogram
        except (oda.OdaError, DecodeError) as error:
            if isinstance(error, DecodeError):
                error = oda.OdaError(str(error))
            self.method = CDA
            self.fail(error)
            return None


def _sdad(data: bytes) -> bytes:
    """INTERNAL AUTHENTICATE response: format 1 (80) or format 2 (77 / 9F4B)."""
    try:
        nodes = tlv.decode(data)
    except DecodeError:
        raise oda.OdaError("INTERNAL AUTHENTICATE response malformed")
    if nodes and nodes[0].tag == 0x80:
        return nodes[0].value
    node = tlv.find(nodes, 0x9F4B)
    if node is None:
        raise oda.OdaError("signed dynamic data missing", missing=True)
    return node.value
