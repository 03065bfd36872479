"""A virtual EMV card: the ISO 7816-4 / EMV application state machine.

``Card.transmit(command_apdu) -> response_apdu`` answers every byte string
with data and a status word; it never raises.  Commands (EMV 4.4 Book 1
section 11, Book 3 section 6.5):

=====  ====  ================================================================
CLA    INS   command
=====  ====  ================================================================
00     A4    SELECT by name: PSE (contact), PPSE (contactless), the AID
80     A8    GET PROCESSING OPTIONS (PDOL data in template 83); ATC + 1
00     B2    READ RECORD (SFI in P2, record number in P1)
80     CA    GET DATA (9F36, 9F13, 9F17, 9F4F and the profile's extras)
00     88    INTERNAL AUTHENTICATE (DDA)
00     84    GET CHALLENGE
00     20    VERIFY, plaintext (P2 80) or enciphered (P2 88) offline PIN
80     AE    GENERATE AC, first and second, CDA when P1 bit 5 asks for it
00     82    EXTERNAL AUTHENTICATE (ARPC)
00     C0    GET RESPONSE (for responses longer than the short Le)
84     1E    APPLICATION BLOCK          issuer script commands, each with
84     18    APPLICATION UNBLOCK        an 8-byte MAC under the secure
84     24    PIN CHANGE / UNBLOCK       messaging session keys
04/84  DA    PUT DATA
84     16    CARD BLOCK
=====  ====  ================================================================

Errors: 6700 wrong length, 6A86 wrong P1-P2, 6D00 unknown INS, 6E00 unknown
CLA (or a known INS under another class), 6985 conditions of use not
satisfied (wrong order), 6A82 unknown application, 6A83 unknown record,
6A88 unknown data object, 6A80 malformed data, 6988 wrong script MAC,
63Cx wrong PIN, 6983 PIN blocked, 6283 on SELECT of a blocked application.
The card decides its cryptogram by the Card Risk Management rules of its
profile (``crm``, docs/cards.md).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

from host_sim.cards import cryptogram, oda
from host_sim.cards.cryptogram import AAC, ARQC, TC
from protocols import apdu, tlv
from protocols.errors import DecodeError

PSE = b"1PAY.SYS.DDF01"
PPSE = b"2PAY.SYS.DDF01"
PSE_SFI = 1

SW_OK = 0x9000
SW_BLOCKED_WARNING = 0x6283
SW_AUTH_FAILED = 0x6300
SW_WRONG_LENGTH = 0x6700
SW_PIN_BLOCKED = 0x6983
SW_CONDITIONS = 0x6985
SW_NO_CURRENT_EF = 0x6986
SW_SM_INCORRECT = 0x6988
SW_WRONG_DATA = 0x6A80
SW_FUNCTION_NOT_SUPPORTED = 0x6A81
SW_NOT_FOUND = 0x6A82
SW_RECORD_NOT_FOUND = 0x6A83
SW_WRONG_P1P2 = 0x6A86
SW_DATA_NOT_FOUND = 0x6A88
SW_INS = 0x6D00
SW_CLA = 0x6E00
SW_UNKNOWN = 0x6F00

APPROVAL_ARCS = (b"00", b"08", b"10", b"11")
OFFLINE_APPROVED_ARC = b"Y3"
OFFLINE_DECLINED_ARC = b"Z3"
NOT_REQUESTED = 0x80  # CVR: second GENERATE AC not requested

Random = Callable[[int], bytes]


class CardReply(Exception):
    """Raised inside a handler to answer with a status word (and no data)."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw


def split_dol(dol: bytes, data: bytes) -> dict[int, bytes]:
    """The values a DOL's data holds, by tag (data must be the DOL's length)."""
    store: dict[int, bytes] = {}
    pos = 0
    for tag, length in tlv.parse_dol(dol):
        store[tag] = data[pos : pos + length]
        pos += length
    return store


def dol_length(dol: bytes) -> int:
    return sum(length for _tag, length in tlv.parse_dol(dol))


def bcd_amount(value: bytes) -> int:
    digits = value.hex()
    return int(digits) if digits.isdigit() else 0


