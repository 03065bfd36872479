# The fiscal journal under real MicroPython on littlefs (the sim board's
# file block device): appends, remount, chain, Z reports, full memory,
# damaged header/state, torn tail, signer failure.
import hashlib
import os

from fiscal_helpers import (
    DEV,
    FS,
    ROOT,
    FakeSigner,
    new_flash,
    read,
    remount,
    rm,
    tmp,
    umount,
    write,
)
from mpyunit import eq, raises

from firmware.fiscal import errors, receipt_qr
from firmware.fiscal.journal import Journal
from protocols import fiscal_payload as fp
from protocols import fiscal_qr, merkle
from protocols import fiscal_record as fr

T0 = 1767225600  # 2026-01-01T00:00:00Z
BREAD = (1600, 2000, 150, 300, "bread")
MILK = (400, 1000, 90, 90, "milk")
TEA = (1600, 3000, 25, 75, "tea")


def _export_records(j):
    p = tmp("exp")
    try:
        with open(p, "wb") as out:
            j.export(out)
        data = read(p)
    finally:
        rm(p)
    eq(data[:4], b"PTFX", "export magic")
    hl = (data[5] << 8) | data[6]
    pos = 7 + hl
    recs = []
    while pos < len(data):
        n = (data[pos] << 8) | data[pos + 1]
        raw = data[pos + 2 : pos + 2 + n]
        eq(hashlib.sha256(raw).digest()[:4], data[pos + 2 + n : pos + 6 + n], "frame check")
        recs.append((fr.decode(raw), hashlib.sha256(raw).digest()))
        pos += n + 6
    return recs


def _check_chain(recs):
    prev = fr.ZERO_HASH
    for i, (r, h) in enumerate(recs):
        eq(r.seq, i + 1, "gap-free sequence")
        eq(r.prev_hash, prev, "chain at %d" % r.seq)
        eq(r.device_id, DEV, "device")
        prev = h


def _day(j, t):
    j.sale([BREAD, MILK], t + 10)
    j.sale([TEA], t + 20, method=1)
    j.refund([MILK], t + 30, ref_seq=1)
    j.event(fr.VOID, t + 40, 0, "customer left", 0)
    j.training([BREAD], t + 50)
    return j.x_report(t + 60)


def test_append_remount_and_chain():
    p = tmp("jr")
    try:
        new_flash(p)
        Journal.format(FS, DEV, T0)
        s = FakeSigner()
        j = Journal.open(FS, s, T0)
        j.event(fr.POWER_ON, T0 + 1, 1, "boot")
        x = _day(j, T0)
        eq(x.seq, 7, "seq after a day")
        eq(len(s.digests), 7, "every record signed")
        eq(j.counters.get(1600), (375, 0), "16% sales")
        eq(j.counters.get(400), (90, 90), "4% sales and refunds")
        eq(j.counters.grand_total(), 465, "grand total")
        last = j.last_hash
        remount(p)
        j2 = Journal.open(FS, FakeSigner(100), T0 + 70)
        eq(j2.seq, 7, "seq after remount")
        eq(j2.last_hash, last, "last hash after remount")
        eq(j2.counters, j.counters, "counters after remount")
        eq(j2.frontier.root(), j.frontier.root(), "period tree after remount")
        recs = _export_records(j2)
        eq(len(recs), 7, "records exported")
        _check_chain(recs)
        eq(recs[1][0].amount, 390, "sale amount")
        eq(recs[0][0].signature != b"", True, "signed")
        eq(recs[6][0].digest(), s.digests[6], "the signer signed the record's digest")
        rep = fp.decode_report(recs[6][0].payload)
        eq((rep.first_seq, rep.last_seq, rep.count), (1, 6, 6), "X covers the period so far")
    finally:
        umount()
        rm(p)


