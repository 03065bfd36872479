"""Files of the fiscal journal on its littlefs mount (docs/fiscal.md, "Files").

Names are relative to the ``Files`` object the board gave
(``board.fiscal_fs()``, boards/common/fs.py; the journal's root):

    <root>/header        written once by format(): who the journal belongs to
    <root>/state         snapshot at the last Z report, replaced atomically
                         (write state.tmp, close, rename: littlefs renames
                         atomically)
    <root>/j/00000001    segment 1: the records of Z period 1, as frames
    <root>/j/00000002    ...

Frame: ``len u16 | record | check 4`` (check = first 4 bytes of SHA-256 of
the record), so a torn or damaged tail is told from a good record before
the record is even decoded.  Every file is closed explicitly before the
call that wrote it returns.  This module and journal.py reach files only
through that object: no ``open``, no ``os`` here.
"""

import hashlib

from firmware.fiscal.errors import HeaderDamaged, JournalDamaged
from protocols import fiscal_record as fr
from protocols.errors import DecodeError
from protocols.fiscal_reader import Reader, get_text, put_text, put_uint

HEADER_MAGIC = b"PTFJ"
STATE_MAGIC = b"PTFS"
EXPORT_MAGIC = b"PTFX"
FORMAT_VERSION = 1
MAX_FRAME = 0x10000 - 1


def sha(data):
    return hashlib.sha256(data).digest()


def frame(record_bytes):
    return put_uint(len(record_bytes), 2, "frame") + record_bytes + sha(record_bytes)[:4]


def copy_prefix(fs, name, keep, err):
    """Replace ``name`` by its first ``keep`` bytes, through ``name.tmp``
    and an atomic rename."""
    with fs.open(name, "rb") as src, fs.open(name + ".tmp", "wb") as dst:
        left = keep
        while left:
            chunk = src.read(min(512, left))
            if not chunk:
                raise err("file shrank while copying")
            dst.write(chunk)
            left -= len(chunk)
    fs.rename(name + ".tmp", name)


def copy_to(fs, name, out):
    with fs.open(name, "rb") as f:
        while True:
            chunk = f.read(512)
            if not chunk:
                break
            out.write(chunk)


def read_file(fs, name):
    with fs.open(name, "rb") as f:
        return f.read()


def write_new(fs, name, data):
    """Write ``data`` to ``name`` through ``name.tmp`` and an atomic rename."""
    tmp = name + ".tmp"
    with fs.open(tmp, "wb") as f:
        f.write(data)
    fs.rename(tmp, name)


def append(fs, name, data):
    """Append and close: returns once littlefs committed the new file size."""
    with fs.open(name, "ab") as f:
        f.write(data)


def _sealed(body):
    return body + sha(body)


def _unseal(data, what, err):
    if len(data) < 32 or sha(data[:-32]) != data[-32:]:
        raise err(what + " checksum does not match")
    return data[:-32]


def encode_header(device_id, created):
    return _sealed(
        HEADER_MAGIC
        + bytes([FORMAT_VERSION])
        + put_text(device_id, 32, "device_id")
        + put_uint(created, 4, "created")
    )


def decode_header(data):
    """(device_id, created); HeaderDamaged on anything else."""
    body = _unseal(data, "header", HeaderDamaged)
    try:
        r = Reader(body)
        if r.take(4, "magic") != HEADER_MAGIC:
            raise HeaderDamaged("unknown header magic")
        v = r.uint(1, "version")
        if v != FORMAT_VERSION:
            raise HeaderDamaged("unknown journal format version %d" % v)
        dev = get_text(r, "device_id")
        created = r.uint(4, "created")
        r.done("header")
    except DecodeError as e:
        raise HeaderDamaged("header: " + str(e))
    return dev, created


class State:
    """The journal at the end of the last closed segment."""

    def __init__(
        self,
        device_id,
        segment,
        z_number,
        last_z_time,
        last_seq,
        last_hash,
        last_time,
        last_sig_counter,
        counters,
    ):
        self.device_id = device_id
        self.segment = segment
        self.z_number = z_number
        self.last_z_time = last_z_time
        self.last_seq = last_seq
        self.last_hash = last_hash
        self.last_time = last_time
        self.last_sig_counter = last_sig_counter
        self.counters = counters


