# firmware/fiscal/uploader.py under MicroPython: the journal on littlefs (the
# sim board's file block device), a fake signer, and a fake backend behind a
# fake HTTP stream. Every request is checked on the wire: the exact bytes of
# one batch, and for each request the signature over the documented digest
# SHA-256("PTTAX1\n" | METHOD | "\n" | path | "\n" | body) with a rising
# counter. Then each answer case: 200, already_submitted, 409, replayed,
# down, timeout, lost answer, malformed answers, batches, the state file.
import hashlib
import json
from binascii import a2b_base64, hexlify

from fiscal_helpers import DEV, FS, MP, FakeSigner, new_flash, rm, tmp, umount
from mpyunit import eq, raises

from boards.common.fs import Files
from firmware.fiscal import storage
from firmware.fiscal import uploader as up
from firmware.fiscal.journal import Journal
from firmware.net.http import HttpClient, HttpRefused
from protocols import fiscal_record as fr
from protocols.errors import DecodeError

T0 = 1767225600
HOST = "127.0.0.1:8470"
PATH = "/v1/devices/%s/records" % DEV
BREAD = (1600, 2000, 150, 300, "bread")
TEA = (1600, 3000, 25, 75, "tea")
STATE_FS = Files(MP)  # the upload state next to the journal's directory


def fake_sig(digest):
    h = hashlib.sha256(b"fake-key" + digest).digest()
    return h + hashlib.sha256(h).digest()


def _json_answer(status, obj):
    body = json.dumps(obj).encode()
    reason = {200: b"OK", 409: b"Conflict", 401: b"Unauthorized", 404: b"Not Found"}[status]
    return b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        status,
        reason,
        len(body),
        body,
    )


def _is(step, name):
    return isinstance(step, str) and step == name


class Backend:
    """Answers the uploader as docs/tax.md says, after checking the request:
    the head, the device headers and the signature over the digest of the
    request as it was received. ``plan``: per request, None (answer
    normally), "reject:SEQ" (409 from that seq), "replayed", "down"
    (connect refused), "timeout", "lost" (stored, then the link closes
    without an answer) or raw response bytes."""

    def __init__(self):
        self.stored = {}
        self.requests = []
        self.plan = []
        self.last_counter = 0
        self.connects = 0

    def connect(self):
        self.connects += 1
        step = self.plan.pop(0) if self.plan else None
        if _is(step, "down"):
            raise OSError(111)
        return Stream(self, step)

    def check(self, data):
        i = data.find(b"\r\n\r\n")
        head, body = data[:i].decode(), data[i + 4 :]
        lines = head.split("\r\n")
        eq(lines[0], "POST %s HTTP/1.1" % PATH, "request line")
        hdr = {}
        for ln in lines[1:]:
            k, v = ln.split(": ", 1)
            hdr[k] = v
        eq(hdr["Host"], HOST, "Host")
        eq(int(hdr["Content-Length"]), len(body), "Content-Length")
        eq(hdr["X-Payterm-Device"], DEV, "device header")
        counter = int(hdr["X-Payterm-Counter"])
        digest = hashlib.sha256(b"PTTAX1\nPOST\n" + PATH.encode() + b"\n" + body).digest()
        eq(hdr["X-Payterm-Signature"], hexlify(fake_sig(digest)).decode(), "signature")
        self.requests.append((hdr, body, counter))
        return counter, [a2b_base64(t) for t in json.loads(body)["records"]]

    def answer(self, data, step):
        counter, raws = self.check(data)
        if _is(step, "replayed") or counter <= self.last_counter:
            return _json_answer(401, {"error": {"code": "replayed", "message": "replay"}})
        self.last_counter = counter
        if isinstance(step, bytes):
            return step
        reject = int(step[7:]) if isinstance(step, str) and step.startswith("reject:") else None
        results = []
        stop = False
        for raw in raws:
            rec = fr.decode(raw)
            h = hexlify(hashlib.sha256(raw).digest()).decode()
            r = {"seq": rec.seq, "hash": h, "status": "rejected", "reason": None, "alert": None}
            if stop:
                r["reason"] = "not verified: after the refused seq %d" % reject
            elif rec.seq == reject:
                r["reason"], r["alert"] = "counters do not add up", "totals_mismatch"
                stop = True
            elif rec.seq in self.stored:
                eq(self.stored[rec.seq], h, "a record sent again is the same record")
                r["status"] = "already_submitted"
            else:
                eq(rec.seq, len(self.stored) + 1, "records arrive in journal order")
                self.stored[rec.seq] = h
                r["status"] = "accepted"
            results.append(r)
        n = len(self.stored)
        ans = {
            "device_id": DEV,
            "accepted": sum(1 for r in results if r["status"] == "accepted"),
            "already_submitted": sum(1 for r in results if r["status"] == "already_submitted"),
            "rejected": sum(1 for r in results if r["status"] == "rejected"),
            "last_seq": n,
            "last_hash": self.stored.get(n, "00" * 32),
            "alerts": [1] if stop else [],
            "results": results,
        }
        return _json_answer(409 if stop else 200, ans)


