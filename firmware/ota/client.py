"""The terminal's TSM client: the TSM calls a terminal makes (docs/tsm.md,
"Device client"), over the shared HTTP/1.1 client (firmware/net/http.py,
which holds the request/response code; its names are re-exported here).

The board hands over ``connect``: a function that opens a new connection
to the TSM and returns a stream — ``write(buf)``; ``read(n)`` returning
what is ready, at most ``n`` bytes (never more than 512 are asked at once,
which bounds the RAM a read takes), ``None`` when its timeout passes with
nothing received, ``b""`` at end of stream, or raising ``OSError`` when the
link fails (ETIMEDOUT/EAGAIN count as a timeout); ``deinit()`` or
``close()``. On the sim board that is ``boards.sim.net.Dialer(board,
"net1")``. One request per connection (``Connection: close``).

Responses are parsed by the shared client (firmware/net/http.py: strict,
bounded, ``DecodeError`` on anything malformed); an OTA package is
streamed into ``Ota.install`` 512 bytes at a time and never held in RAM.

Errors: ``TsmUnreachable`` (no connection), ``TsmTimeout`` (the stream's
timeout, or the request's deadline when the board gives a clock),
``TsmTruncated`` (a ``DecodeError``: the response ended early or the link
dropped mid-response), ``DecodeError`` (a malformed response),
``TsmRefused`` (an HTTP status the call does not expect, with the TSM's
error code). What the TSM sends is then checked by ``firmware.ota`` (OTA
packages), ``firmware.ota.params`` (parameters) and the secure element
(key blocks).
"""

from firmware.net import http as _http
from firmware.net.http import (  # noqa: F401 (the client's public names)
    MAX_CHUNK_LINE,
    MAX_HEADERS,
    MAX_INTERIM,
    MAX_JSON,
    MAX_LINE,
    READ_CHUNK,
    USER_AGENT,
    ChunkedBody,
    EmptyBody,
    FixedBody,
    Response,
    read_response,
    request_bytes,
)
from firmware.ota import OtaError
from firmware.ota import params as _params
from firmware.ota import tsm as _tsm
from protocols.errors import DecodeError
from protocols.tsm_proof import pop_digest

MAX_PACKAGE = 16 * 1024 * 1024
PEER = "TSM"

TsmClientError = _http.HttpError  # base of the transport and status errors


class TsmUnreachable(_http.HttpUnreachable):
    """No connection to the TSM could be opened."""


class TsmTimeout(_http.HttpTimeout):
    """The TSM went quiet: the stream's timeout or the request's deadline."""


class TsmTruncated(_http.HttpTruncated):
    """The response ended (or the link dropped) before its end."""


class TsmRefused(_http.HttpRefused):
    """The TSM answered with a status the call does not accept."""


class Reader(_http.Reader):
    """``firmware.net.http.Reader`` naming the TSM and raising its errors."""

    Timeout = TsmTimeout
    Truncated = TsmTruncated

    def __init__(self, stream, clock=None, deadline_ms=None, peer=PEER):
        super().__init__(stream, clock, deadline_ms, peer)


class _OtaSource:
    """The package body as ``Ota.install`` reads it: a transport failure
    becomes an OtaError inside install (so the partial slot is removed) and
    is kept to be raised as what it was."""

    def __init__(self, body):
        self.body = body
        self.error = None

    def read(self, n):
        try:
            return self.body.read(n)
        except (TsmClientError, DecodeError) as e:
            self.error = e
            raise OtaError("download failed: %s" % e)


