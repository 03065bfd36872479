"""The EMV contact kernel: the EMV 4.3 Book 3 transaction flow.

    kernel = ContactKernel(card, config, clock, random, ui)
    outcome = kernel.start(amount=12500)          # fils
    if outcome.result == ONLINE_REQUEST:
        ... send kernel.online_data() to the host (ISO 8583 field 55) ...
        outcome = kernel.complete(HostResponse(arc=b"00", auth_data=..., scripts=...))
        # or kernel.complete(None) when the host cannot be reached

``card`` has ``exchange_apdu(apdu) -> bytes``; ``clock()`` returns
(year, month, day, hour, minute, second); ``random(n)`` returns n random
bytes; ``ui`` has ``choose_application(candidates) -> index | None``,
``confirm_application(candidate) -> bool``, ``offline_pin(tries) ->
bytearray | None`` and ``online_pin() -> bool``.  See docs/emv.md."""

import hashlib

from firmware.emv import store as store_mod
from firmware.emv import tvr as tvr_mod
from firmware.emv.contact import authentication, cvm, restrictions, risk, scripts, selection
from firmware.emv.contact.link import CardError, Link
from firmware.emv.contact.trace import Trace
from protocols import apdu, tlv
from protocols.errors import DecodeError, EncodeError

APPROVED = "approved"
DECLINED = "declined"
ONLINE_REQUEST = "online_request"
NOT_ACCEPTED = "not_accepted"  # no application both card and terminal accept
END_APPLICATION = "end_application"  # card error, card removed, card blocked

APPROVAL_CODES = (b"00", b"08", b"10", b"11")
UNABLE_ONLINE_APPROVED = b"Y3"
UNABLE_ONLINE_DECLINED = b"Z3"

MANDATORY_RECORD_DATA = (0x5A, 0x5F24, 0x8C, 0x8D)

# The ICC data an authorisation request carries (ISO 8583 field 55).
ONLINE_TAGS = (
    0x9F26,
    0x9F27,
    0x9F10,
    0x9F37,
    0x9F36,
    0x95,
    0x9A,
    0x9C,
    0x9F02,
    0x5F2A,
    0x82,
    0x9F1A,
    0x9F03,
    0x9F34,
    0x9F33,
    0x9F35,
    0x9F1E,
    0x84,
    0x9F09,
    0x9F41,
    0x5F34,
    0x9F53,
)

CID_TYPE = 0xC0
CID_NAMES = {apdu.AAC: "AAC", apdu.TC: "TC", apdu.ARQC: "ARQC"}
# What a card may answer to each request (Book 3 §9.3): never more than asked.
ALLOWED = {
    apdu.AAC: (apdu.AAC,),
    apdu.ARQC: (apdu.AAC, apdu.ARQC),
    apdu.TC: (apdu.AAC, apdu.ARQC, apdu.TC),
}


class Terminate(Exception):
    """Book 3: processing ends ("terminate the transaction")."""


class HostResponse:
    """What the application got from the host: ARC (8A, 2 bytes), Issuer
    Authentication Data (91) and issuer scripts (71/72 templates)."""

    def __init__(self, arc: bytes, auth_data: "bytes | None" = None, scripts: bytes = b"") -> None:
        self.arc = arc
        self.auth_data = auth_data
        self.scripts = scripts


class Outcome:
    def __init__(self, result: str, reason: str = "") -> None:
        self.result = result
        self.reason = reason
        self.tvr = b""
        self.tsi = b""
        self.cvm_results = b""
        self.cryptogram = ""  # AAC, TC, ARQC
        self.signature = False
        self.online_pin = False
        self.offline_pin = False
        self.aid = b""
        self.label = ""
        self.script_results = b""

    def __repr__(self) -> str:
        return "Outcome(%s %s TVR=%s TSI=%s)" % (
            self.result,
            self.cryptogram,
            self.tvr.hex(),
            self.tsi.hex(),
        )


def _bcd(number: int, length: int) -> bytes:
    return bytes.fromhex(("%0" + str(2 * length) + "d") % number)