class Stream:
    def __init__(self, backend, step):
        self.backend = backend
        self.step = step
        self.written = bytearray()
        self.out = None
        self.closed = False

    def write(self, data):
        self.written.extend(data)
        return len(data)

    def read(self, n):
        if self.out is None:
            if _is(self.step, "timeout"):
                return None
            self.out = self.backend.answer(bytes(self.written), self.step)
            if _is(self.step, "lost"):
                self.out = b""
        data = self.out[:n]
        self.out = self.out[n:]
        return data

    def deinit(self):
        self.closed = True


class Setup:
    def __init__(self, n_sales=3, **kw):
        self.path = tmp("upl")
        new_flash(self.path)
        Journal.format(FS, DEV, T0)
        self.signer = FakeSigner()
        self.j = Journal.open(FS, self.signer, T0)
        self.t = T0
        for _ in range(n_sales):
            self.sale()
        self.backend = Backend()
        self.http = HttpClient(self.backend.connect, HOST, peer="tax backend")
        self.up = up.Uploader(self.http, self.j, self.signer, DEV, STATE_FS, **kw)

    def sale(self):
        self.t += 60
        return self.j.sale([BREAD, TEA], self.t)

    def close(self):
        umount()
        rm(self.path)


def journal_records(j):
    """The journal's records, from its segment files (frames)."""
    out = []
    for n in range(1, j.base.segment + 1):
        name = "j/%08d" % n
        if not FS.exists(name):
            continue
        with FS.open(name, "rb") as f:
            data = f.read()
        pos = 0
        while pos < len(data):
            ln = (data[pos] << 8) | data[pos + 1]
            out.append(data[pos + 2 : pos + 2 + ln])
            pos += ln + 6
    return out


def _state_file():
    with STATE_FS.open("upload", "rb") as f:
        return up.decode_state(f.read())


def test_one_batch_exact_bytes():
    s = Setup(2)
    try:
        res = s.up.upload(s.t)
        eq(len(s.backend.requests), 1, "one request")
        recs = journal_records(s.j)
        eq(len(recs), 2, "two records")
        body = b'{"records": ["%s", "%s"]}' % (
            up.b2a_base64(recs[0])[:-1],
            up.b2a_base64(recs[1])[:-1],
        )
        digest = hashlib.sha256(b"PTTAX1\nPOST\n/v1/devices/PT-SIM-0001/records\n" + body).digest()
        eq(s.signer.digests[-1], digest, "the SE signed the documented digest")
        eq(s.signer.counter, 3, "the request took the SE counter after the records'")
        want = (
            b"POST /v1/devices/PT-SIM-0001/records HTTP/1.1\r\n"
            b"Host: 127.0.0.1:8470\r\n"
            b"User-Agent: payterm-terminal/1\r\n"
            b"Accept: application/json, application/octet-stream\r\n"
            b"Connection: close\r\n"
            b"X-Payterm-Device: PT-SIM-0001\r\n"
            b"X-Payterm-Counter: 3\r\n"
            b"X-Payterm-Signature: " + hexlify(fake_sig(digest)) + b"\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\n"
            b"\r\n" % len(body)
        ) + body
        _hdr, got_body, _c = s.backend.requests[0]
        eq(got_body, body, "body")
        eq(up.request_digest("POST", PATH, body), digest, "request_digest")
        # the bytes on the wire, whole
        http = HttpClient(lambda: None, HOST)
        eq(
            up._http.request_bytes(
                "POST",
                PATH,
                HOST,
                body,
                headers=up.signed_headers(FakeSigner(2), DEV, "POST", PATH, body),
            ),
            want,
            "exact request",
        )
        eq(http.host, HOST, "host")
        eq(
            res,
            {
                "sent": 2,
                "accepted": 2,
                "already_submitted": 0,
                "rejected": 0,
                "last_seq": 2,
                "pending": 0,
                "batches": 1,
                "refused": None,
                "error": None,
            },
            "result",
        )
        seq, h, seg, off, at = _state_file()
        eq((seq, h, seg, at), (2, hashlib.sha256(recs[1]).digest(), 1, s.t), "state file")
        eq(off, len(recs[0]) + len(recs[1]) + 12, "state names the next frame")
        eq(STATE_FS.exists("upload.tmp"), False, "tmp renamed")
    finally:
        s.close()