class Session:
    """What the card remembers between commands of one transaction."""

    def __init__(self) -> None:
        self.selected: str | None = None  # "pse", "ppse" or "app"
        self.gpo_done = False
        self.pdol_data = b""
        self.pdol_store: dict[int, bytes] = {}
        self.cdol1_data = b""
        self.store: dict[int, bytes] = {}
        self.first_ac: int | None = None
        self.second_ac: int | None = None
        self.arqc = b""
        self.challenge: bytes | None = None
        self.issuer_auth: bool | None = None  # None: not performed
        self.ext_auth_done = False
        self.arc = b""
        self.csu = b""
        self.scripts = 0
        self.script_failed = False
        self.offline_pin_performed = False
        self.offline_pin_failed = False
        self.offline_pin_enciphered = False
        self.offline_pin_ok = False
        self.unable_online = False
        self.previous_online_incomplete = False
        self.dda_performed = False
        self.cda_first = False
        self.cda_second = False
        self.complete = False


class Card:
    """One card with one EMV application, personalised from a profile."""

    def __init__(
        self,
        name: str,
        profile: dict[str, Any],
        records: dict[tuple[int, int], bytes],
        keys: cryptogram.IccKeys,
        icc_key: oda.RsaKey | None,
        rng: Random | None = None,
    ) -> None:
        from host_sim.cards import profile as profiles

        self.name = name
        self.profile = profile
        self.records = records
        self.keys = keys
        self.icc_key = icc_key
        self.rng: Random = rng or os.urandom
        self.interface = str(profile.get("interface", "contact"))
        self.kernel = profile.get("kernel")
        self.cvn = int(profile["cvn"])
        self.scheme = cryptogram.scheme(self.cvn)
        self.dki = int(profile.get("dki", 1))
        self.aid = bytes.fromhex(profile["aid"])
        self.fci_objects = profiles.build_objects(profile.get("fci", []))
        self.directory_extra = profiles.build_objects(profile.get("directory_entry", []))
        self.aip = bytes.fromhex(profile["aip"])
        self.afl = profiles.parse_afl(profile["afl"])
        self.gpo_format = int(profile.get("gpo_format", 1))
        self.gen_ac_format = int(profile.get("gen_ac_format", 1))
        self.atr = bytes.fromhex(profile["atr"])
        self.pin = str(profile.get("pin", ""))
        self.pin_try_limit = int(profile.get("pin_try_limit", 3))
        self.pin_tries = self.pin_try_limit
        self.blocked = bool(profile.get("application_blocked", False))
        self.card_blocked = False
        self.atc = int(profile.get("atc", 0))
        self.last_online_atc = int(profile.get("last_online_atc", 0))
        self.last_issuer_auth_failed = False
        self.last_online_not_completed = False
        self.crm: dict[str, Any] = dict(profile.get("crm", {}))
        self.contactless: dict[str, Any] = dict(profile.get("contactless", {}))
        self.extra_data = {
            int(tag, 16): bytes.fromhex(value) for tag, value in profile.get("get_data", {}).items()
        }
        self.put_data_tags = {int(tag, 16) for tag in profile.get("put_data_tags", [])}
        self.data = profiles.record_store(records)
        self.fci_store = tlv.to_dict(self.fci_objects)
        # Transaction log (Book 3 Annex D): 9F4D = SFI, number of records;
        # each record is the values the log format 9F4F names.
        log_entry = self.fci_store.get(0x9F4D, b"")
        self.log_sfi = log_entry[0] if len(log_entry) == 2 else 0
        self.log_size = log_entry[1] if len(log_entry) == 2 else 0
        self.log: list[bytes] = []
        # T=0 transport behaviour (the vpcd/pyscard path uses T=1, the
        # default); see _fit_le.
        self.t0 = str(profile.get("protocol", "T=1")).upper() == "T=0"
        identity = profile.get("type_a", {})
        # ISO/IEC 14443-3 random-ID UID (first byte 08), fixed per profile.
        default_uid = b"\x08" + hashlib.sha256(name.encode()).digest()[:3]
        self.uid = bytes.fromhex(identity["uid"]) if "uid" in identity else default_uid
        self.atqa = bytes.fromhex(identity.get("atqa", "0004"))
        self.sak = int(identity.get("sak", 0x20))
        self.ats = bytes.fromhex(identity.get("ats", "0578807002"))
        self.session = Session()
        self._pending = b""

    # Persistent state ---------------------------------------------------

    STATE_KEYS = (
        "atc",
        "last_online_atc",
        "pin_tries",
        "pin",
        "blocked",
        "card_blocked",
        "last_issuer_auth_failed",
        "last_online_not_completed",
    )

    def state(self) -> dict[str, Any]:
        """What a real card keeps in non-volatile memory (JSON-ready)."""
        out: dict[str, Any] = {key: getattr(self, key) for key in self.STATE_KEYS}
        out["data"] = {tlv.tag_hex(t): v.hex().upper() for t, v in sorted(self.extra_data.items())}
        out["log"] = [entry.hex().upper() for entry in self.log]
        return out

    def restore(self, state: dict[str, Any]) -> None:
        """Load counters saved by ``state()`` (unknown keys are ignored)."""
        for key in self.STATE_KEYS:
            if key in state:
                setattr(self, key, type(getattr(self, key))(state[key]))
        if "log" in state:
            self.log = [bytes.fromhex(entry) for entry in state["log"]][: self.log_size]
        for tag, value in state.get("data", {}).items():
            self.extra_data[int(tag, 16)] = bytes.fromhex(value)

    # Power and transport ------------------------------------------------

    def power_on(self) -> bytes:
        """Cold or warm reset: the transaction ends, counters stay."""
        self.session = Session()
        self._pending = b""
        return self.atr

    reset = power_on

    def power_off(self) -> None:
        self.session = Session()
        self._pending = b""

    def transmit(self, command: bytes) -> bytes:
        """Answer one command APDU; always a response with a status word."""
        try:
            data, sw = self._dispatch(bytes(command))
        except CardReply as reply:
            data, sw = b"", reply.sw
        except Exception:  # a defect must not take the card off the reader
            data, sw = b"", SW_UNKNOWN
        return data + sw.to_bytes(2, "big")

    def process_apdu(self, command: bytes) -> bytes:
        """The contactless field's name for ``transmit`` (host_sim.nfc)."""
        return self.transmit(command)

    def _dispatch(self, raw: bytes) -> tuple[bytes, int]:
        if len(raw) < 4:
            return b"", SW_WRONG_LENGTH
        cla, ins = raw[0], raw[1]
        if cla not in (0x00, 0x04, 0x80, 0x84):
            return b"", SW_CLA
        entry = self._commands().get(ins)
        if entry is None:
            return b"", SW_INS
        classes, handler = entry
        if cla not in classes:
            return b"", SW_CLA
        try:
            command = apdu.parse_command(raw)
        except DecodeError:
            return b"", SW_WRONG_LENGTH
        if self.card_blocked and ins != 0xC0:
            return b"", SW_FUNCTION_NOT_SUPPORTED
        if ins != 0xC0:
            self._pending = b""
        data, sw = handler(command)
        return self._fit_le(command, data, sw)

    def _fit_le(self, command: apdu.Command, data: bytes, sw: int) -> tuple[bytes, int]:
        if self.t0 and command.data and data:
            # T=0 carries no Le with command data (EMV Book 1 9.3.1): the
            # card says how much it has (61xx, or the 62xx/63xx warning) and
            # the reader fetches it with GET RESPONSE.
            self._pending = data
            if sw >> 8 == 0x90:
                return b"", 0x6100 | (min(len(data), 0x100) & 0xFF)
            return b"", sw
        if command.extended or len(data) <= apdu.SHORT_MAX_NE:
            if command.le is not None and len(data) > command.le and sw >> 8 == 0x90:
                return b"", 0x6C00 | (len(data) & 0xFF)
            return data, sw
        self._pending = data[apdu.SHORT_MAX_NE :]
        return data[: apdu.SHORT_MAX_NE], 0x6100 | (min(len(self._pending), 0x100) & 0xFF)

    def _commands(self) -> dict[int, tuple[tuple[int, ...], Callable[[apdu.Command], Any]]]:
        return {
            0xA4: ((0x00,), self._select),
            0xB2: ((0x00,), self._read_record),
            0xA8: ((0x80,), self._gpo),
            0xAE: ((0x80,), self._generate_ac),
            0xCA: ((0x80,), self._get_data),
            0x88: ((0x00,), self._internal_authenticate),
            0x84: ((0x00,), self._get_challenge),
            0x20: ((0x00,), self._verify),
            0x82: ((0x00,), self._external_authenticate),
            0xC0: ((0x00,), self._get_response),
            0x1E: ((0x84,), self._application_block),
            0x18: ((0x84,), self._application_unblock),
            0x24: ((0x84,), self._pin_change),
            0xDA: ((0x04, 0x84), self._put_data),
            0x16: ((0x84,), self._card_block),
        }

    # Selection ------------------------------------------------------------

    def _select(self, c: apdu.Command) -> tuple[bytes, int]:
        if c.p1 != 0x04 or c.p2 not in (0x00, 0x02):
            raise CardReply(SW_WRONG_P1P2)
        if not 1 <= len(c.data) <= 16:
            raise CardReply(SW_WRONG_LENGTH)
        self.session = Session()
        name = c.data
        if c.p2 == 0x02:  # next occurrence: one application only
            raise CardReply(SW_NOT_FOUND)
        if name == PSE and self.interface == "contact":
            self.session.selected = "pse"
            return self._pse_fci(), SW_OK
        if name == PPSE and self.interface == "contactless":
            self.session.selected = "ppse"
            return self._ppse_fci(), SW_OK
        if len(name) >= 5 and self.aid.startswith(name):
            self.session.selected = "app"
            fci = tlv.encode([tlv.TLV(0x6F, children=[tlv.TLV(0x84, self.aid), self._a5()])])
            return fci, SW_BLOCKED_WARNING if self.blocked else SW_OK
        raise CardReply(SW_NOT_FOUND)

    def _a5(self) -> tlv.TLV:
        return tlv.TLV(0xA5, children=list(self.fci_objects))

    def _directory_entry(self, contactless: bool) -> tlv.TLV:
        kids = [tlv.TLV(0x4F, self.aid)]
        for tag in (0x50, 0x87):
            if tag in self.fci_store:
                kids.append(tlv.TLV(tag, self.fci_store[tag]))
        if contactless:
            kids.extend(self.directory_extra)
        return tlv.TLV(0x61, children=kids)

    def _pse_fci(self) -> bytes:
        a5 = [tlv.TLV(0x88, bytes((PSE_SFI,)))]
        if 0x5F2D in self.fci_store:
            a5.append(tlv.TLV(0x5F2D, self.fci_store[0x5F2D]))
        return tlv.encode(
            [tlv.TLV(0x6F, children=[tlv.TLV(0x84, PSE), tlv.TLV(0xA5, children=a5)])]
        )

    def _ppse_fci(self) -> bytes:
        bf0c = tlv.TLV(0xBF0C, children=[self._directory_entry(True)])
        a5 = tlv.TLV(0xA5, children=[bf0c])
        return tlv.encode([tlv.TLV(0x6F, children=[tlv.TLV(0x84, PPSE), a5])])

    # Records ----------------------------------------------------------------

    def _read_record(self, c: apdu.Command) -> tuple[bytes, int]:
        if c.data:
            raise CardReply(SW_WRONG_LENGTH)
        sfi = c.p2 >> 3
        if c.p2 & 0x07 != 0x04 or c.p1 == 0 or sfi == 0:
            raise CardReply(SW_WRONG_P1P2)
        selected = self.session.selected
        if selected is None or selected == "ppse":
            raise CardReply(SW_NO_CURRENT_EF)
        if selected == "pse":
            if sfi != PSE_SFI:
                raise CardReply(SW_NOT_FOUND)
            if c.p1 != 1:
                raise CardReply(SW_RECORD_NOT_FOUND)
            entry = self._directory_entry(False)
            return tlv.encode([tlv.TLV(0x70, children=[entry])]), SW_OK
        if self.log_sfi and sfi == self.log_sfi:
            if c.p1 > len(self.log):
                raise CardReply(SW_RECORD_NOT_FOUND)
            return self.log[c.p1 - 1], SW_OK
        if not any(sfi == key[0] for key in self.records):
            raise CardReply(SW_NOT_FOUND)
        record = self.records.get((sfi, c.p1))
        if record is None:
            raise CardReply(SW_RECORD_NOT_FOUND)
        return record, SW_OK

    # GET PROCESSING OPTIONS -------------------------------------------------

    def _gpo(self, c: apdu.Command) -> tuple[bytes, int]:
        if c.p1 != 0 or c.p2 != 0:
            raise CardReply(SW_WRONG_P1P2)
        if not c.data:
            raise CardReply(SW_WRONG_LENGTH)
        s = self.session
        if s.selected != "app" or s.gpo_done or self.blocked:
            raise CardReply(SW_CONDITIONS)
        try:
            objects = tlv.decode(c.data)
        except DecodeError:
            raise CardReply(SW_WRONG_DATA) from None
        if len(objects) != 1 or objects[0].tag != 0x83:
            raise CardReply(SW_WRONG_DATA)
        pdol = self.fci_store.get(0x9F38, b"")
        pdol_data = objects[0].value
        if len(pdol_data) != dol_length(pdol):
            raise CardReply(SW_WRONG_LENGTH)
        s.pdol_data = pdol_data
        s.pdol_store = split_dol(pdol, pdol_data)
        s.previous_online_incomplete = self.last_online_not_completed
        self.atc = (self.atc + 1) & 0xFFFF
        if self.atc == 0:  # ATC exhausted: the application is dead
            self.blocked = True
            raise CardReply(SW_CONDITIONS)
        s.gpo_done = True
        if self.kernel == "visa":
            from host_sim.cards import contactless

            return contactless.qvsdc_gpo(self), SW_OK
        afl = self.afl_bytes()
        if self.gpo_format == 2:
            body = [tlv.TLV(0x82, self.aip), tlv.TLV(0x94, afl)]
            return tlv.encode([tlv.TLV(0x77, children=body)]), SW_OK
        return tlv.encode([tlv.TLV(0x80, self.aip + afl)]), SW_OK

    def afl_bytes(self) -> bytes:
        from host_sim.cards import profile as profiles

        return profiles.afl_bytes(self.afl)

    # GET DATA ---------------------------------------------------------------

    def _get_data(self, c: apdu.Command) -> tuple[bytes, int]:
        if c.data:
            raise CardReply(SW_WRONG_LENGTH)
        tag = (c.p1 << 8) | c.p2 if c.p1 else c.p2
        value = self.data_object(tag)
        if value is None:
            raise CardReply(SW_DATA_NOT_FOUND)
        try:
            return tlv.encode([tlv.TLV(tag, value)]), SW_OK
        except Exception:
            raise CardReply(SW_DATA_NOT_FOUND) from None

    def data_object(self, tag: int) -> bytes | None:
        if tag == 0x9F36:
            return self.atc.to_bytes(2, "big")
        if tag == 0x9F13:
            return self.last_online_atc.to_bytes(2, "big")
        if tag == 0x9F17:
            return bytes((self.pin_tries,))
        return self.extra_data.get(tag)

    # Authentication -----------------------------------------------------------

    def _get_challenge(self, c: apdu.Command) -> tuple[bytes, int]:
        if c.p1 or c.p2:
            raise CardReply(SW_WRONG_P1P2)
        if c.data:
            raise CardReply(SW_WRONG_LENGTH)
        self.session.challenge = self.rng(8)
        return self.session.challenge, SW_OK

    def _internal_authenticate(self, c: apdu.Command) -> tuple[bytes, int]:
        if c.p1 or c.p2:
            raise CardReply(SW_WRONG_P1P2)
        if not c.data:
            raise CardReply(SW_WRONG_LENGTH)
        if self.icc_key is None or not self.aip[0] & 0x20:
            raise CardReply(SW_INS)
        if not self.session.gpo_done:
            raise CardReply(SW_CONDITIONS)
        idn = self.rng(8)
        sdad = oda.signed_dynamic_data(self.icc_key, bytes((len(idn),)) + idn, c.data)
        self.session.dda_performed = True
        return tlv.encode([tlv.TLV(0x80, sdad)]), SW_OK

    def _verify(self, c: apdu.Command) -> tuple[bytes, int]:
        if c.p1 != 0 or c.p2 not in (apdu.PLAINTEXT_PIN, apdu.ENCIPHERED_PIN):
            raise CardReply(SW_WRONG_P1P2)
        s = self.session
        if s.selected != "app" or not self.pin:
            raise CardReply(SW_CONDITIONS)
        if c.p2 == apdu.PLAINTEXT_PIN:
            if len(c.data) != 8:
                raise CardReply(SW_WRONG_LENGTH)
            if self.pin_tries == 0:
                raise CardReply(SW_PIN_BLOCKED)
            pin = cryptogram.offline_pin(c.data)
            if pin is None:
                raise CardReply(SW_WRONG_DATA)
        else:
            if self.icc_key is None:
                raise CardReply(SW_WRONG_P1P2)
            if len(c.data) != self.icc_key.size:
                raise CardReply(SW_WRONG_LENGTH)
            if self.pin_tries == 0:
                raise CardReply(SW_PIN_BLOCKED)
            challenge, s.challenge = s.challenge, None
            if challenge is None:
                raise CardReply(SW_CONDITIONS)
            try:
                plain = self.icc_key.decrypt_raw(c.data)
            except oda.OdaError:
                raise CardReply(SW_WRONG_DATA) from None
            ok = plain[0] == 0x7F and plain[9:17] == challenge
            pin = cryptogram.offline_pin(plain[1:9]) if ok else None
            s.offline_pin_enciphered = True
        s.offline_pin_performed = True
        if pin is not None and pin == self.pin:
            self.pin_tries = self.pin_try_limit
            s.offline_pin_failed = False
            s.offline_pin_ok = True
            return b"", SW_OK
        self.pin_tries -= 1
        s.offline_pin_failed = True
        s.offline_pin_ok = False
        return b"", 0x63C0 | self.pin_tries

    def _external_authenticate(self, c: apdu.Command) -> tuple[bytes, int]:
        if c.p1 or c.p2:
            raise CardReply(SW_WRONG_P1P2)
        if not 8 <= len(c.data) <= 16:
            raise CardReply(SW_WRONG_LENGTH)
        s = self.session
        if s.first_ac != ARQC or s.ext_auth_done or s.second_ac is not None:
            raise CardReply(SW_CONDITIONS)
        s.ext_auth_done = True
        ok = self._issuer_authenticate(c.data)
        return b"", SW_OK if ok else SW_AUTH_FAILED

    def _issuer_authenticate(self, auth_data: bytes) -> bool:
        s = self.session
        ok, arc, csu = cryptogram.check_arpc(
            self.keys, self.cvn, self.atc.to_bytes(2, "big"), s.arqc, auth_data
        )
        s.issuer_auth = ok
        if ok:
            s.arc, s.csu = arc, csu
            if csu:
                self._apply_csu(csu)
        return ok

    def _apply_csu(self, csu: bytes) -> None:
        """Card status update (method 2): block, PIN try counter update."""
        if csu[1] & 0x20:
            self.blocked = True
        if csu[1] & 0x10:
            self.pin_tries = min(csu[0] & 0x0F, self.pin_try_limit)

    # GENERATE AC ------------------------------------------------------------

    def _generate_ac(self, c: apdu.Command) -> tuple[bytes, int]:
        if c.p2 != 0 or c.p1 & 0x2F or c.p1 & 0xC0 == 0xC0:
            raise CardReply(SW_WRONG_P1P2)
        s = self.session
        if not s.gpo_done or s.complete or self.kernel == "visa":
            raise CardReply(SW_CONDITIONS)
        requested = c.p1 & 0xC0
        cda = bool(c.p1 & 0x10)
        if s.first_ac is None:
            return self._first_ac(c.data, requested, cda), SW_OK
        if s.first_ac != ARQC or s.second_ac is not None:
            raise CardReply(SW_CONDITIONS)
        if requested == ARQC:
            raise CardReply(SW_WRONG_P1P2)
        return self._second_ac(c.data, requested, cda), SW_OK

    def _first_ac(self, data: bytes, requested: int, cda: bool) -> bytes:
        s = self.session
        cdol1 = self.data.get(0x8C, b"")
        if len(data) != dol_length(cdol1):
            raise CardReply(SW_WRONG_LENGTH)
        s.cdol1_data = data
        s.store = dict(s.pdol_store)
        s.store.update(split_dol(cdol1, data))
        decision = self.risk_decision(requested, s.store)
        s.first_ac = decision
        reply = self._cryptogram_response(decision, cda, s.pdol_data + data)
        if decision == ARQC:
            self.last_online_not_completed = True
        else:
            self.log_transaction(decision)
            s.complete = True
        return reply

    def risk_decision(self, requested: int, store: dict[int, bytes]) -> int:
        """Card Risk Management for the first GENERATE AC (docs/cards.md)."""
        crm = self.crm
        if requested == AAC or self.blocked:
            return AAC
        tvr = store.get(0x95, bytes(5)).ljust(5, b"\x00")
        if _masked(tvr, crm.get("decline_tvr_mask")):
            return AAC
        if self.pin_tries == 0 and crm.get("decline_if_pin_blocked", False):
            return AAC
        online = (
            bool(crm.get("always_online", False))
            or _masked(tvr, crm.get("online_tvr_mask"))
            or bcd_amount(store.get(0x9F02, b"")) > int(crm.get("offline_limit", 0))
            or self.consecutive_offline() >= int(crm.get("consecutive_offline_limit", 0))
            or (self.last_issuer_auth_failed and crm.get("online_if_issuer_auth_failed", True))
            or self.last_online_not_completed
        )
        if requested == TC and not online:
            return TC
        return ARQC

    def consecutive_offline(self) -> int:
        return (self.atc - self.last_online_atc - 1) & 0xFFFF

    def _second_ac(self, data: bytes, requested: int, cda: bool) -> bytes:
        s = self.session
        cdol2 = self.data.get(0x8D, b"")
        if len(data) != dol_length(cdol2):
            raise CardReply(SW_WRONG_LENGTH)
        cdol2_store = split_dol(cdol2, data)
        s.store.update(cdol2_store)
        auth_data = cdol2_store.get(0x91, b"")
        if auth_data.strip(b"\x00") and not s.ext_auth_done:
            self._issuer_authenticate(auth_data)
        arc = cdol2_store.get(0x8A, s.arc)
        decision = AAC
        unable_online = arc in (OFFLINE_APPROVED_ARC, OFFLINE_DECLINED_ARC)
        if unable_online:
            s.unable_online = True
            if (
                requested == TC
                and arc == OFFLINE_APPROVED_ARC
                and not self.crm.get("always_online", False)
            ):
                decision = TC
        else:
            approved = arc in APPROVAL_ARCS
            if s.csu:
                approved = bool(s.csu[1] & 0x80)
            if s.issuer_auth is False and self.crm.get("decline_if_issuer_auth_fails", True):
                approved = False
            if s.issuer_auth is None and self.crm.get("issuer_auth_required", False):
                approved = False
            if requested == TC and approved and not self.blocked:
                decision = TC
            self.last_issuer_auth_failed = s.issuer_auth is False
            if s.issuer_auth:
                self.last_online_atc = self.atc
        self.last_online_not_completed = False
        s.second_ac = decision
        s.complete = True
        self.log_transaction(decision)
        return self._cryptogram_response(
            decision, cda, s.pdol_data + s.cdol1_data + data, second=True
        )

    def log_transaction(self, cid: int) -> None:
        """Put the finished transaction first in the log (oldest drop out)."""
        log_format = self.extra_data.get(0x9F4F)
        if not self.log_size or not log_format:
            return
        values = dict(self.session.store)
        values[0x9F27] = bytes((cid,))
        values[0x9F36] = self.atc.to_bytes(2, "big")
        try:
            entry = tlv.build_dol_data(log_format, values)
        except DecodeError:
            return
        self.log = [entry, *self.log][: self.log_size]

    def cvr(self) -> bytes:
        """Card verification results for the IAD (layout per scheme)."""
        s = self.session
        first = {AAC: 0x00, TC: 0x10, ARQC: 0x20}.get(s.first_ac or 0, 0)
        second = NOT_REQUESTED if s.second_ac is None else {AAC: 0x00, TC: 0x40}[s.second_ac]
        b1 = second | first
        scripts = min(s.scripts, 15) << 4
        if self.scheme == "visa":
            b1 |= 0x08 if s.issuer_auth is False else 0
            b1 |= 0x04 if s.offline_pin_performed else 0
            b1 |= 0x02 if s.offline_pin_failed else 0
            b1 |= 0x01 if s.unable_online else 0
            b2 = 0x80 if s.previous_online_incomplete else 0
            b2 |= 0x40 if self.pin_tries == 0 else 0
            b2 |= 0x08 if self.last_issuer_auth_failed else 0
            online_unauthenticated = s.second_ac is not None and s.issuer_auth is None
            b2 |= 0x04 if s.first_ac == ARQC and online_unauthenticated else 0
            b3 = scripts | (0x08 if s.script_failed else 0) | (0x02 if s.dda_performed else 0)
            return bytes((b1, b2, b3))
        b1 |= 0x02 if s.offline_pin_performed else 0
        b2 = 0x80 if s.offline_pin_enciphered else 0
        b2 |= 0x40 if s.offline_pin_ok else 0
        b2 |= 0x20 if s.dda_performed else 0
        b2 |= 0x10 if s.cda_first else 0
        b2 |= 0x08 if s.cda_second else 0
        b2 |= 0x04 if s.issuer_auth is not None else 0
        b3 = 0x08 if self.pin_tries == 0 else 0
        b4 = scripts | (0x08 if s.issuer_auth is False else 0) | (0x04 if s.script_failed else 0)
        return bytes((b1, b2, b3, b4, 0, 0))

    def issuer_application_data(self, idn: bytes = b"") -> bytes:
        return cryptogram.issuer_application_data(self.cvn, self.dki, self.cvr(), idn)

    def compute_ac(self, store: dict[int, bytes], iad: bytes) -> bytes:
        return cryptogram.application_cryptogram(
            self.keys, self.cvn, store, self.aip, self.atc.to_bytes(2, "big"), iad
        )

    def _cryptogram_response(
        self, decision: int, cda: bool, hashed: bytes, second: bool = False
    ) -> bytes:
        s = self.session
        signing = cda and decision != AAC and self.icc_key is not None and bool(self.aip[0] & 0x01)
        if signing:
            if second:
                s.cda_second = True
            else:
                s.cda_first = True
        idn = self.rng(8)
        iad = self.issuer_application_data(idn)
        ac = self.compute_ac(s.store, iad)
        if decision == ARQC:
            s.arqc = ac
        cid = bytes((decision,))
        atc = self.atc.to_bytes(2, "big")
        if signing:
            assert self.icc_key is not None
            shown = [tlv.TLV(0x9F27, cid), tlv.TLV(0x9F36, atc), tlv.TLV(0x9F10, iad)]
            tdhc = hashlib.sha1(hashed + tlv.encode(shown)).digest()
            sdad = oda.signed_dynamic_data(
                self.icc_key,
                oda.cda_dynamic_data(idn, cid, ac, tdhc),
                s.store.get(0x9F37, bytes(4)),
            )
            body = [shown[0], shown[1], tlv.TLV(0x9F4B, sdad), shown[2]]
            return tlv.encode([tlv.TLV(0x77, children=body)])
        if self.gen_ac_format == 2:
            body = [
                tlv.TLV(0x9F27, cid),
                tlv.TLV(0x9F36, atc),
                tlv.TLV(0x9F26, ac),
                tlv.TLV(0x9F10, iad),
            ]
            return tlv.encode([tlv.TLV(0x77, children=body)])
        return tlv.encode([tlv.TLV(0x80, cid + atc + ac + iad)])

    # GET RESPONSE -------------------------------------------------------------

    def _get_response(self, c: apdu.Command) -> tuple[bytes, int]:
        if c.p1 or c.p2:
            raise CardReply(SW_WRONG_P1P2)
        if not self._pending:
            raise CardReply(SW_CONDITIONS)
        want = c.le or apdu.SHORT_MAX_NE
        chunk, self._pending = self._pending[:want], self._pending[want:]
        if self._pending:
            return chunk, 0x6100 | (min(len(self._pending), 0x100) & 0xFF)
        return chunk, SW_OK

    # Issuer scripts -------------------------------------------------------------

    def _script_check(self, c: apdu.Command) -> None:
        """Secure messaging: a MAC over the command under the session keys."""
        s = self.session
        if len(c.data) < 8:
            raise CardReply(SW_WRONG_LENGTH)
        if s.first_ac != ARQC or not s.arqc:
            raise CardReply(SW_CONDITIONS)
        header = bytes((c.cla, c.ins, c.p1, c.p2, len(c.data)))
        index = s.scripts
        s.scripts += 1
        ok = cryptogram.check_script_mac(
            self.keys, self.cvn, self.atc.to_bytes(2, "big"), s.arqc, index, header, c.data
        )
        if not ok:
            s.script_failed = True
            raise CardReply(SW_SM_INCORRECT)

    def _application_block(self, c: apdu.Command) -> tuple[bytes, int]:
        if c.p1 or c.p2:
            raise CardReply(SW_WRONG_P1P2)
        self._script_check(c)
        self.blocked = True
        return b"", SW_OK

    def _application_unblock(self, c: apdu.Command) -> tuple[bytes, int]:
        if c.p1 or c.p2:
            raise CardReply(SW_WRONG_P1P2)
        self._script_check(c)
        self.blocked = False
        return b"", SW_OK

    def _card_block(self, c: apdu.Command) -> tuple[bytes, int]:
        if c.p1 or c.p2:
            raise CardReply(SW_WRONG_P1P2)
        self._script_check(c)
        self.card_blocked = True
        return b"", SW_OK

    def _pin_change(self, c: apdu.Command) -> tuple[bytes, int]:
        if c.p1 != 0 or c.p2 not in (0x00, 0x01, 0x02):
            raise CardReply(SW_WRONG_P1P2)
        if c.p2 == 0 and len(c.data) != 8:
            raise CardReply(SW_WRONG_LENGTH)
        if c.p2 and (len(c.data) < 16 or len(c.data) % 8):
            raise CardReply(SW_WRONG_LENGTH)
        index = self.session.scripts
        self._script_check(c)
        if c.p2:
            new_pin = cryptogram.decipher_pin(
                self.keys,
                self.cvn,
                self.atc.to_bytes(2, "big"),
                self.session.arqc,
                index,
                c.data[:-8],
                self.pin,
            )
            if new_pin is None:
                self.session.script_failed = True
                raise CardReply(SW_WRONG_DATA)
            self.pin = new_pin
        self.pin_tries = self.pin_try_limit
        return b"", SW_OK

    def _put_data(self, c: apdu.Command) -> tuple[bytes, int]:
        tag = (c.p1 << 8) | c.p2 if c.p1 else c.p2
        if tag not in self.put_data_tags:
            raise CardReply(SW_DATA_NOT_FOUND)
        if c.cla != 0x84:
            raise CardReply(0x6982)  # security status: PUT DATA needs secure messaging
        self._script_check(c)
        value = c.data[:-8]
        old = self.extra_data.get(tag)
        if old is not None and len(old) != len(value):
            self.session.script_failed = True
            raise CardReply(SW_WRONG_DATA)
        self.extra_data[tag] = value
        return b"", SW_OK


def _masked(tvr: bytes, mask: Any) -> bool:
    if not mask:
        return False
    bits = bytes.fromhex(str(mask))
    return any(a & b for a, b in zip(tvr, bits, strict=False))
