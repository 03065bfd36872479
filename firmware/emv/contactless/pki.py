"""Offline data authentication for the contactless kernels, on top of the
shared Book 2 module (``firmware.emv.oda``) and CAPK store
(``firmware.emv.capk``): ICC public key retrieval from the AFL's ODA records,
and the fDDA check of Kernel 3.  Failures raise ``oda.OdaError``.
"""

from firmware.emv import oda

OdaError = oda.OdaError


def oda_records(entries, records):
    """(SFI, raw record) of the records the AFL marks for ODA, in AFL order."""
    out = []
    for sfi, first, _last, count in entries:
        for number in range(first, first + count):
            raw = records.get((sfi, number))
            if raw is None:
                raise OdaError("ODA record %d/%d missing" % (sfi, number), missing=True)
            out.append((sfi, raw))
    return out


def icc_key(capks, rid, store, entries, records, today):
    """Issuer then ICC public key (Book 2 §5.3, §6.4) -> oda.PublicKey."""
    index = store.get(0x8F)
    if not index:
        raise OdaError("CA public key index missing", missing=True)
    capk = capks.find(rid, index[0], today)
    if capk is None:
        raise OdaError("CA public key %02X unknown or expired" % index[0])

    def revoked(serial):
        return capks.is_revoked(rid, index[0], serial)

    issuer = oda.issuer_public_key(
        oda.PublicKey(capk.modulus, capk.exponent), store, today, revoked
    )
    static = oda.static_data(oda_records(entries, records), store.get(0x9F4A), store.get(0x82, b""))
    return oda.icc_public_key(issuer, store, static, today)


def verify_fdda(icc, store):
    """fDDA, Book C-3 version 01 as host_sim/cards signs it: SDAD 9F4B over
    UN || amount || currency || card authentication related data 9F69, where
    9F69 = 01 || card UN (4) || CTQ (2) and its CTQ equals 9F6C."""
    sdad = store.get(0x9F4B)
    related = store.get(0x9F69)
    if sdad is None or related is None:
        raise OdaError("no signed dynamic data", missing=True)
    if len(related) < 7 or related[0] != 0x01:
        raise OdaError("card authentication related data version")
    if related[5:7] != store.get(0x9F6C, b""):
        raise OdaError("CTQ differs from the signed copy")
    terminal = store[0x9F37] + store[0x9F02] + store[0x5F2A] + related
    dynamic = oda.verify_sdad(icc, sdad, terminal)
    number = oda.dynamic_number(dynamic)
    if not 2 <= len(number) <= 8 or len(dynamic) != 1 + len(number):
        raise OdaError("ICC dynamic number")
    return number
