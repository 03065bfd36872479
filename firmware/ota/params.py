"""Signed parameter documents from the TSM (AIDs, CAPKs, limits, tax rates;
docs/tsm.md "Parameters"), verified on the terminal.

The TSM sends ``{"version", "payload", "signature"}``: ``payload`` is the
document as canonical JSON text, ``signature`` raw r‖s (hex) by the release
key over SHA-256("PTPARAMS1" ‖ payload). The terminal checks the signature
on the payload's exact bytes, then parses it; a version not above the one
it holds is refused (a replayed old document cannot lower a limit).
"""

import hashlib
import json
from binascii import unhexlify

from protocols import p256

DOMAIN = b"PTPARAMS1"
KIND = "payterm-params/1"
SECTIONS = ("aids", "capks", "limits", "tax_rates")


class ParamsError(Exception):
    """A parameter document the terminal refuses."""


def verify(doc, release_key, current_version=0):
    """The parameter dict of a signed document; ParamsError otherwise."""
    if not isinstance(doc, dict):
        raise ParamsError("document is not an object")
    payload = doc.get("payload")
    sig = doc.get("signature")
    if not isinstance(payload, str) or not isinstance(sig, str):
        raise ParamsError("document needs payload and signature")
    try:
        raw = unhexlify(sig)
    except ValueError:
        raise ParamsError("signature is not hex")
    body = payload.encode()
    if not p256.verify_raw(release_key, hashlib.sha256(DOMAIN + body).digest(), raw):
        raise ParamsError("signature does not verify")
    try:
        params = json.loads(payload)
    except ValueError:
        raise ParamsError("payload is not JSON")
    if not isinstance(params, dict) or params.get("kind") != KIND:
        raise ParamsError("payload kind is not %s" % KIND)
    v = params.get("version")
    if not isinstance(v, int) or v <= current_version:
        raise ParamsError("version %r is not above %d" % (v, current_version))
    for s in SECTIONS:
        if s not in params:
            raise ParamsError("section %s missing" % s)
    return params