class ContactKernel:
    def __init__(
        self,
        card: "object",
        config: "object",
        clock: "object",
        random: "object",
        ui: "object" = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.random = random
        self.ui = ui
        self.trace = Trace()
        self.link = Link(card, self.trace)
        self.store = store_mod.TagStore()
        self.tvr = tvr_mod.new_tvr()
        self.tsi = tvr_mod.new_tsi()
        self.aid_config = None
        self.candidate = None
        self.records: "list[tuple[int, bytes]]" = []
        self.auth = None
        self.cvm = cvm.CvmOutcome()
        self.pdol_data = b""
        self.cdol1_data = b""
        self.cda_requested = False
        self.cda_failed_now = False
        self.started = False
        self.cryptogram = ""
        self.today = b"\x00\x01\x01"
        self.amount = 0
        self.transaction_type = 0
        self.service = "goods"
        self.outcome = Outcome(END_APPLICATION)

    # Data -------------------------------------------------------------

    def _sync(self) -> None:
        self.store.put(0x95, self.tvr.value(), store_mod.TERMINAL)
        self.store.put(0x9B, self.tsi.value(), store_mod.TERMINAL)
        self.store.put(0x9F34, self.cvm.results, store_mod.TERMINAL)

    def _terminal_data(
        self, amount: int, amount_other: int, transaction_type: int, sequence: int
    ) -> None:
        for tag in self.config.data:  # type: ignore[attr-defined]
            self.store.put(tag, self.config.data[tag], store_mod.TERMINAL)  # type: ignore[attr-defined]
        year, month, day, hour, minute, second = self.clock()[:6]  # type: ignore[operator]
        self.today = _bcd(year % 100, 1) + _bcd(month, 1) + _bcd(day, 1)
        self.store.put(0x9A, self.today, store_mod.TERMINAL)
        self.store.put(
            0x9F21, _bcd(hour, 1) + _bcd(minute, 1) + _bcd(second, 1), store_mod.TERMINAL
        )
        self.store.put(0x9F02, _bcd(amount, 6), store_mod.TERMINAL)
        self.store.put(0x81, amount.to_bytes(4, "big"), store_mod.TERMINAL)
        self.store.put(0x9F03, _bcd(amount_other, 6), store_mod.TERMINAL)
        self.store.put(0x9F04, amount_other.to_bytes(4, "big"), store_mod.TERMINAL)
        self.store.put(0x9C, bytes((transaction_type,)), store_mod.TERMINAL)
        self.store.put(0x9F41, _bcd(sequence % 100000000, 4), store_mod.TERMINAL)
        self.store.put(0x9F37, bytes(self.random(4)), store_mod.TERMINAL)  # type: ignore[operator]
        self._sync()

    def _aid_data(self) -> None:
        aid = self.aid_config
        self.store.put(0x9F06, aid.aid, store_mod.TERMINAL)  # type: ignore[attr-defined]
        self.store.put(0x9F09, aid.app_version, store_mod.TERMINAL)  # type: ignore[attr-defined]
        self.store.put(0x9F1B, aid.floor_limit.to_bytes(4, "big"), store_mod.TERMINAL)  # type: ignore[attr-defined]

    def _card_objects(self, nodes: "list[tlv.TLV]", seen: "list[int] | None" = None) -> None:
        """Store the primitive objects; ``seen`` collects the tags of the
        records, where a second copy ends the transaction (Book 3 §10.2)."""
        for node in tlv.walk(nodes):
            if node.constructed:
                continue
            if seen is not None:
                if node.tag in seen:
                    raise Terminate("card sent %X twice" % node.tag)
                seen.append(node.tag)
            self.store.put_card(node.tag, node.value)

    def online_data(self) -> bytes:
        """The ICC data for the authorisation request (field 55), BER-TLV."""
        self._sync()
        out = []
        for tag in ONLINE_TAGS:
            value = self.store.get(tag)
            if value is not None:
                out.append(tlv.TLV(tag, value))
        return tlv.encode(out)

    # Flow -------------------------------------------------------------

    def start(
        self,
        amount: int,
        amount_other: int = 0,
        transaction_type: int = 0x00,
        service: str = "goods",
        force_online: bool = False,
        sequence: int = 1,
    ) -> Outcome:
        if (
            not isinstance(amount, int)
            or amount < 0
            or not isinstance(amount_other, int)
            or amount_other < 0
        ):
            raise ValueError("amounts are integers in minor units")
        if self.started:
            raise ValueError("one ContactKernel per transaction")
        self.started = True
        self.amount = amount
        self.transaction_type = transaction_type
        self.service = service
        self._terminal_data(amount, amount_other, transaction_type, sequence)
        try:
            return self._first_part(force_online)
        except Terminate as exc:
            return self._finish(END_APPLICATION, str(exc))
        except CardError as exc:
            return self._finish(END_APPLICATION, "card: %s" % exc)

    def _first_part(self, force_online: bool) -> Outcome:
        try:
            found = selection.candidates(self.link, self.config)
        except selection.CardBlocked as exc:
            return self._finish(END_APPLICATION, str(exc))
        while True:
            candidate = selection.choose(found, self.config, self.ui)
            if candidate is None:
                return self._finish(NOT_ACCEPTED, "no application to select")
            fci = selection.final_select(self.link, candidate)
            if fci is None:
                self.trace.note(
                    "removed %s: final SELECT failed" % candidate.adf_name.hex().upper()
                )
                found.remove(candidate)
                continue
            self.candidate = candidate
            self.aid_config = candidate.aid_config
            self._card_objects(fci)
            self.store.put(0x4F, candidate.adf_name, store_mod.CARD)
            self._aid_data()
            if self._initiate():
                break
            # GPO 6985: conditions of use not satisfied -- back to selection.
            self.trace.note("removed %s: GPO 6985" % candidate.adf_name.hex().upper())
            found.remove(candidate)
            for tag in self.store.card_tags():
                self.store.remove(tag)
        self._read_records()
        self.auth = authentication.Authenticator(
            self.link, self.store, self.tvr, self.tsi, self.trace
        )
        self.auth.run(
            self.config, self.aid_config, self.records, self.today, self.config.data[0x9F33]
        )  # type: ignore[attr-defined]
        restrictions.check(
            self.store,
            self.tvr,
            self.config.terminal_type(),
            self.transaction_type,
            self.service,
            self.today,
        )  # type: ignore[attr-defined]
        self._cardholder_verification()
        if self.store.values[0x82][0] & 0x08:  # AIP: terminal risk management to be performed
            risk.terminal_risk_management(
                self.link,
                self.store,
                self.tvr,
                self.aid_config,
                self.config,
                self.amount,
                self.random,
            )
            self.tsi.set("terminal_risk_management_performed")
        if force_online:
            self.tvr.set("merchant_forced_online")
        online_capable = self.config.online_capable()  # type: ignore[attr-defined]
        wanted = risk.action_analysis(self.store, self.tvr, self.aid_config, online_capable)
        cid = self._generate_ac(wanted, 0x8C)
        kind = cid & CID_TYPE
        if kind == apdu.TC:
            return self._finish(APPROVED, "offline approval")
        if kind == apdu.AAC:
            if self.cda_failed_now:
                return self._finish(DECLINED, "CDA failed on the TC")
            return self._finish(
                DECLINED,
                "card declined offline" if wanted != apdu.AAC else "terminal declined offline",
            )
        if self.cda_failed_now:
            # Book 2 §6.6.2: CDA failed on an ARQC -- complete with an AAC.
            self._second_generate_ac(apdu.AAC)
            return self._finish(DECLINED, "CDA failed")
        return self._finish(ONLINE_REQUEST, "online authorisation requested")

    def _initiate(self) -> bool:
        """Book 3 §10.1: GET PROCESSING OPTIONS; False on 6985."""
        pdol = self.store.get(0x9F38) or b""
        try:
            self.pdol_data = tlv.build_dol_data(pdol, self.store.values)
        except DecodeError:
            raise Terminate("PDOL malformed")
        reply = self.link.send(apdu.get_processing_options(self.pdol_data))
        if reply.sw == 0x6985:
            return False
        if reply.sw != 0x9000:
            raise Terminate("GPO %04X" % reply.sw)
        try:
            nodes = tlv.decode(reply.data)
        except DecodeError:
            raise Terminate("GPO response malformed")
        if len(nodes) == 1 and nodes[0].tag == 0x80 and len(nodes[0].value) >= 2:
            aip, afl = nodes[0].value[:2], nodes[0].value[2:]
        elif len(nodes) == 1 and nodes[0].tag == 0x77:
            values = tlv.to_dict(nodes)
            aip, afl = values.get(0x82), values.get(0x94)
            if aip is None or afl is None or len(aip) != 2:
                raise Terminate("GPO response lacks AIP or AFL")
            self._card_objects(nodes)
        else:
            raise Terminate("GPO response template unknown")
        if not afl or len(afl) % 4:
            raise Terminate("AFL malformed")
        self.store.put(0x82, aip, store_mod.CARD)
        self.store.put(0x94, afl, store_mod.CARD)
        return True

    def _read_records(self) -> None:
        """Book 3 §10.2: every record the AFL names; ODA records kept raw."""
        afl = self.store.values[0x94]
        seen: "list[int]" = []
        for pos in range(0, len(afl), 4):
            sfi, first, last, oda_count = afl[pos] >> 3, afl[pos + 1], afl[pos + 2], afl[pos + 3]
            if not 1 <= sfi <= 30 or first == 0 or last < first or oda_count > last - first + 1:
                raise Terminate("AFL entry malformed")
            for number in range(first, last + 1):
                reply = self.link.send(apdu.read_record(number, sfi))
                if reply.sw != 0x9000:
                    raise Terminate("READ RECORD %d/%d: %04X" % (sfi, number, reply.sw))
                try:
                    nodes = tlv.decode(reply.data)
                except DecodeError:
                    raise Terminate("record %d/%d malformed" % (sfi, number))
                if sfi <= 10 and (len(nodes) != 1 or nodes[0].tag != 0x70):
                    raise Terminate("record %d/%d is not a 70 template" % (sfi, number))
                if number < first + oda_count:
                    self.records.append((sfi, reply.data))
                self._card_objects(nodes, seen)
        for tag in MANDATORY_RECORD_DATA:
            if not self.store.has(tag):
                raise Terminate("mandatory data %X missing" % tag)
        self.trace.learn_pan(self.store.values[0x5A])

    def _cardholder_verification(self) -> None:
        ctx = {
            "terminal_type": self.config.terminal_type(),  # type: ignore[attr-defined]
            "transaction_type": self.transaction_type,
            "caps": self.config.data[0x9F33],  # type: ignore[attr-defined]
            "amount": self.amount,
            "pin_pad": self.config.option("pin_pad"),  # type: ignore[attr-defined]
            "pin_key": self.auth.pin_key if self.auth is not None else None,
            "random": self.random,
        }
        self.cvm = cvm.process(self.link, self.store, self.tvr, self.ui, ctx)
        if self.cvm.performed:
            self.tsi.set("cvm_performed")
        self._sync()

    def _generate_ac(self, wanted: int, cdol_tag: int) -> int:
        """GENERATE AC (§9.3, §10.8): the CID; the cryptogram data stored."""
        self._sync()
        cdol = self.store.values[cdol_tag]
        try:
            if 0x98 in [tag for tag, _length in tlv.parse_dol(cdol)]:
                self._tc_hash()
            data = tlv.build_dol_data(cdol, self.store.values)
        except DecodeError:
            raise Terminate("CDOL malformed")
        cda = (
            self.auth is not None
            and self.auth.method == authentication.CDA
            and not self.auth.failed
            and wanted != apdu.AAC
        )
        if cdol_tag == 0x8C:
            self.cdol1_data = data
            self.cda_requested = cda
        reply = self.link.send(apdu.generate_ac(wanted, data, cda=cda))
        if reply.sw != 0x9000:
            raise Terminate("GENERATE AC %04X" % reply.sw)
        try:
            nodes = tlv.decode(reply.data)
        except DecodeError:
            raise Terminate("GENERATE AC response malformed")
        if len(nodes) == 1 and nodes[0].tag == 0x80 and len(nodes[0].value) >= 11:
            value = nodes[0].value
            found = {0x9F27: value[0:1], 0x9F36: value[1:3], 0x9F26: value[3:11]}
            if len(value) > 11:
                found[0x9F10] = value[11:]
        elif len(nodes) == 1 and nodes[0].tag == 0x77:
            found = tlv.to_dict(nodes)
        else:
            raise Terminate("GENERATE AC response template unknown")
        cid = found.get(0x9F27)
        if cid is None or len(cid) != 1 or found.get(0x9F36) is None:
            raise Terminate("GENERATE AC response lacks CID or ATC")
        kind = cid[0] & CID_TYPE
        if kind not in ALLOWED[wanted]:
            raise Terminate("card answered %02X to a request for %02X" % (kind, wanted))
        for tag in found:
            self.store.put(tag, found[tag], store_mod.CARD)
        if cdol_tag == 0x8C:
            self.tsi.set("card_risk_management_performed")
        self.cda_failed_now = False
        if cda and kind != apdu.AAC:
            prefix = self.pdol_data + self.cdol1_data + (data if cdol_tag == 0x8D else b"")
            cryptogram = self.auth.verify_generate_ac(reply.data, cid, prefix)  # type: ignore[union-attr]
            if cryptogram is None:
                self.cda_failed_now = True
            else:
                self.store.put(0x9F26, cryptogram, store_mod.CARD)
        elif 0x9F26 not in found:
            raise Terminate("GENERATE AC response lacks the cryptogram")
        self.cryptogram = CID_NAMES.get(kind, "")
        self._sync()
        if self.cda_failed_now and kind == apdu.TC:
            return apdu.AAC  # a TC whose signature fails is a decline
        return cid[0]

    def _tc_hash(self) -> None:
        """Book 3 §5.4 / Annex A: TC Hash Value (98), SHA-1 of the TDOL data;
        the terminal's default TDOL when the card has none (TVR b8 of byte 5)."""
        tdol = self.store.get(0x97)
        if tdol is None:
            tdol = self.aid_config.tdol  # type: ignore[attr-defined]
            if tdol:
                self.tvr.set("default_tdol_used")
                self._sync()
        tdol_data = tlv.build_dol_data(tdol or b"", self.store.values)
        self.store.put(0x98, hashlib.sha1(tdol_data).digest(), store_mod.TERMINAL)

    def _second_generate_ac(self, wanted: int) -> int:
        cid = self._generate_ac(wanted, 0x8D)
        if cid & CID_TYPE == apdu.ARQC:
            raise Terminate("second GENERATE AC answered ARQC")
        return cid & CID_TYPE

    # Completion -------------------------------------------------------

    def complete(self, host: "HostResponse | None") -> Outcome:
        """Book 3 §10.9–10.11 after the host answered (or could not be reached)."""
        if self.outcome.result != ONLINE_REQUEST:
            raise ValueError("no online request pending")
        try:
            return self._complete(host)
        except Terminate as exc:
            return self._finish(END_APPLICATION, str(exc))
        except CardError as exc:
            return self._finish(END_APPLICATION, "card: %s" % exc)

    def _complete(self, host: "HostResponse | None") -> Outcome:
        nodes: "list[tlv.TLV]" = []
        if host is None:
            wanted = risk.default_action(self.store, self.tvr, self.aid_config)
            arc = UNABLE_ONLINE_APPROVED if wanted == apdu.TC else UNABLE_ONLINE_DECLINED
            self.store.put(0x8A, arc, store_mod.TERMINAL)
        else:
            if len(host.arc) != 2:
                raise ValueError("ARC is 2 bytes")
            self.store.put(0x8A, host.arc, store_mod.ISSUER)
            if host.auth_data:
                self.store.put(0x91, host.auth_data, store_mod.ISSUER)
                if self.store.values[0x82][0] & 0x04:  # AIP: issuer authentication
                    self._issuer_authentication(host.auth_data)
            wanted = apdu.TC if host.arc in APPROVAL_CODES else apdu.AAC
            parsed = scripts.templates(host.scripts)
            if parsed is None:
                self.tvr.set("script_failed_before_final_ac")
                self.outcome.script_results += b"\x10\x00\x00\x00\x00"
                parsed = []
            nodes = parsed
            self.outcome.script_results += scripts.process(
                self.link, nodes, scripts.BEFORE, self.tvr, self.tsi
            )
        kind = self._second_generate_ac(wanted)
        if host is not None:
            self.outcome.script_results += scripts.process(
                self.link, nodes, scripts.AFTER, self.tvr, self.tsi
            )
        if self.outcome.script_results:
            self.store.put(0x9F5B, self.outcome.script_results, store_mod.TERMINAL)
        if kind == apdu.TC:
            reason = (
                "approved online" if host is not None else "unable to go online, approved offline"
            )
            return self._finish(APPROVED, reason)
        reason = "declined" if host is not None else "unable to go online, declined"
        return self._finish(DECLINED, reason)

    def _issuer_authentication(self, data: bytes) -> None:
        """Book 3 §10.9: EXTERNAL AUTHENTICATE; TVR b5b7 when it fails."""
        self.tsi.set("issuer_authentication_performed")
        try:
            command = apdu.external_authenticate(data)
        except EncodeError:
            self.tvr.set("issuer_authentication_failed")
            return
        reply = self.link.send(command)
        if reply.sw != 0x9000:
            self.tvr.set("issuer_authentication_failed")

    def _finish(self, result: str, reason: str) -> Outcome:
        self._sync()
        out = self.outcome
        out.result = result
        out.reason = reason
        out.tvr = self.tvr.value()
        out.tsi = self.tsi.value()
        out.cvm_results = self.cvm.results
        out.signature = self.cvm.signature
        out.online_pin = self.cvm.online_pin
        out.offline_pin = self.cvm.offline_pin
        out.cryptogram = self.cryptogram
        if self.candidate is not None:
            out.aid = self.candidate.adf_name
            out.label = self.candidate.display_name()
        self.trace.note("outcome %s: %s" % (result, reason))
        return out
