"""The terminal's side of the TSM protocol (docs/tsm.md): proof of
possession of the secure element's key, the enrolment request, storing the
issued certificate in the SE's certificate slot.

HTTP is the caller's business (the board's network); these functions build
and consume the JSON bodies.
"""

from binascii import a2b_base64, hexlify

from protocols.tsm_proof import pop_digest

# what this module proves (transport-key and report: firmware/secure/kbpk.py,
# firmware/ota/client.py)
PURPOSES = ("enrol", "renew", "dukpt")


class TsmError(Exception):
    """A TSM answer the terminal cannot use."""


def _unhex(text):
    if not isinstance(text, str) or len(text) % 2:
        raise TsmError("challenge is not hex")
    try:
        return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))
    except ValueError:
        raise TsmError("challenge is not hex")


def proof(se, purpose, serial, challenge_hex, slot=0):
    """The proof fields for a TSM request: the SE signs the challenge's
    digest (its counter moves on)."""
    if purpose not in PURPOSES:
        raise ValueError("unknown purpose %s" % purpose)
    digest = pop_digest(purpose, serial, _unhex(challenge_hex))
    sig, counter = se.sign(digest, slot=slot)
    return {
        "challenge": challenge_hex,
        "slot": slot,
        "counter": counter,
        "signature": hexlify(sig).decode(),
    }


def enrol_request(se, serial, challenge_hex, slot=0):
    """The body of POST /v1/enrol: serial, the SE public key, the proof."""
    body = proof(se, "enrol", serial, challenge_hex, slot)
    body["serial"] = serial
    body["public_key"] = hexlify(se.public_key(slot=slot)).decode()
    return body


def pem_to_der(pem):
    """The DER bytes of the first PEM certificate in ``pem`` (str)."""
    begin = "-----BEGIN CERTIFICATE-----"
    end = "-----END CERTIFICATE-----"
    i = pem.find(begin)
    j = pem.find(end, i + 1)
    if i < 0 or j < 0:
        raise TsmError("no PEM certificate")
    body = "".join(pem[i + len(begin) : j].split())
    try:
        return a2b_base64(body)
    except ValueError:
        raise TsmError("PEM body is not base64")


def store_certificate(se, answer, slot=0):
    """Store the certificate of an enrolment/renewal answer (its ``certificate``
    PEM) in the SE certificate slot as DER; returns the DER length."""
    if not isinstance(answer, dict) or not isinstance(answer.get("certificate"), str):
        raise TsmError("answer holds no certificate")
    der = pem_to_der(answer["certificate"])
    if len(der) < 4 or der[0] != 0x30:
        raise TsmError("certificate is not DER")
    return se.write_cert(der, slot=slot)