class TsmClient(_http.HttpClient):
    """The terminal's calls to its TSM.

    ``connect()``: a new stream to the TSM (see the module docstring);
    ``host``: the Host header (the TSM's "host:port"); ``serial``: the
    device serial the TSM enrolled; ``se``: a
    ``firmware.secure.SecureElementApp`` (proofs, certificate, key loading);
    ``release_key``: the TSM release public key provisioned at the factory
    (65 bytes), never taken from the network; ``board``: this board's
    name (OTA packages are per board); ``clock``: an object with
    ``ticks_ms()``/``ticks_diff()`` (``board.rtc()``) to bound each
    request by ``deadline_ms``.
    """

    Reader = Reader
    Unreachable = TsmUnreachable
    Refused = TsmRefused

    def __init__(
        self,
        connect,
        host,
        serial,
        se=None,
        release_key=None,
        board=None,
        clock=None,
        deadline_ms=None,
        max_json=MAX_JSON,
        max_package=MAX_PACKAGE,
    ):
        if not serial or len(serial) > 64 or not _serial_ok(serial):
            raise ValueError("bad serial %r" % (serial,))
        super().__init__(connect, host, clock, deadline_ms, max_json, PEER)
        self.serial = serial
        self.se = se
        self.release_key = release_key
        self.board = board
        self.max_package = max_package

    # -- device calls -------------------------------------------------------------
    def challenge(self, purpose):
        """A one-time challenge (hex) for ``purpose``: enrol, renew, dukpt."""
        ans = self.call("POST", "/v1/challenge", {"serial": self.serial, "purpose": purpose})
        ch = ans.get("challenge")
        if not isinstance(ch, str) or len(ch) != 64:
            raise DecodeError("challenge answer holds no 32-byte challenge")
        return ch

    def _need(self, what):
        if getattr(self, what) is None:
            raise ValueError("TsmClient needs %s for this call" % what)

    def enrol(self):
        """Enrol the SE key (slot 0, already generated): challenge, SE proof,
        certificate stored in the SE's certificate slot. The TSM's answer."""
        self._need("se")
        ch = self.challenge("enrol")
        ans = self.call("POST", "/v1/enrol", _tsm.enrol_request(self.se, self.serial, ch), (201,))
        _tsm.store_certificate(self.se, ans)
        return ans

    def renew(self):
        """A new certificate for the same SE key (purpose ``renew``), stored
        in the SE's certificate slot; the TSM revokes the previous one."""
        self._need("se")
        ch = self.challenge("renew")
        body = _tsm.proof(self.se, "renew", self.serial, ch)
        ans = self.call("POST", "/v1/devices/%s/renew" % self.serial, body)
        _tsm.store_certificate(self.se, ans)
        return ans

    def device_status(self):
        return self.call("GET", "/v1/devices/%s/status" % self.serial)

    def fetch_params(self, current_version=0):
        """The TSM's latest parameter document when it is newer than
        ``current_version``: (params, document), verified with the release
        key (``firmware.ota.params.verify``); None when there is nothing
        newer. ParamsError for a document that does not verify."""
        self._need("release_key")
        try:
            doc = self.call("GET", "/v1/params")
        except TsmRefused as e:
            if e.status == 404 and e.code == "no_params":
                return None
            raise
        v = doc.get("version")
        if isinstance(v, int) and not isinstance(v, bool) and v <= current_version:
            return None  # the outer version is a hint; verify checks the signed one
        return _params.verify(doc, self.release_key, current_version), doc

    def install_latest(self, ota):
        """Download the latest package for this board and stream it into
        ``ota.install`` (never whole in RAM). The installed version, or None
        when the TSM has nothing above the device's floor. A package that does
        not verify raises OtaError (nothing installed); a broken download
        raises the transport error (TsmTruncated, TsmTimeout, DecodeError)
        after install has removed its partial slot."""
        self._need("board")
        resp = self.open("GET", "/v1/ota/%s/latest" % self.board, limit=self.max_package)
        try:
            if resp.status != 200:
                raise _http.refused(
                    resp.status, _http.small_body(resp, self.max_json), PEER, TsmRefused
                )
            st = ota.state()
            floor = max(st.get("version", 0), st.get("min_version", 0))
            hint = resp.header("x-payterm-version")
            if hint is not None and hint.isdigit() and int(hint) <= floor:
                return None  # nothing newer: do not download it
            src = _OtaSource(resp.body)
            try:
                return ota.install(src)
            except OtaError:
                if src.error is not None:
                    raise src.error
                raise
        except TsmRefused as e:
            if e.status == 404 and e.code == "no_package":
                return None
            raise
        finally:
            self.close(resp)

    def register_transport_key(self):
        """Register the SE's key-agreement key with the TSM (purpose
        ``transport-key``; the enrolled SE key vouches for it). The TSM keeps
        the first key registered; the same key again is answered as such."""
        from firmware.secure import kbpk

        self._need("se")
        ch = self.challenge("transport-key")
        body = kbpk.register_request(self.se, self.serial, ch)
        return self.call("POST", "/v1/devices/%s/transport-key" % self.serial, body)

    def load_dukpt(self):
        """The initial DUKPT key from the TSM into the SE: a fresh SE nonce
        and proof, the TSM's TR-31 block under a KBPK agreed for this load
        (ECDH with the SE's key-agreement key, registered first when the TSM
        answers ``no_transport_key``), KEY_AGREE then LOAD_DUKPT in the SE,
        the key confirmation sent back. The SE's first KSN. The key block
        never leaves its TR-31 wrapping here."""
        from firmware.secure import kbpk

        self._need("se")
        path = "/v1/devices/%s/dukpt" % self.serial
        try:
            ans = self.call(
                "POST", path, kbpk.dukpt_request(self.se, self.serial, self.challenge("dukpt"))
            )
        except TsmRefused as e:
            if e.status != 409 or e.code != "no_transport_key":
                raise
            self.register_transport_key()
            ans = self.call(
                "POST", path, kbpk.dukpt_request(self.se, self.serial, self.challenge("dukpt"))
            )
        confirm, ksn = kbpk.install(self.se, ans)
        self.call("POST", path + "/confirm", confirm)
        ikid = ans.get("ikid")
        if not isinstance(ikid, str) or bytes(ksn[:8]) != _unhex(ikid):
            raise _tsm.TsmError("the SE's KSN does not start with the TSM's IKID")
        return ksn

    def report_version(self, ota):
        """Report the image this device runs (``ota.state()``: active slot
        and version) to the TSM, purpose ``report``: the SE signs
        ``pop_digest("report", serial, challenge ‖ version u32 ‖ slot)``, so
        the report cannot be altered or replayed. The TSM's answer
        ``{"version", "ota_slot", "reported_at"}``."""
        from binascii import hexlify

        self._need("se")
        st = ota.state()
        version, slot = st["version"], st["active"]
        ch = self.challenge("report")
        bound = version.to_bytes(4, "big") + slot.encode()
        sig, counter = self.se.sign(pop_digest("report", self.serial, _unhex(ch), bound), 0)
        body = {"challenge": ch, "slot": 0, "counter": counter, "signature": hexlify(sig).decode()}
        body["version"] = version
        body["ota_slot"] = slot
        return self.call("POST", "/v1/devices/%s/firmware" % self.serial, body)


def _serial_ok(serial):
    return all("a" <= ch.lower() <= "z" or "0" <= ch <= "9" or ch in "._-" for ch in serial)


def _unhex(text):
    try:
        return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))
    except ValueError:
        raise DecodeError("not hex: %r" % text[:20])