def test_z_report_root_and_rollover():
    p = tmp("z")
    try:
        new_flash(p)
        Journal.format(FS, DEV, T0)
        j = Journal.open(FS, FakeSigner(), T0)
        _day(j, T0)
        z = j.z_report(T0 + 100)
        eq(j.base.segment, 2, "next segment open")
        eq(j.base.z_number, 1, "Z number")
        j.sale([TEA], T0 + 200)
        z2 = j.z_report(T0 + 300)
        remount(p)
        j = Journal.open(FS, FakeSigner(50), T0 + 400)
        eq(j.base.z_number, 2, "two Z reports")
        eq(sorted(os.listdir(ROOT + "/j")), ["00000001", "00000002"], "segments")
        recs = _export_records(j)
        _check_chain(recs)
        for zr, first, last, zn in ((z, 1, 6, 1), (z2, 8, 8, 2)):
            rep = fp.decode_report(zr.payload)
            eq(
                (rep.z_number, rep.first_seq, rep.last_seq, rep.count),
                (zn, first, last, last - first + 1),
                "Z range",
            )
            leaves = [merkle.leaf_hash(h) for r, h in recs if first <= r.seq <= last]
            eq(
                rep.root,
                merkle.root(leaves),
                "Z root = RFC 6962 root of the period's record hashes",
            )
        rep2 = fp.decode_report(z2.payload)
        eq(rep2.totals, [(1600, 75, 0)], "second period totals")
        eq(rep2.period_start, T0 + 100, "period starts at the previous Z")
    finally:
        umount()
        rm(p)


def test_sales_refused_when_z_overdue():
    p = tmp("zo")
    try:
        new_flash(p)
        Journal.format(FS, DEV, T0)
        j = Journal.open(FS, FakeSigner(), T0, z_limit_s=3600)
        j.sale([TEA], T0 + 3600)
        e = raises(errors.ZOverdue, j.sale, [TEA], T0 + 3601)
        eq("Z report" in str(e), True, "message says what to do")
        j.x_report(T0 + 3602)
        j.z_report(T0 + 3603)
        j.sale([TEA], T0 + 3700)
        eq(j.seq, 4, "sales again after the Z report")
    finally:
        umount()
        rm(p)


def test_full_memory_warns_refuses_sales_keeps_everything():
    p = tmp("full")
    try:
        new_flash(p, 512, 48)
        Journal.format(FS, DEV, T0)
        j = Journal.open(FS, FakeSigner(), T0, warn_free=8192, reserve_free=4096, min_free=2048)
        t = T0
        warned_at = None
        acked = 0
        while True:
            t += 1
            try:
                j.sale([BREAD, MILK, TEA], t)
            except errors.MemoryFull as e:
                eq("sales refused" in str(e), True, "clear message")
                break
            acked += 1
            if warned_at is None and j.warning() is not None:
                warned_at = acked
            eq(acked < 2000, True, "refusal comes")
        eq(warned_at is not None and warned_at < acked, True, "warned before refusing")
        # reports still fit in the reserve; sales stay refused
        j.z_report(t + 1)
        raises(errors.MemoryFull, j.sale, [TEA], t + 2)
        remount(p, 512, 48)
        j = Journal.open(FS, FakeSigner(5000), t + 3)
        eq(j.seq, acked + 1, "every acknowledged sale and the Z report kept")
        _check_chain(_export_records(j))
    finally:
        umount()
        rm(p)


def test_damaged_header_is_never_formatted():
    p = tmp("hdr")
    try:
        new_flash(p)
        Journal.format(FS, DEV, T0)
        j = Journal.open(FS, FakeSigner(), T0)
        j.sale([TEA], T0 + 1)
        hdr = bytearray(read(ROOT + "/header"))
        hdr[2] ^= 0x40
        write(ROOT + "/header", bytes(hdr))
        remount(p)
        s = FakeSigner(10)
        j = Journal.open(FS, s, T0 + 2)
        eq(j.header_ok, False, "header rejected")
        e = raises(errors.Locked, j.sale, [TEA], T0 + 3)
        eq("header damaged" in str(e), True, "clear message")
        eq(read(ROOT + "/header"), bytes(hdr), "header left as found")
        eq(j.seq, 2, "sale kept, tamper record added")
        recs = _export_records(j)
        eq(recs[1][0].rtype, fr.TAMPER, "tamper record")
        eq(fp.decode_event(recs[1][0].payload).code, 1, "tamper code: header")
        j.z_report(T0 + 4)  # the day can still be closed and exported
        # Header and state both gone: typed error, nothing written.
        os.remove(ROOT + "/header")
        write(ROOT + "/state", b"junk")
        raises(errors.JournalDamaged, Journal.open, FS, s, T0 + 5)
        eq("header" in os.listdir(ROOT), False, "no header recreated")
        raises(errors.JournalDamaged, Journal.format, FS, DEV, T0 + 6)
    finally:
        umount()
        rm(p)