def encode_state(st):
    parts = [
        STATE_MAGIC,
        bytes([FORMAT_VERSION]),
        put_text(st.device_id, 32, "device_id"),
        put_uint(st.segment, 4, "segment"),
        put_uint(st.z_number, 4, "z_number"),
        put_uint(st.last_z_time, 4, "last_z_time"),
        put_uint(st.last_seq, 4, "last_seq"),
        st.last_hash,
        put_uint(st.last_time, 4, "last_time"),
        put_uint(st.last_sig_counter, 4, "last_sig_counter"),
        bytes([len(st.counters.rates)]),
    ]
    for r, s, f in st.counters.rates:
        parts.append(put_uint(r, 2, "rate") + put_uint(s, 8, "sales") + put_uint(f, 8, "refunds"))
    return _sealed(b"".join(parts))


def decode_state(data):
    body = _unseal(data, "state", JournalDamaged)
    try:
        r = Reader(body)
        if r.take(4, "magic") != STATE_MAGIC:
            raise JournalDamaged("unknown state magic")
        v = r.uint(1, "version")
        if v != FORMAT_VERSION:
            raise JournalDamaged("unknown state version %d" % v)
        dev = get_text(r, "device_id")
        seg = r.uint(4, "segment")
        z = r.uint(4, "z_number")
        zt = r.uint(4, "last_z_time")
        seq = r.uint(4, "last_seq")
        h = r.take(32, "last_hash")
        t = r.uint(4, "last_time")
        sc = r.uint(4, "last_sig_counter")
        n = r.uint(1, "rates")
        rates = []
        for _i in range(n):
            rates.append((r.uint(2, "rate"), r.uint(8, "sales"), r.uint(8, "refunds")))
        r.done("state")
    except DecodeError as e:
        raise JournalDamaged("state: " + str(e))
    return State(dev, seg, z, zt, seq, h, t, sc, fr.Counters(rates))


class FrameReader:
    """Frames of a segment file, read in pieces (a day's segment may be
    larger than the heap).  ``next()`` returns (offset, record bytes) or
    None at a clean end; ``bad`` names why a tail could not be read."""

    def __init__(self, f, limit=None):
        self.f = f
        self.pos = 0
        self.bad = None
        self.bad_at = None
        self.limit = limit  # the largest record read (None: any frame)

    def next(self):
        head = self.f.read(2)
        if not head:
            return None
        at = self.pos
        self.bad_at = at
        if len(head) < 2:
            self.bad = "frame length cut short"
            return None
        n = int.from_bytes(head, "big")
        if n == 0:
            self.bad = "empty frame"
            return None
        if self.limit is not None and n > self.limit:
            self.bad = "frame of %d bytes, longer than a record" % n
            return None
        body = self.f.read(n + 4)
        if len(body) < n + 4:
            self.bad = "frame cut short (%d of %d bytes)" % (len(body), n + 4)
            return None
        rec = body[:n]
        if sha(rec)[:4] != body[n:]:
            self.bad = "frame check does not match"
            return None
        self.pos = at + 2 + n + 4
        return at, rec

    def rest_is_empty(self):
        return not self.f.read(1)


MAX_RECORD = 6000  # above the largest record (4 597 bytes: 32-byte ID, 16 rates, 4 KiB payload)
MAX_TORN = 2 + MAX_RECORD + 4


def holds_frame(data):
    """True when a complete, checked frame starts anywhere in ``data``."""
    n = len(data)
    for i in range(n - 6):
        ln = (data[i] << 8) | data[i + 1]
        if ln and i + 2 + ln + 4 <= n:
            rec = data[i + 2 : i + 2 + ln]
            if sha(rec)[:4] == data[i + 2 + ln : i + 6 + ln]:
                return True
    return False


def torn_tail(fs, name, at):
    """Is everything from ``at`` on one frame cut short (a write that never
    completed), rather than damage hiding acknowledged records?"""
    with fs.open(name, "rb") as f:
        f.seek(at)
        rest = f.read(MAX_TORN + 1)
    return len(rest) <= MAX_TORN and not holds_frame(rest[1:])


TRAILER_MAGIC = b"PTFE"


def trailer_body(device_id, last_seq, last_hash, now):
    """What the export trailer's signature covers (its SHA-256)."""
    return (
        TRAILER_MAGIC
        + put_text(device_id, 32, "device_id")
        + put_uint(last_seq, 4, "last_seq")
        + last_hash
        + put_uint(now, 4, "time")
    )