def test_wire_bytes_are_what_the_stream_got():
    s = Setup(1)
    try:
        streams = []
        conn = s.backend.connect

        def keep():
            st = conn()
            streams.append(st)
            return st

        s.http.connect = keep
        s.up.upload(s.t)
        _hdr, body, c = s.backend.requests[0]
        digest = up.request_digest("POST", PATH, body)
        want = up._http.request_bytes(
            "POST",
            PATH,
            HOST,
            body,
            headers=(
                ("X-Payterm-Device", DEV),
                ("X-Payterm-Counter", "%d" % c),
                ("X-Payterm-Signature", hexlify(fake_sig(digest)).decode()),
            ),
        )
        eq(bytes(streams[0].written), want, "the stream received exactly the request")
        eq(streams[0].closed, True, "connection closed")
    finally:
        s.close()


def test_real_time_one_record_per_call():
    s = Setup(0)
    try:
        eq(s.up.upload(s.t)["sent"], 0, "nothing to send")
        eq(s.backend.connects, 0, "no connection when nothing is pending")
        for i in range(1, 4):
            s.sale()
            res = s.up.upload(s.t)
            eq(
                (res["sent"], res["accepted"], res["last_seq"], res["pending"]),
                (1, 1, i, 0),
                "sale %d" % i,
            )
        eq(len(s.backend.requests), 3, "one request per sale")
        counters = [c for _h, _b, c in s.backend.requests]
        eq(counters == sorted(counters) and len(set(counters)) == 3, True, "counters rise")
    finally:
        s.close()


def test_batches_by_count_and_bytes_across_segments():
    s = Setup(5, max_records=2)
    try:
        s.j.z_report(s.t + 1)
        s.t += 1
        s.sale()
        s.sale()
        res = s.up.upload(s.t)
        eq(
            (res["sent"], res["accepted"], res["batches"], res["last_seq"]),
            (8, 8, 4, 8),
            "by count",
        )
        eq(
            [len(json.loads(b)["records"]) for _h, b, _c in s.backend.requests],
            [2, 2, 2, 2],
            "2 a batch",
        )
        seq, _h, seg, _off, _at = _state_file()
        eq((seq, seg), (8, 2), "state in segment 2")
        one = len(journal_records(s.j)[0])
        s.up.max_records = 32
        s.up.max_bytes = one + 10  # one record a batch, never an empty batch
        s.sale()
        s.sale()
        res = s.up.upload(s.t)
        eq((res["sent"], res["batches"], res["last_seq"]), (2, 2, 10), "by bytes")
        s.up.max_bytes = 1  # a record larger than the limit still goes alone
        s.sale()
        eq(s.up.upload(s.t)["batches"], 1, "oversize record alone")
        eq(sorted(s.backend.stored), list(range(1, 12)), "every seq once")
    finally:
        s.close()


