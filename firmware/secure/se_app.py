"""The terminal's secure-element application API over the channel driver.

``SecureElementApp(driver)`` wraps ``firmware.drivers.se.SecureElement``
(docs/se.md) with the application commands of docs/secure-element.md:
device keys and signatures for the fiscal journal, certificate slots, the
tamper lock, the PIN pad's DUKPT (PIN blocks, MACs), and data at rest
enciphered under the element's storage key (``wrap`` / ``unwrap``).  Keys never leave
the element; this side only ever sees public keys, signatures, PIN blocks,
MACs and KSNs.

PIN handling: ``pin_block`` takes the PIN as a bytearray of ASCII digits and
wipes it (and the request buffer it built) before returning, on success and
on error.  The driver's frame is an immutable copy that lives until the
garbage collector takes it; nothing here prints or logs a PIN.
"""

from firmware.drivers.se.errors import SeError, SeStatusError
from firmware.secure.errors import SeAppError, SeBadInput, SeKeyMissing, SeLocked, SeNotAllowed
from protocols import se_app as sa
from protocols import se_frame as sf
from protocols.errors import DecodeError


class SeUnwrapError(SeBadInput):
    """A DATA_WRAP blob that cannot be opened: malformed (length, version;
    ``status`` None, found here) or refused by the element (BAD_PARAMETER:
    its tag does not verify: another element, another purpose, an altered
    byte).  The data in it is lost; other blobs are not affected."""


def _wipe(buf):
    for i in range(len(buf)):
        buf[i] = 0


