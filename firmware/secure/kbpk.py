"""The terminal's side of the TSM key load under a per-device transport key
(docs/tsm.md, docs/secure-element.md).  HTTP is the caller's business: these
functions build and consume the JSON bodies.

1. once: ``register_request(se, serial, challenge)`` -> body of
   ``POST /v1/devices/{serial}/transport-key`` (purpose ``transport-key``):
   the SE's key-agreement key, vouched for by the enrolled SE key;
2. each load: ``dukpt_request(se, serial, challenge)`` -> body of
   ``POST /v1/devices/{serial}/dukpt`` (purpose ``dukpt``) with a fresh SE
   nonce; ``install(se, answer)`` runs KEY_AGREE (the SE checks the TSM's
   signature over its nonce and serial, agrees the KBPK) then LOAD_DUKPT,
   and returns the body of ``POST /v1/devices/{serial}/dukpt/confirm`` and
   the first KSN.

The proof digest is ``protocols.tsm_proof.pop_digest``:
SHA-256("PTTSM-POP1" | purpose | 00 | serial | 00 | challenge | bound),
where ``bound`` is the key-agreement key for ``transport-key`` and empty
otherwise.  MicroPython subset.
"""

from binascii import hexlify, unhexlify

from protocols.tsm_proof import pop_digest


class KbpkError(Exception):
    """A TSM answer the terminal cannot use."""


def _unhex(text, what, n=None):
    if not isinstance(text, str) or len(text) % 2:
        raise KbpkError("%s is not hex" % what)
    try:
        out = unhexlify(text)
    except ValueError:
        raise KbpkError("%s is not hex" % what)
    if n is not None and len(out) != n:
        raise KbpkError("%s must be %d bytes" % (what, n))
    return out


def _hex(data):
    return hexlify(data).decode()


def _proof(se, purpose, serial, challenge_hex, bound, slot):
    digest = pop_digest(purpose, serial, _unhex(challenge_hex, "challenge"), bound)
    sig, counter = se.sign(digest, slot=slot)
    return {"challenge": challenge_hex, "slot": slot, "counter": counter, "signature": _hex(sig)}


def register_request(se, serial, challenge_hex, slot=0):
    """Body of POST /v1/devices/{serial}/transport-key."""
    ka = se.ka_public_key()
    body = _proof(se, "transport-key", serial, challenge_hex, ka, slot)
    body["ka_public"] = _hex(ka)
    return body


def dukpt_request(se, serial, challenge_hex, slot=0):
    """Body of POST /v1/devices/{serial}/dukpt: the proof and a fresh SE
    nonce (the SE keeps it for the next KEY_AGREE)."""
    body = _proof(se, "dukpt", serial, challenge_hex, b"", slot)
    body["se_nonce"] = _hex(se.kbpk_nonce())
    return body


def install(se, answer):
    """KEY_AGREE with the TSM's ephemeral key and signature, then LOAD_DUKPT
    of its key block: (body of POST .../dukpt/confirm, first KSN)."""
    try:
        ephemeral = _unhex(answer["ephemeral_public"], "ephemeral_public", 65)
        signature = _unhex(answer["signature"], "signature", 64)
        block = answer["key_block"]
        ikid = answer["ikid"]
    except (KeyError, TypeError):
        raise KbpkError("not a key-load answer")
    _ka, tag = se.key_agree(ephemeral, signature)
    ksn = se.load_dukpt(block)
    return {"ikid": ikid, "confirmation": _hex(tag)}, ksn