def test_already_submitted_advances():
    s = Setup(3)
    try:
        for raw in journal_records(s.j)[:2]:  # the backend holds 1..2 (answer lost earlier)
            s.backend.stored[fr.decode(raw).seq] = hexlify(hashlib.sha256(raw).digest()).decode()
        res = s.up.upload(s.t)
        eq((res["already_submitted"], res["accepted"], res["last_seq"]), (2, 1, 3), "idempotent")
    finally:
        s.close()


def test_partial_acceptance_reports_and_stops():
    s = Setup(4, max_records=2)
    try:
        s.backend.plan = [None, "reject:3"]
        res = s.up.upload(s.t)
        eq(
            (res["accepted"], res["rejected"], res["last_seq"], res["pending"]),
            (2, 2, 2, 2),
            "409 at 3",
        )
        eq(
            res["refused"],
            {"seq": 3, "reason": "counters do not add up", "alert": "totals_mismatch"},
            "refused",
        )
        eq(res["batches"], 2, "stopped after the refusal")
        eq(_state_file()[0], 2, "state at the last stored")
        s.backend.plan = [None]
        res = s.up.upload(s.t)
        eq((res["accepted"], res["last_seq"], res["refused"]), (2, 4, None), "later accepted")
        # a refusal inside a batch: the prefix advances
        s.sale()
        s.sale()
        s.backend.plan = ["reject:6"]
        res = s.up.upload(s.t)
        eq((res["accepted"], res["rejected"], res["last_seq"]), (1, 1, 5), "prefix of the batch")
    finally:
        s.close()


def test_replayed_signed_again_once():
    s = Setup(2)
    try:
        s.backend.plan = ["replayed"]
        res = s.up.upload(s.t)
        eq((res["accepted"], res["last_seq"]), (2, 2), "accepted on the second signature")
        c1, c2 = s.backend.requests[0][2], s.backend.requests[1][2]
        eq(c2 > c1, True, "a fresh counter")
        s.sale()
        s.backend.plan = ["replayed", "replayed"]
        e = raises(HttpRefused, s.up.upload, s.t)
        eq((e.status, e.code), (401, "replayed"), "twice: refused")
        eq(_state_file()[0], 2, "nothing advanced")
    finally:
        s.close()


def test_offline_nothing_advanced():
    s = Setup(2)
    try:
        for step, kind in (("down", "unreachable"), ("timeout", "timeout"), ("lost", "truncated")):
            s.backend.plan = [step]
            res = s.up.upload(s.t)
            eq(res["error"]["kind"], kind, step)
            eq(
                (res["last_seq"], res["accepted"], res["pending"]),
                (0, 0, 2),
                step + ": nothing advanced",
            )
            eq(STATE_FS.exists("upload"), False, step + ": no state written")
        eq(sorted(s.backend.stored), [1, 2], "the lost answer's records were stored")
        res = s.up.upload(s.t)  # back online
        eq(
            (res["already_submitted"], res["last_seq"], res["error"]),
            (2, 2, None),
            "resent, idempotent",
        )
    finally:
        s.close()


def _malformed(answer):
    s = Setup(2)
    try:
        s.backend.plan = [answer]
        raises(DecodeError, s.up.upload, s.t)
        eq(STATE_FS.exists("upload"), False, "nothing advanced")
    finally:
        s.close()


def test_malformed_answers():
    good = {
        "device_id": DEV,
        "accepted": 2,
        "already_submitted": 0,
        "rejected": 0,
        "last_seq": 2,
        "last_hash": "00",
        "alerts": [],
    }
    _malformed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nnope!")
    _malformed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")
    _malformed(b"NOT HTTP\r\n\r\n")
    _malformed(_json_answer(200, dict(good, results=[])))
    _malformed(_json_answer(200, dict(good)))
    r1 = {"seq": 1, "hash": "00" * 32, "status": "accepted"}
    r2 = {"seq": 2, "hash": "00" * 32, "status": "accepted"}
    _malformed(_json_answer(200, dict(good, results=[r1, r2])))  # another record's hash
    _malformed(_json_answer(200, dict(good, results=[dict(r1, seq=2), r2])))
    _malformed(_json_answer(200, dict(good, results=[dict(r1, status="maybe"), r2])))
    _malformed(_json_answer(409, dict(good, results=[])))


