"""The fiscal journal: signed, append-only, power-loss safe (docs/fiscal.md).

Commit point: ``append`` builds the record, has the secure element sign it,
opens the open segment for append, writes one frame and closes the file.
littlefs makes the new file size visible in a single metadata commit inside
``close()``; the record is durable exactly when ``close()`` returns, and
``append`` returns only after it.  A power cut before that commit leaves the
segment as it was; recovery (``Journal.open``) still checks every frame and
drops a torn tail that was never acknowledged.

Nothing here formats the flash or deletes a record: a damaged or unknown
header raises ``HeaderDamaged`` (or, when the rest still verifies, opens the
journal locked, refusing sales, and records a tamper event).

Files: the journal receives a ``Files`` object (``board.fiscal_fs()``, or
``.sub(name)`` of one; boards/common/fs.py) and names its files relative to
it; it never opens a file itself.
"""

from firmware.fiscal import counters as fcounters
from firmware.fiscal import storage, zreport
from firmware.fiscal.errors import (
    Broken,
    ClockError,
    HeaderDamaged,
    JournalDamaged,
    Locked,
    MemoryFull,
    NotFormatted,
    Refused,
    SignerFailed,
    ZOverdue,
)
from protocols import fiscal_payload as fp
from protocols import fiscal_record as fr
from protocols import merkle
from protocols.errors import DecodeError

SEG_DIR = "j"
TAMPER_HEADER = 1
TAMPER_TORN_TAIL = 2
EV_POWER_ON = 1


def _seg_name(n):
    return "%08d" % n


