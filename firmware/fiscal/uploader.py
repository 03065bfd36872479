"""The terminal's tax uploader: sends the fiscal journal's records that the
tax backend has not acknowledged (docs/tax.md, "Terminal uploader").

The journal is the offline queue. ``upload(now)`` reads the records after
the last acknowledged one straight from the journal's segments (one frame
in RAM at a time), in journal order, in batches of at most ``max_records``
records and ``max_bytes`` record bytes, and posts each batch to
``POST /v1/devices/{device_id}/records``, signed by the secure element
(docs/tax.md, "Authentication")::

    digest = SHA-256("PTTAX1\\n" | "POST" | "\\n" | path | "\\n" | body)
    X-Payterm-Device: <device_id>
    X-Payterm-Counter: <the SE counter of the signature>
    X-Payterm-Signature: <hex of the SE's signature>

Real time is this call after each append; catching up after days offline
is the same call. What the backend acknowledged (the last seq and its
record hash, and where the next frame is) is kept in a small file on the
fiscal flash (``name``, default ``upload``), written as ``name.tmp`` and
renamed over ``name`` (atomic on littlefs), only after the backend's
answer. A power cut before that write loses nothing: the records are sent
again and the backend answers ``already_submitted``.

Answers:

- 200: every record ``accepted`` or ``already_submitted``: advance.
- 409: the records before the first ``rejected`` one are stored: advance
  to the last of them, report the refused record (seq, reason, alert) and
  stop (the next call sends it again; the backend raises its alert once).
- 401 ``replayed``: the batch is signed again (a fresh SE counter) and
  sent once more.
- no connection, a timeout, an answer cut short (or never sent): nothing
  advanced; the result names the error (``unreachable``, ``timeout``,
  ``truncated``) and the records wait in the journal.
- a malformed answer (not HTTP, not JSON, results that do not name the
  records sent): ``DecodeError``, nothing advanced for that batch.
- another status: ``HttpRefused`` (with the backend's error code).

File format of the state (all big-endian)::

    "PTUS" | version u8 (1) | last_seq u32 | last_hash 32 | segment u32
    | offset u32 | acked_at u32 | SHA-256 of all before

A missing state file means nothing acknowledged yet; a damaged one, or
one that does not match the journal (the record after it does not chain
to its hash), is dropped and the journal sent from its first record (the
backend answers ``already_submitted`` for what it holds).
"""

import gc
import hashlib
from binascii import b2a_base64, hexlify

from firmware.fiscal import storage
from firmware.net import http as _http
from protocols.errors import DecodeError

STATE_MAGIC = b"PTUS"
STATE_VERSION = 1
STATE_LEN = 4 + 1 + 4 + 32 + 4 + 4 + 4 + 32
ZERO_HASH = bytes(32)
MAX_RECORDS = 32
MAX_BYTES = 8 * 1024
PEER = "tax backend"

DEVICE_HEADER = "X-Payterm-Device"
COUNTER_HEADER = "X-Payterm-Counter"
SIGNATURE_HEADER = "X-Payterm-Signature"
_OK = ("accepted", "already_submitted")


def request_digest(method, path, body):
    """SHA-256("PTTAX1\\n" | METHOD | "\\n" | path | "\\n" | body)."""
    h = hashlib.sha256(b"PTTAX1\n")
    h.update(method.encode())
    h.update(b"\n")
    h.update(path.encode())
    h.update(b"\n")
    h.update(body)
    return h.digest()


def signed_headers(signer, device_id, method, path, body):
    """The device headers of one request, signed now by ``signer`` (the SE)."""
    sig, counter = signer.sign(request_digest(method, path, body))
    return (
        (DEVICE_HEADER, device_id),
        (COUNTER_HEADER, "%d" % counter),
        (SIGNATURE_HEADER, hexlify(bytes(sig)).decode()),
    )


def encode_state(seq, last_hash, segment, offset, acked_at):
    body = (
        STATE_MAGIC
        + bytes([STATE_VERSION])
        + seq.to_bytes(4, "big")
        + bytes(last_hash)
        + segment.to_bytes(4, "big")
        + offset.to_bytes(4, "big")
        + acked_at.to_bytes(4, "big")
    )
    return body + hashlib.sha256(body).digest()