def test_inconsistent_results_are_malformed():
    s = Setup(2)
    try:
        recs = journal_records(s.j)
        hs = [hexlify(hashlib.sha256(r).digest()).decode() for r in recs]
        ok1 = {"seq": 1, "hash": hs[0], "status": "accepted"}
        rej2 = {
            "seq": 2,
            "hash": hs[1],
            "status": "rejected",
            "reason": "x",
            "alert": "chain_break",
        }
        ok2 = {"seq": 2, "hash": hs[1], "status": "accepted"}
        base = {"device_id": DEV, "alerts": []}
        # 200 with a rejected record, 409 with none, accepted after a refusal
        for st, rs in (
            (200, [ok1, rej2]),
            (409, [ok1, ok2]),
            (409, [dict(rej2, seq=1, hash=hs[0]), ok2]),
        ):
            s.backend.plan = [_json_answer(st, dict(base, results=rs))]
            raises(DecodeError, s.up.upload, s.t)
            eq(STATE_FS.exists("upload"), False, "nothing advanced")
        s.backend.plan = [_json_answer(409, dict(base, results=[ok1, rej2]))]
        res = s.up.upload(s.t)
        eq((res["last_seq"], res["refused"]["alert"]), (1, "chain_break"), "a consistent 409")
    finally:
        s.close()


def test_other_status_is_refused():
    s = Setup(1)
    try:
        s.backend.plan = [_json_answer(404, {"error": {"code": "unknown_device", "message": "no"}})]
        e = raises(HttpRefused, s.up.upload, s.t)
        eq((e.status, e.code), (404, "unknown_device"), "the backend's code")
    finally:
        s.close()


def test_state_damaged_or_foreign_starts_again():
    s = Setup(3)
    try:
        s.up.upload(s.t)
        eq(_state_file()[0], 3, "acknowledged")
        with STATE_FS.open("upload", "wb") as f:
            f.write(b"garbage")
        s.sale()
        res = s.up.upload(s.t)
        eq(
            (res["already_submitted"], res["accepted"], res["last_seq"]),
            (3, 1, 4),
            "damaged: from 1",
        )
        eq(s.up.state_note.startswith("upload state dropped"), True, "said so")
        # a state that does not chain to the journal (another journal's hash)
        with STATE_FS.open("upload", "wb") as f:
            f.write(up.encode_state(2, b"\x11" * 32, 1, 0, 0))
        s.sale()
        res = s.up.upload(s.t)
        eq(
            (res["already_submitted"], res["accepted"], res["last_seq"]),
            (4, 1, 5),
            "foreign: from 1",
        )
        # a state beyond the journal (another, longer journal's)
        with STATE_FS.open("upload", "wb") as f:
            f.write(up.encode_state(50, b"\x22" * 32, 3, 0, 0))
        res = s.up.upload(s.t)
        eq(
            (res["already_submitted"], res["accepted"], res["last_seq"]),
            (5, 0, 5),
            "beyond: from 1",
        )
        eq(s.up.state_note, "upload state at seq 50, journal at 5", "said so")
        # a wrong position hint is searched past
        _seq, h, _seg, _off, _at = _state_file()
        with STATE_FS.open("upload", "wb") as f:
            f.write(up.encode_state(5, h, 1, 7, 0))
        s.sale()
        res = s.up.upload(s.t)
        eq((res["sent"], res["accepted"], res["last_seq"]), (1, 1, 6), "hint searched")
    finally:
        s.close()


def test_cursor_from_any_seq():
    s = Setup(3)
    try:
        s.j.z_report(s.t + 1)
        s.t += 1
        s.j.z_report(s.t + 1)  # an empty period: segment 2 holds only its Z
        s.t += 1
        s.sale()
        s.sale()
        recs = journal_records(s.j)
        for start in range(0, len(recs) + 1):
            cur = s.j.records_after(start)
            got = []
            while True:
                item = cur.next()
                if item is None:
                    break
                got.append(item)
            cur.close()
            eq([q for q, _r in got], list(range(start + 1, len(recs) + 1)), "after %d" % start)
            eq([r for _q, r in got], recs[start:], "bytes after %d" % start)
        eq(storage.record_seq(recs[4]), 5, "record_seq")
    finally:
        s.close()