class Journal:
    def __init__(
        self,
        fs,
        signer,
        device_id,
        state,
        header_ok,
        z_limit_s,
        warn_free,
        reserve_free,
        min_free,
    ):
        self.fs = fs
        self.signer = signer
        self.device_id = device_id
        self.z_limit_s = z_limit_s
        self.warn_free = warn_free
        self.reserve_free = reserve_free
        self.min_free = min_free
        self.header_ok = header_ok
        self.base = state  # snapshot at the last Z report
        self.broken = False
        self.dropped_tail = None
        self.header_reason = None
        self.free = 0
        self._since_stat = 0
        self._reset_period()

    # -- creating and opening -------------------------------------------------

    @staticmethod
    def format(fs, device_id, now):
        """Create an empty journal on ``fs`` (a ``Files``).  Refuses when
        anything is there already."""
        try:
            names = fs.listdir()
        except OSError:
            raise JournalDamaged("fiscal mount %s not readable" % fs.root)
        for n in names:
            if not n.endswith(".tmp"):
                raise JournalDamaged("refusing to format: %s exists" % fs.path(n))
        fs.mkdir(SEG_DIR)
        st = storage.State(device_id, 1, 0, now, 0, fr.ZERO_HASH, now, 0, fr.Counters())
        storage.write_new(fs, "state", storage.encode_state(st))
        # The header last: its presence says the format completed.
        storage.write_new(fs, "header", storage.encode_header(device_id, now))

    @classmethod
    def open(
        cls,
        fs,
        signer,
        now=None,
        z_limit_s=zreport.DEFAULT_Z_LIMIT_S,
        warn_free=64 * 1024,
        reserve_free=16 * 1024,
        min_free=8 * 1024,
    ):
        try:
            names = fs.listdir()
        except OSError:
            raise JournalDamaged("fiscal mount %s not readable" % fs.root)
        header_ok = True
        reason = None
        if "header" not in names:
            if "state" not in names and SEG_DIR not in names:
                raise NotFormatted("no fiscal journal on %s" % fs.root)
            header_ok = False
            reason = "header missing"
            hdev = None
        else:
            try:
                hdev, _created = storage.decode_header(storage.read_file(fs, "header"))
            except HeaderDamaged as e:
                header_ok = False
                reason = str(e)
                hdev = None
        if "state" not in names:
            raise (
                HeaderDamaged(reason or "state missing")
                if not header_ok
                else JournalDamaged("state missing")
            )
        state = storage.decode_state(storage.read_file(fs, "state"))
        if hdev is not None and hdev != state.device_id:
            raise HeaderDamaged("header device %s, state device %s" % (hdev, state.device_id))
        j = cls(
            fs,
            signer,
            state.device_id,
            state,
            header_ok,
            z_limit_s,
            warn_free,
            reserve_free,
            min_free,
        )
        j._check_segments()
        j._scan_open_segment()
        j._stat(force=True)
        if j.dropped_tail is not None:
            # littlefs commits appends atomically: a torn frame means the
            # flash misbehaved.  Keep the evidence.
            j._evidence(TAMPER_TORN_TAIL, "torn tail dropped: " + j.dropped_tail, now)
        if not header_ok:
            # Never formatted over: keep the evidence, refuse sales, say why.
            j.header_reason = reason
            j._evidence(TAMPER_HEADER, reason, now)
        return j

    def _evidence(self, code, text, now):
        """Best effort tamper record while opening (the signer may be down,
        the clock behind, the memory full: then the reason stays on the
        journal object only)."""
        if now is None or not self._free_ok(self.min_free):
            return
        try:
            self._append(fr.TAMPER, fp.encode_event(fp.Event(code, 0, text[:200])), now)
        except Refused:
            pass

    # -- recovery -------------------------------------------------------------

    def _seg_path(self, n):
        return SEG_DIR + "/" + _seg_name(n)

    def _check_segments(self):
        try:
            names = self.fs.listdir(SEG_DIR)
        except OSError:
            raise JournalDamaged("segment directory missing")
        have = []
        for n in names:
            if n.endswith(".tmp"):
                continue
            if len(n) != 8 or not n.isdigit():
                raise JournalDamaged("unknown file j/%s" % n)
            have.append(int(n))
        seg = self.base.segment
        for n in have:
            if n > seg:
                raise JournalDamaged("segment %d beyond the open segment %d" % (n, seg))
        for n in range(1, seg):
            if n not in have:
                raise JournalDamaged("closed segment %d missing" % n)

    def _reset_period(self):
        st = self.base
        self.seq = st.last_seq
        self.last_hash = st.last_hash
        self.last_time = st.last_time
        self.sig_counter = st.last_sig_counter
        self.counters = st.counters.copy()
        self.frontier = merkle.Frontier()
        self.last_type = None
        self.seg_bytes = 0

    def _scan_open_segment(self):
        path = self._seg_path(self.base.segment)
        if not self.fs.exists(path):
            return
        good_end = 0
        torn = None
        with self.fs.open(path, "rb") as f:
            rd = storage.FrameReader(f)
            while True:
                got = rd.next()
                if got is None:
                    break
                at, raw = got
                try:
                    rec = fr.decode(raw)
                except DecodeError as e:
                    raise JournalDamaged("segment %d offset %d: %s" % (self.base.segment, at, e))
                why = self._chain_problem(rec)
                if why is not None:
                    raise JournalDamaged("record %d: %s" % (rec.seq, why))
                self._advance(rec, raw)
                good_end = rd.pos
            if rd.bad is not None:
                torn = rd.bad
        if torn is not None and not storage.torn_tail(self.fs, path, good_end):
            raise JournalDamaged("segment %d offset %d: %s" % (self.base.segment, good_end, torn))
        self.seg_bytes = good_end
        if torn is not None:
            self._drop_tail(path, good_end)
            self.dropped_tail = "%s at offset %d" % (torn, good_end)
        if self.last_type == fr.Z_REPORT:
            self._roll()

    def _drop_tail(self, path, keep):
        # Copy the acknowledged prefix to a new file and rename it over the
        # segment (atomic); the torn frame was never acknowledged.
        storage.copy_prefix(self.fs, path, keep, JournalDamaged)

    def _chain_problem(self, rec):
        if rec.device_id != self.device_id:
            return "device %s, journal belongs to %s" % (rec.device_id, self.device_id)
        if rec.seq != self.seq + 1:
            return "sequence %d after %d" % (rec.seq, self.seq)
        if rec.prev_hash != self.last_hash:
            return "previous hash does not match"
        if rec.time < self.last_time:
            return "time goes back"
        if rec.signature and rec.sig_counter <= self.sig_counter:
            return "signature counter %d after %d" % (rec.sig_counter, self.sig_counter)
        return None

    def _advance(self, rec, raw):
        h = fr.sha256(raw)
        self.seq = rec.seq
        self.last_hash = h
        self.last_time = rec.time
        if rec.signature:
            self.sig_counter = rec.sig_counter
        self.counters = rec.counters
        self.last_type = rec.rtype
        if rec.rtype != fr.Z_REPORT:
            self.frontier.append(merkle.leaf_hash(h))
        self.seg_bytes += len(raw) + 6

    def _roll(self):
        """After a Z report: the next segment opens; state is replaced."""
        b = self.base
        st = storage.State(
            self.device_id,
            b.segment + 1,
            b.z_number + 1,
            self.last_time,
            self.seq,
            self.last_hash,
            self.last_time,
            self.sig_counter,
            self.counters.copy(),
        )
        storage.write_new(self.fs, "state", storage.encode_state(st))
        self.base = st
        self._reset_period()

    # -- free space -----------------------------------------------------------

    def _stat(self, force=False):
        if force or self._since_stat >= 8 or self.free < 2 * self.warn_free:
            self.free = self.fs.free_bytes()
            self._since_stat = 0
        return self.free

    def _free_ok(self, need):
        return self._stat() >= need

    def warning(self):
        """Text for the display when the fiscal memory is nearly full."""
        if self._stat() < self.warn_free:
            return "fiscal memory nearly full: %d bytes left" % self.free
        return None

    # -- appending ------------------------------------------------------------

    def _sign(self, digest, rtype, now):
        try:
            sig, counter = self.signer.sign(digest)
        except Exception as e:
            self._signer_failed(rtype, "signer error: %s" % e, now)
        if not sig or counter <= self.sig_counter:
            self._signer_failed(
                rtype, "signature counter %r after %d" % (counter, self.sig_counter), now
            )
        return sig, counter

    def _signer_failed(self, rtype, why, now):
        if self.last_type != fr.SIGNER_FAILURE and self._free_ok(self.min_free):
            ev = fp.encode_event(fp.Event(rtype, 0, why[:200]))
            self._write(self._build(fr.SIGNER_FAILURE, ev, now, self.counters, 0), b"", 0)
        raise SignerFailed("secure element failed, sales refused: " + why)

    def _build(self, rtype, payload, now, counters, amount):
        return fr.Record(
            rtype,
            self.device_id,
            self.seq + 1,
            now,
            self.last_hash,
            counters,
            payload,
            0,
            b"",
            None,
            fr.VERSION,
            amount,
        )

    def _write(self, rec, sig, counter):
        rec.signature = sig
        rec.sig_counter = counter
        raw = fr.encode(rec)
        path = self._seg_path(self.base.segment)
        self.broken = True
        storage.append(self.fs, path, storage.frame(raw))
        self.broken = False
        self._since_stat += 1
        self.free -= len(raw) + 6
        self._advance(rec, raw)
        return rec

    def _append(self, rtype, payload, now, receipt=None):
        if self.broken:
            raise Broken("a write failed: remount the fiscal memory")
        if now < self.last_time:
            raise ClockError("clock is behind the last record: %d < %d" % (now, self.last_time))
        new_counters, amount = fcounters.apply(self.counters, rtype, receipt)
        rec = self._build(rtype, payload, now, new_counters, amount)
        sig, counter = self._sign(rec.digest(), rtype, now)
        return self._write(rec, sig, counter)

    def _check_selling(self, now):
        if not self.header_ok:
            raise Locked("fiscal memory header damaged: sales refused")
        if zreport.overdue(now, self.base.last_z_time, self.z_limit_s):
            raise ZOverdue(
                "last Z report older than %d h: make a Z report" % (self.z_limit_s // 3600)
            )
        if not self._free_ok(self.reserve_free):
            raise MemoryFull("fiscal memory full (%d bytes left): sales refused" % self.free)

    def check_selling(self, now):
        """Raise the Refused error a sale would meet now (nothing written):
        a payment terminal asks before it reads the card."""
        self._check_selling(now)

    def _check_any(self):
        if not self._free_ok(self.min_free):
            raise MemoryFull("fiscal memory full (%d bytes left)" % self.free)

    def sale(self, lines, now, method=0):
        return self._receipt(fr.SALE, lines, now, method, 0)

    def refund(self, lines, now, ref_seq, method=0):
        return self._receipt(fr.REFUND, lines, now, method, ref_seq)

    def training(self, lines, now):
        return self._receipt(fr.TRAINING, lines, now, 0, 0)

    def _receipt(self, rtype, lines, now, method, ref_seq):
        self._check_selling(now)
        rc = fp.Receipt(lines, method, ref_seq)
        bad = rc.check()
        if bad is not None:
            raise ValueError(bad)
        return self._append(rtype, fp.encode_receipt(rc), now, rc)

    def event(self, rtype, now, code=0, text="", ref_seq=0):
        """void, power_on, config_change, tamper."""
        if rtype not in (fr.VOID, fr.POWER_ON, fr.CONFIG_CHANGE, fr.TAMPER):
            raise ValueError("not an event type: %d" % rtype)
        self._check_any()
        return self._append(rtype, fp.encode_event(fp.Event(code, ref_seq, text)), now)

    def report(self, now):
        """The open period's report (not yet a record)."""
        first = self.base.last_seq + 1
        return zreport.build(
            self.base.z_number + 1,
            self.base.last_z_time,
            first,
            first + self.frontier.size - 1,
            self.frontier,
            self.counters,
            self.base.counters,
        )

    def x_report(self, now):
        self._check_any()
        return self._append(fr.X_REPORT, fp.encode_report(self.report(now)), now)

    def z_report(self, now):
        self._check_any()
        rec = self._append(fr.Z_REPORT, fp.encode_report(self.report(now)), now)
        self._roll()
        return rec

    # -- reading --------------------------------------------------------------

    def status(self):
        return {
            "device_id": self.device_id,
            "seq": self.seq,
            "segment": self.base.segment,
            "z_number": self.base.z_number,
            "last_z_time": self.base.last_z_time,
            "period_records": self.frontier.size,
            "free": self._stat(),
            "locked": not self.header_ok,
        }

    def records_after(self, seq, hint=None):
        """A ``storage.Cursor`` on the records after ``seq``, in journal
        order, one frame in RAM at a time (``next()`` -> (seq, raw) or None;
        then ``segment``/``offset`` name the next frame: pass them as
        ``hint`` next time to skip the search). Close it when done."""
        return storage.records_after(self.fs, SEG_DIR, self.base.segment, seq, hint, self.seq)

    def export(self, out, now=None):
        """Write the export stream to ``out`` (a file open for writing)::

            "PTFX" | version u8 | header_len u16 | header | frames...
            | 00 00 | trailer (storage.encode_trailer), signed by the SE

        The signed trailer names the last record, so an export cut short at
        a record boundary is detected.  Without a working signer (or with
        ``now=None``) the trailer is left out and the verifier says so."""
        hdr = b""
        if self.header_ok:
            hdr = storage.read_file(self.fs, "header")
        out.write(storage.EXPORT_MAGIC + bytes([storage.FORMAT_VERSION]))
        out.write(len(hdr).to_bytes(2, "big") + hdr)
        for n in range(1, self.base.segment + 1):
            path = self._seg_path(n)
            if not self.fs.exists(path):
                continue
            storage.copy_to(self.fs, path, out)
        if now is None:
            return False
        body = storage.trailer_body(self.device_id, self.seq, self.last_hash, now)
        try:
            sig, counter = self.signer.sign(fr.sha256(body))
        except Exception:
            return False
        out.write(b"\x00\x00" + storage.encode_trailer(body, counter, sig))
        return True