def decode_state(data):
    """(seq, hash, segment, offset, acked_at); DecodeError when damaged."""
    if len(data) != STATE_LEN:
        raise DecodeError("upload state of %d bytes" % len(data))
    if hashlib.sha256(data[:-32]).digest() != data[-32:]:
        raise DecodeError("upload state checksum does not match")
    if data[:4] != STATE_MAGIC or data[4] != STATE_VERSION:
        raise DecodeError("unknown upload state")
    seq = int.from_bytes(data[5:9], "big")
    h = bytes(data[9:41])
    seg = int.from_bytes(data[41:45], "big")
    off = int.from_bytes(data[45:49], "big")
    at = int.from_bytes(data[49:53], "big")
    return seq, h, seg, off, at


def _str(x, n=200):
    return x[:n] if isinstance(x, str) else None


class Uploader:
    """``http``: a ``firmware.net.http.HttpClient`` to the tax backend
    (``HttpClient(Dialer(board, "net2"), host, board.rtc(), deadline_ms,
    peer="tax backend")``); ``journal``: the open ``Journal`` (or any object
    with ``records_after(seq, hint)`` and, optionally, ``seq``); ``signer``:
    the secure element (``sign(digest) -> (signature, counter)``, the
    journal's signer); ``device_id``: the journal's device ID, as the
    backend registered it; ``fs``: the ``Files`` that holds the state file
    ``name`` (the fiscal mount)."""

    def __init__(
        self,
        http,
        journal,
        signer,
        device_id,
        fs,
        name="upload",
        max_records=MAX_RECORDS,
        max_bytes=MAX_BYTES,
    ):
        if max_records < 1 or max_bytes < 1:
            raise ValueError("batches need room for a record")
        self.http = http
        self.journal = journal
        self.signer = signer
        self.device_id = device_id
        self.fs = fs
        self.name = name
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.path = "/v1/devices/%s/records" % device_id
        self.state_note = None  # why a state file was dropped, once

    # -- the acknowledged position --------------------------------------------------
    def state(self):
        """(last acknowledged seq, its record hash, segment, offset, acked_at)."""
        if not self.fs.exists(self.name):
            return 0, ZERO_HASH, 0, 0, 0
        with self.fs.open(self.name, "rb") as f:
            data = f.read(STATE_LEN + 1)
        try:
            return decode_state(data)
        except DecodeError as e:
            self.state_note = "upload state dropped: %s" % e
            return 0, ZERO_HASH, 0, 0, 0

    def _save(self, seq, last_hash, segment, offset, now):
        tmp = self.name + ".tmp"
        with self.fs.open(tmp, "wb") as f:
            f.write(encode_state(seq, last_hash, segment, offset, now))
        self.fs.rename(tmp, self.name)

    # -- one batch -----------------------------------------------------------------
    def _read_batch(self, cur, seq, prev_hash):
        """Up to max_records / max_bytes records after ``seq``: (body,
        [(seq, hash, segment, offset)]), or (None, []) at the end."""
        items = []
        parts = [b'{"records": [']
        size = 0
        while len(items) < self.max_records:
            got = cur.next()
            if got is None:
                break
            rseq, raw = got
            if items and size + len(raw) > self.max_bytes:
                cur.push_back(got)
                break
            if rseq != seq + 1:
                raise storage.JournalDamaged("record %d after %d in the journal" % (rseq, seq))
            if storage.record_prev_hash(raw) != prev_hash:
                raise storage.JournalDamaged("record %d does not chain" % rseq)
            h = hashlib.sha256(raw).digest()
            if items:
                parts.append(b", ")
            parts.append(b'"')
            parts.append(b2a_base64(raw)[:-1])  # without its newline
            parts.append(b'"')
            size += len(raw)
            items.append((rseq, h, cur.segment, cur.offset))
            seq, prev_hash = rseq, h
            raw = None
        if not items:
            return None, items
        parts.append(b"]}")
        return b"".join(parts), items

    def _send(self, body):
        """(status, JSON answer or None); retries once on ``replayed``."""
        for attempt in (0, 1):
            headers = signed_headers(self.signer, self.device_id, "POST", self.path, body)
            status, raw = self.http.exchange("POST", self.path, body, headers)
            if status in (200, 409):
                return status, _http.parse_json(raw, "POST " + self.path)
            code, _msg = _http.error_of(raw)
            if status == 401 and code == "replayed" and attempt == 0:
                continue
            raise _http.refused(status, raw, PEER)
        return None, None  # not reached

    def _check(self, status, ans, items):
        """The number of records stored (a prefix of ``items``), the counts,
        and the first refused result."""
        results = ans.get("results")
        if not isinstance(results, list) or len(results) != len(items):
            raise DecodeError(
                "answer names %s results for %d records"
                % (len(results) if isinstance(results, list) else "no", len(items))
            )
        stored = 0
        accepted = already = rejected = 0
        refused = None
        for i in range(len(items)):
            r = results[i]
            seq, h = items[i][0], items[i][1]
            if not isinstance(r, dict) or r.get("seq") != seq:
                raise DecodeError("result %d does not name seq %d" % (i, seq))
            st = r.get("status")
            if st in _OK:
                if refused is not None:
                    raise DecodeError("seq %d %s after a refused record" % (seq, st))
                if r.get("hash") != hexlify(h).decode():
                    raise DecodeError("result for seq %d names another record hash" % seq)
                stored = i + 1
                if st == "accepted":
                    accepted += 1
                else:
                    already += 1
            elif st == "rejected":
                rejected += 1
                if refused is None:
                    refused = {
                        "seq": seq,
                        "reason": _str(r.get("reason")),
                        "alert": _str(r.get("alert"), 64),
                    }
            else:
                raise DecodeError("result %d: unknown status %r" % (i, st))
        if (status == 200) != (rejected == 0):
            raise DecodeError("status %d with %d records rejected" % (status, rejected))
        return stored, accepted, already, rejected, refused

    @staticmethod
    def _chains(first, seq, last_hash):
        return first[0] == seq + 1 and storage.record_prev_hash(first[1]) == last_hash

    # -- the call --------------------------------------------------------------
    def upload(self, now):
        """Send what the backend has not acknowledged. A dict: ``sent``
        (records posted), ``accepted``, ``already_submitted``, ``rejected``
        (counts from the answers), ``last_seq`` (acknowledged now),
        ``pending`` (records after it, when the journal says), ``batches``,
        ``refused`` (the first refused record: seq, reason, alert) and
        ``error`` (``{"kind": "unreachable"|"timeout"|"truncated", "message"}``
        when the backend could not be reached or its answer was lost)."""
        seq, last_hash, segment, offset, _at = self.state()
        res = {
            "sent": 0,
            "accepted": 0,
            "already_submitted": 0,
            "rejected": 0,
            "last_seq": seq,
            "pending": None,
            "batches": 0,
            "refused": None,
            "error": None,
        }
        last = getattr(self.journal, "seq", None)
        if not isinstance(last, int):
            last = None
        hint = (segment, offset) if segment else None
        cur = self.journal.records_after(seq, hint)
        try:
            first = cur.next()
            if first is not None:
                cur.push_back(first)
            foreign = None
            if last is not None and seq > last:
                foreign = "upload state at seq %d, journal at %d" % (seq, last)
            elif first is not None and seq and not self._chains(first, seq, last_hash):
                foreign = "upload state does not chain to seq %d" % first[0]
            if foreign is not None:
                # the kept state is not this journal's: start again from 1
                self.state_note = foreign
                cur.close()
                seq, last_hash = 0, ZERO_HASH
                res["last_seq"] = 0
                cur = self.journal.records_after(0)
            while True:
                # the last batch's body and answer are garbage now: free them
                # before the next batch (a small heap fragments otherwise)
                gc.collect()
                body, items = self._read_batch(cur, seq, last_hash)
                if body is None:
                    break
                res["sent"] += len(items)
                res["batches"] += 1
                try:
                    status, ans = self._send(body)
                except _http.HttpUnreachable as e:
                    res["error"] = {"kind": "unreachable", "message": str(e)}
                    break
                except _http.HttpTimeout as e:
                    res["error"] = {"kind": "timeout", "message": str(e)}
                    break
                except _http.HttpTruncated as e:
                    res["error"] = {"kind": "truncated", "message": str(e)}
                    break
                body = None
                stored, acc, already, rej, refused = self._check(status, ans, items)
                ans = None
                res["accepted"] += acc
                res["already_submitted"] += already
                res["rejected"] += rej
                if stored:
                    seq, last_hash, seg, off = items[stored - 1]
                    self._save(seq, last_hash, seg, off, now)
                    res["last_seq"] = seq
                if refused is not None:
                    res["refused"] = refused
                    break
        finally:
            cur.close()
        if last is not None:
            res["pending"] = last - res["last_seq"]
        return res