def encode_trailer(body, counter, sig):
    # The secure element binds its counter into the signature
    # (docs/secure-element.md), so the counter is covered too.
    return body + put_uint(counter, 4, "sig_counter") + bytes([len(sig)]) + sig


# -- reading records back (the tax uploader) ------------------------------------


def record_seq(raw):
    """The sequence number of a record's encoding, read in place (a frame
    whose check matched holds a record the journal wrote)."""
    if len(raw) < 5:
        raise DecodeError("record cut short")
    d = raw[4]
    if len(raw) < 9 + d:
        raise DecodeError("record cut short")
    return int.from_bytes(raw[5 + d : 9 + d], "big")


def record_prev_hash(raw):
    d = raw[4] if len(raw) > 4 else 0
    if len(raw) < 45 + d:
        raise DecodeError("record cut short")
    return raw[13 + d : 45 + d]


class Cursor:
    """The journal's records from a position on, one frame in RAM at a time
    (a day's segment may be larger than the heap).

    ``next()`` returns ``(seq, raw)`` or None at the journal's end; after
    it, ``segment`` and ``offset`` name the next frame (kept, so that a
    later cursor starts there: ``at(...)`` with that ``hint``). A frame
    that does not check raises ``JournalDamaged``. ``close()`` closes the
    open segment file; call it when done (``with`` works too)."""

    def __init__(self, fs, seg_dir, last_segment):
        self.fs = fs
        self.seg_dir = seg_dir
        self.last = last_segment
        self.segment = 1
        self.offset = 0
        self.f = None
        self.rd = None
        self.back = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _path(self, n):
        return "%s/%08d" % (self.seg_dir, n)

    def close(self):
        if self.f is not None:
            self.f.close()
            self.f = None
            self.rd = None

    def _open(self, segment, offset):
        self.close()
        self.segment = segment
        self.offset = offset
        if segment > self.last or not self.fs.exists(self._path(segment)):
            return False
        self.f = self.fs.open(self._path(segment), "rb")
        if offset:
            self.f.seek(offset)
        self.rd = FrameReader(self.f, MAX_RECORD)
        self.rd.pos = offset
        return True

    def push_back(self, item):
        """Give back the last ``next()`` result: the next call returns it."""
        self.back = item

    def next(self):
        if self.back is not None:
            item = self.back
            self.back = None
            return item
        while True:
            if self.f is None and not self._open(self.segment, self.offset):
                return None
            got = self.rd.next()
            if got is not None:
                self.offset = self.rd.pos
                return record_seq(got[1]), got[1]
            if self.rd.bad is not None:
                raise JournalDamaged(
                    "segment %d offset %d: %s" % (self.segment, self.rd.bad_at, self.rd.bad)
                )
            if self.segment >= self.last:
                self.close()  # the end for now: later appends are read from here
                return None
            self._open(self.segment + 1, 0)

    def _first_seq(self, n):
        if not self.fs.exists(self._path(n)):
            return None
        with self.fs.open(self._path(n), "rb") as f:
            got = FrameReader(f, MAX_RECORD).next()
        return None if got is None else record_seq(got[1])

    def _search(self, seq):
        """Position on the first record after ``seq``: the last segment that
        starts at or before it, then frame by frame."""
        best = 1
        for n in range(2, self.last + 1):
            first = self._first_seq(n)
            if first is None or first > seq + 1:
                break
            best = n
        self._open(best, 0)
        while True:
            item = self.next()
            if item is None or item[0] > seq:
                self.back = item
                return


def records_after(fs, seg_dir, last_segment, seq, hint=None, last_seq=None):
    """A ``Cursor`` on the first record after ``seq``. ``hint``: the
    (segment, offset) a previous cursor ended on, used when the record
    there is ``seq + 1`` (or, with ``last_seq == seq``, when it is the end);
    otherwise the position is searched. Close the cursor when done."""
    cur = Cursor(fs, seg_dir, last_segment)
    if hint is not None and 1 <= hint[0] <= last_segment and hint[1] >= 0:
        try:
            cur._open(hint[0], hint[1])
            item = cur.next()
        except (JournalDamaged, DecodeError, OSError):
            item = False
        if item is None and last_seq is not None and last_seq == seq:
            return cur
        if item and item[0] == seq + 1:
            cur.back = item
            return cur
    cur.close()
    cur.back = None
    cur._search(seq)
    return cur