def test_unformatted_and_unknown_version():
    p = tmp("unf")
    try:
        new_flash(p)
        raises(errors.NotFormatted, Journal.open, FS, FakeSigner(), T0)
        Journal.format(FS, DEV, T0)
        raises(errors.JournalDamaged, Journal.format, FS, DEV, T0)
        # a sealed header of an unknown format version
        body = b"PTFJ\x09" + bytes([len(DEV)]) + DEV.encode() + b"\x00\x00\x00\x01"
        write(ROOT + "/header", body + hashlib.sha256(body).digest())
        j = Journal.open(FS, FakeSigner(), T0 + 1)
        eq("version" in j.header_reason, True, "reason names the version")
        raises(errors.Locked, j.sale, [TEA], T0 + 2)
    finally:
        umount()
        rm(p)


def test_torn_tail_dropped_but_damage_inside_refused():
    p = tmp("torn")
    try:
        new_flash(p)
        Journal.format(FS, DEV, T0)
        j = Journal.open(FS, FakeSigner(), T0)
        for i in range(3):
            j.sale([TEA], T0 + i)
        seg = ROOT + "/j/00000001"
        good = read(seg)
        write(seg, b"\x01\x00FR\x01\x01garbage", "ab")  # a frame cut short
        remount(p)
        j = Journal.open(FS, FakeSigner(10), T0 + 5)
        eq(j.dropped_tail is not None, True, "tail dropped")
        eq(j.seq, 4, "three sales and a tamper record")
        recs = _export_records(j)
        _check_chain(recs)
        eq(recs[3][0].rtype, fr.TAMPER, "evidence of the torn tail")
        eq(read(seg)[: len(good)], good, "acknowledged records untouched")
        # a flipped byte inside an acknowledged record is not a torn tail
        data = bytearray(read(seg))
        data[40] ^= 1
        write(seg, bytes(data))
        remount(p)
        e = raises(errors.JournalDamaged, Journal.open, FS, FakeSigner(20), T0 + 6)
        eq("segment 1" in str(e), True, "names the place: " + str(e))
        eq(read(seg), bytes(data), "nothing repaired or dropped")
    finally:
        umount()
        rm(p)


def test_signer_failure_record_and_refusal():
    p = tmp("sf")
    try:
        new_flash(p)
        Journal.format(FS, DEV, T0)
        s = FakeSigner()
        j = Journal.open(FS, s, T0)
        j.sale([TEA], T0 + 1)
        s.fail = OSError(110)
        raises(errors.SignerFailed, j.sale, [TEA], T0 + 2)
        raises(errors.SignerFailed, j.sale, [TEA], T0 + 3)
        eq(j.seq, 2, "one signer-failure record for the episode")
        s.fail = None
        j.sale([TEA], T0 + 4)
        s.counter = 1  # a counter that goes back is a failure too
        raises(errors.SignerFailed, j.sale, [TEA], T0 + 5)
        recs = _export_records(j)
        _check_chain(recs)
        eq(
            [r.rtype for r, _h in recs],
            [fr.SALE, fr.SIGNER_FAILURE, fr.SALE, fr.SIGNER_FAILURE],
            "types",
        )
        eq((recs[1][0].signature, recs[1][0].sig_counter), (b"", 0), "failure record unsigned")
        eq(j.counters.get(1600), (150, 0), "refused sales not counted")
    finally:
        umount()
        rm(p)


def test_clock_back_and_bad_lines_refused():
    p = tmp("clk")
    try:
        new_flash(p)
        Journal.format(FS, DEV, T0)
        j = Journal.open(FS, FakeSigner(), T0)
        j.sale([TEA], T0 + 10)
        raises(errors.ClockError, j.sale, [TEA], T0 + 9)
        raises(ValueError, j.sale, [(1600, 1000, 25, 26, "tea")], T0 + 11)
        eq(j.seq, 1, "nothing appended")
    finally:
        umount()
        rm(p)


def test_receipt_qr_carries_the_signed_header():
    p = tmp("qr")
    try:
        new_flash(p)
        Journal.format(FS, DEV, T0)
        j = Journal.open(FS, FakeSigner(), T0)
        rec = j.sale([BREAD, MILK], T0 + 1)
        text = receipt_qr.content(rec)
        eq(text[:5], "PTF1:", "prefix")
        q, header = fiscal_qr.decode(text)
        eq((q.device_id, q.seq, q.time, q.amount), (DEV, 1, T0 + 1, 390), "fields")
        eq(hashlib.sha256(header).digest(), rec.digest(), "QR carries exactly the signed header")
        eq((q.signature, q.sig_counter), (rec.signature, rec.sig_counter), "signature")
        for ch in text:
            eq(ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", True, "QR alphanumeric")
    finally:
        umount()
        rm(p)