class SecureElementApp:
    def __init__(self, driver, slot=0, der=False):
        self.se = driver
        self.slot = slot
        self.der = der

    # -- plumbing ------------------------------------------------------------------
    def _call(self, cmd, payload=b""):
        try:
            return self.se.request(cmd, payload)
        except SeStatusError as e:
            raise self._typed(cmd, e)

    def _typed(self, cmd, e):
        what = "%s: %s" % (sa.command_name(cmd), e.name)
        if e.status == sf.ST_NOT_ALLOWED:
            if cmd != sa.CMD_GET_STATUS and self._locked_quietly():
                return SeLocked(what + " (locked)", e.status, e.name)
            return SeNotAllowed(what, e.status, e.name)
        if e.status == sf.ST_KEY_NOT_FOUND:
            return SeKeyMissing(what, e.status, e.name)
        if e.status in (sf.ST_BAD_LENGTH, sf.ST_BAD_PARAMETER):
            return SeBadInput(what, e.status, e.name)
        return SeAppError(what, e.status, e.name)

    def _locked_quietly(self):
        try:
            return self.status()["locked"]
        except SeError:
            return False  # cannot tell: report the plain refusal

    def _slot(self, slot):
        return self.slot if slot is None else slot

    # -- transport -------------------------------------------------------------------
    def info(self):
        return self.se.info()

    # -- device keys and signatures -----------------------------------------------------
    def generate_key(self, slot=None):
        """Generate the P-256 key pair of a slot inside; the public key
        (65 bytes, SEC1 uncompressed)."""
        return self._public(sa.CMD_GENERATE_KEY, slot)

    def public_key(self, slot=None):
        return self._public(sa.CMD_GET_PUBLIC_KEY, slot)

    def _public(self, cmd, slot):
        body = self._call(cmd, bytes((self._slot(slot),)))
        if len(body) != sa.PUBLIC_KEY_LEN or body[0] != 4:
            raise SeAppError("public key of %d bytes" % len(body))
        return body

    def sign(self, digest, slot=None, der=None):
        """(signature, counter): ECDSA P-256/SHA-256 over
        ``protocols.se_app.signed_message(digest, counter, slot)``; raw r|s
        (64 bytes) or DER."""
        if len(digest) != sa.DIGEST_LEN:
            raise ValueError("digest must be 32 bytes")
        der = self.der if der is None else der
        fmt = sa.SIG_DER if der else sa.SIG_RAW
        body = self._call(sa.CMD_SIGN, bytes((self._slot(slot), fmt)) + bytes(digest))
        try:
            counter, signature = sa.parse_sign_response(body)
        except DecodeError:
            raise SeAppError("malformed SIGN response")
        if not der and len(signature) != sa.RAW_SIGNATURE_LEN:
            raise SeAppError("raw signature of %d bytes" % len(signature))
        return signature, counter

    def counter(self, slot=None):
        body = self._call(sa.CMD_GET_COUNTER, bytes((self._slot(slot),)))
        if len(body) != 4:
            raise SeAppError("counter of %d bytes" % len(body))
        return int.from_bytes(body, "big")

    # -- certificate slots ----------------------------------------------------------------
    def write_cert(self, data, slot=0):
        """Store a certificate (chain) in a slot, in chunks; its length."""
        data = bytes(data)
        if len(data) > sa.CERT_MAX:
            raise ValueError("certificate longer than %d bytes" % sa.CERT_MAX)
        offset = 0
        length = 0
        while True:
            chunk = data[offset : offset + sa.CERT_CHUNK]
            body = self._call(sa.CMD_WRITE_CERT, bytes((slot,)) + sa.u16(offset) + chunk)
            length = (body[0] << 8) | body[1]
            offset += len(chunk)
            if offset >= len(data):
                return length

    def read_cert(self, slot=0):
        out = b""
        total = None
        while total is None or len(out) < total:
            request = bytes((slot,)) + sa.u16(len(out)) + sa.u16(sa.CERT_CHUNK)
            body = self._call(sa.CMD_READ_CERT, request)
            if len(body) < 2:
                raise SeAppError("malformed READ_CERT response")
            total = (body[0] << 8) | body[1]
            if len(body) == 2 and len(out) < total:
                raise SeAppError("certificate read made no progress")
            out += body[2:]
        return out

    # -- tamper ----------------------------------------------------------------------
    def status(self):
        body = self._call(sa.CMD_GET_STATUS)
        if len(body) != 8:
            raise SeAppError("status of %d bytes" % len(body))
        return {
            "locked": body[0] == 1,
            "tamper_count": int.from_bytes(body[1:5], "big"),
            "key_slots": body[5],
            "cert_slots": body[6],
            "dukpt": body[7] == 1,
        }

    def tamper(self, source=0):
        """Report a tamper event (the board's tamper switch): the element
        locks; returns its tamper count."""
        body = self._call(sa.CMD_TAMPER_EVENT, bytes((source,)))
        if len(body) != 5 or body[0] != 1:
            raise SeAppError("element did not confirm the lock")
        return int.from_bytes(body[1:5], "big")

    def unlock_challenge(self):
        return self._call(sa.CMD_UNLOCK_CHALLENGE)

    def unlock(self, mac):
        """Pass on the TSM's CMAC over the challenge (docs/secure-element.md)."""
        self._call(sa.CMD_UNLOCK, bytes(mac))

    # -- PIN pad DUKPT ---------------------------------------------------------------------
    def load_dukpt(self, key_block):
        """Load the initial DUKPT key from a TR-31 block (str or bytes); the
        first KSN."""
        if isinstance(key_block, str):
            key_block = key_block.encode()
        return self._ksn(self._call(sa.CMD_LOAD_DUKPT, key_block))

    def pin_block(self, pin, pan):
        """(ISO 9564 format 4 block, KSN) for ``pin`` (a bytearray of ASCII
        digits, wiped here) and ``pan`` (digits, str)."""
        payload = None
        try:
            if not isinstance(pin, bytearray):
                raise TypeError("pass the PIN as a bytearray (it is wiped)")
            payload = sa.pin_request(pin, pan)
            body = self._call(sa.CMD_PIN_BLOCK, payload)
        finally:
            if isinstance(pin, bytearray):
                _wipe(pin)
            if payload is not None:
                _wipe(payload)
        try:
            return sa.parse_block_ksn(body, sa.PIN_BLOCK_LEN, "pin_block")
        except DecodeError:
            raise SeAppError("malformed PIN_BLOCK response")

    def mac(self, data):
        """(AES-CMAC 16 bytes, KSN) under the current transaction's MAC key."""
        body = self._call(sa.CMD_MAC, bytes(data))
        try:
            return sa.parse_block_ksn(body, sa.MAC_LEN, "mac")
        except DecodeError:
            raise SeAppError("malformed MAC response")

    # -- transport key (KBPK agreed with the TSM) ------------------------------------------
    def ka_public_key(self):
        """The element's key-agreement public key (65 bytes), generated inside
        at the first call and kept."""
        body = self._call(sa.CMD_KA_PUBLIC_KEY)
        if len(body) != sa.PUBLIC_KEY_LEN or body[0] != 4:
            raise SeAppError("key-agreement key of %d bytes" % len(body))
        return body

    def kbpk_nonce(self):
        """A fresh 16-byte nonce for the TSM to sign into the next KEY_AGREE."""
        body = self._call(sa.CMD_KBPK_NONCE)
        if len(body) != sa.KA_NONCE_LEN:
            raise SeAppError("nonce of %d bytes" % len(body))
        return body

    def key_agree(self, ephemeral, signature):
        """Agree the KBPK for LOAD_DUKPT with the TSM's ephemeral key (65
        bytes) and its key-loading signature (r|s, 64 bytes): (the element's
        key-agreement public key, key confirmation MacTag 16 bytes)."""
        if len(ephemeral) != sa.PUBLIC_KEY_LEN or len(signature) != sa.RAW_SIGNATURE_LEN:
            raise ValueError("ephemeral key must be 65 bytes, signature 64")
        body = self._call(sa.CMD_KEY_AGREE, bytes(ephemeral) + bytes(signature))
        if len(body) != sa.KEY_AGREE_RESPONSE_LEN or body[0] != 4:
            raise SeAppError("KEY_AGREE response of %d bytes" % len(body))
        return body[: sa.PUBLIC_KEY_LEN], body[sa.PUBLIC_KEY_LEN :]

    def next_transaction(self):
        return self._ksn(self._call(sa.CMD_NEXT_TRANSACTION))

    def ksn(self):
        return self._ksn(self._call(sa.CMD_GET_KSN))

    def _ksn(self, body):
        if len(body) != sa.KSN_LEN:
            raise SeAppError("KSN of %d bytes" % len(body))
        return body

    # -- data at rest (storage key) --------------------------------------------------------
    def wrap(self, purpose, data):
        """The blob (``version | nonce 12 | ciphertext | tag 16``, 29 bytes
        longer than ``data``) of 1..MAX_WRAP bytes enciphered with
        AES-256-GCM under the element's storage key, bound to ``purpose``
        (0..255) and to this element.  The request buffer is wiped."""
        n = len(data)
        if not 0 <= purpose <= 0xFF:
            raise ValueError("purpose must be 0..255")
        if not 1 <= n <= sa.MAX_WRAP:
            raise ValueError("wrap 1..%d bytes" % sa.MAX_WRAP)
        payload = bytearray(1 + n)
        payload[0] = purpose
        payload[1:] = data
        try:
            body = self._call(sa.CMD_DATA_WRAP, payload)
        finally:
            _wipe(payload)
        if len(body) != n + sa.WRAP_OVERHEAD or body[0] != sa.WRAP_VERSION:
            raise SeAppError("DATA_WRAP answer of %d bytes" % len(body))
        return body

    def unwrap(self, purpose, blob):
        """The data of a blob ``wrap(purpose, ...)`` made on this element.
        SeUnwrapError when the blob is malformed or does not verify,
        SeKeyMissing when the element has no storage key, SeLocked while
        tamper-locked."""
        if not 0 <= purpose <= 0xFF:
            raise ValueError("purpose must be 0..255")
        try:
            sa.split_blob(blob)
        except DecodeError as e:
            raise SeUnwrapError("malformed blob: %s" % e)
        try:
            body = self._call(sa.CMD_DATA_UNWRAP, bytes((purpose,)) + bytes(blob))
        except SeBadInput as e:
            raise SeUnwrapError("blob refused: %s" % e, e.status, e.name)
        if len(body) != len(blob) - sa.WRAP_OVERHEAD:
            raise SeAppError("DATA_UNWRAP answer of %d bytes" % len(body))
        return body
