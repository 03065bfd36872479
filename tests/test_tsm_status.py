"""The relying parties' TSM status client (hsm_sim/tsm/status_client.py)
against the real TSM over HTTP on 127.0.0.1: answers cached for the TTL and
asked again after it, a revocation kept for good (also while the TSM is
down), a TSM that is down, that answers garbage, or that never answers,
each ``unreachable`` within the timeout and not asked again inside the
retry window. And the TSM's signed firmware version report (purpose
``report``): stored, shown in the device status and the admin history,
replays, altered reports and revoked devices refused."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tsm_status_support import ADMIN, Mono, Tsm, point

from hsm_sim.tsm.status_client import UNREACHABLE, TsmStatusClient
from tools.fiscal_softsign import SoftSigner

SERIAL = "PTSE-STATUS-0001"


@pytest.fixture
def tsm(tmp_path: Path) -> Iterator[Tsm]:
    t = Tsm(tmp_path)
    yield t
    t.close()


def test_cache_ttl_revocation_kept_and_tsm_down(tsm: Tsm) -> None:
    signer = SoftSigner(41)
    cert = tsm.enrol(signer, SERIAL)
    clock = Mono()
    client = TsmStatusClient(tsm.url, ttl=60, timeout=2, retry=5, clock=clock)

    st = client.device(SERIAL)
    assert (st.status, st.cached, st.get("public_key")) == ("active", False, point(signer))
    assert st.get("cert_serial") == cert["cert_serial"]
    assert client.certificate(cert["cert_serial"]).status == "good"
    assert client.device("PTSE-NEVER-ENROLLED").status == "unknown"
    assert client.fetches == 3

    # inside the TTL: from the cache, even once the TSM has revoked it
    tsm.revoke(SERIAL)
    clock.t += 59
    st = client.device(SERIAL)
    assert (st.status, st.cached) == ("active", True)
    assert client.cached(SERIAL) is not None
    assert client.fetches == 3
    # the TTL passed: asked again, revoked
    clock.t += 2
    assert client.cached(SERIAL) is None
    st = client.device(SERIAL)
    assert (st.status, st.cached, st.get("reason")) == ("revoked", False, "compromised")
    assert client.fetches == 4
    assert client.certificate(cert["cert_serial"]).status == "revoked"

    # the TSM goes down: the revocation is kept for good, never asked again
    tsm.stop()
    clock.t += 10 * 86400
    st = client.device(SERIAL)
    assert (st.status, st.cached) == ("revoked", True)
    assert client.fetches == 5  # (the certificate above)
    # an expired "unknown" is asked again: unreachable, at once (refused)
    t0 = time.monotonic()
    st = client.device("PTSE-NEVER-ENROLLED")
    assert st.status == UNREACHABLE and not st.cached and not st.reachable
    assert st.error is not None and "ConnectionRefusedError" in st.error
    assert time.monotonic() - t0 < 1.0
    assert client.fetches == 6
    # inside the retry window nothing is tried: every lookup is unreachable
    clock.t += 4
    st = client.device("PTSE-OTHER")
    assert (st.status, st.cached) == (UNREACHABLE, True)
    cached = client.cached("PTSE-OTHER")
    assert cached is not None and cached.status == UNREACHABLE
    assert client.fetches == 6
    clock.t += 2  # the window is over: tried again
    assert client.device("PTSE-OTHER").status == UNREACHABLE
    assert client.fetches == 7


class Garbage:
    """A TCP server answering each request with ``answer`` (or, when None,
    accepting and never answering)."""

    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.answer is None:
                self.held.append(conn)
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(self.answer)

    def close(self) -> None:
        self.sock.close()
        for c in self.held:
            c.close()


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "not JSON"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", "not a JSON object"),
        (b'HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n{"status": "great"}', "'great'"),
        (b"HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\n{}", "HTTP 500"),
        (b"SSH-2.0-OpenSSH_9.6\r\n", "BadStatusLine"),
        (b"", "RemoteDisconnected"),
        (None, "timed out"),
    ],
)
def test_a_tsm_answering_garbage_or_nothing_is_unreachable(answer: bytes | None, why: str) -> None:
    srv = Garbage(answer)
    try:
        client = TsmStatusClient(f"http://127.0.0.1:{srv.port}", timeout=0.5)
        t0 = time.monotonic()
        st = client.device(SERIAL)
        took = time.monotonic() - t0
    finally:
        srv.close()
    assert st.status == UNREACHABLE and st.error is not None and why in st.error, st
    assert took < 1.5


def test_bad_urls_and_settings_are_refused() -> None:
    for url in ("ftp://tsm", "127.0.0.1:8480", "http://", "https://tsm:8480"):
        with pytest.raises(ValueError):
            TsmStatusClient(url)
    with pytest.raises(ValueError):
        TsmStatusClient("http://tsm:8480", timeout=0)


def test_firmware_version_report(tsm: Tsm) -> None:
    signer = SoftSigner(42)
    tsm.enrol(signer, SERIAL)
    _status, st = tsm.call("GET", f"/v1/devices/{SERIAL}/status")
    assert st["firmware"] is None

    code, ans = tsm.report(signer, SERIAL, 3, "b")
    assert code == 200 and (ans["version"], ans["ota_slot"]) == (3, "b"), ans
    _status, st = tsm.call("GET", f"/v1/devices/{SERIAL}/status")
    assert st["firmware"] == ans

    # the proof binds the report: another version or slot under it, a
    # replayed request, another key, another purpose's challenge: refused
    body = dict(tsm.proof(signer, SERIAL, "report", (4).to_bytes(4, "big") + b"a"))
    code, err = tsm.call("POST", f"/v1/devices/{SERIAL}/firmware", dict(body, version=5,
                                                                         ota_slot="a"))  # fmt: skip
    assert (code, err["error"]["code"]) == (403, "bad_proof")
    body = dict(tsm.proof(signer, SERIAL, "report", (4).to_bytes(4, "big") + b"a"))
    code, err = tsm.call("POST", f"/v1/devices/{SERIAL}/firmware", dict(body, version=4,
                                                                         ota_slot="b"))  # fmt: skip
    assert (code, err["error"]["code"]) == (403, "bad_proof")
    body = dict(
        tsm.proof(signer, SERIAL, "report", (4).to_bytes(4, "big") + b"a"), version=4, ota_slot="a"
    )
    assert tsm.call("POST", f"/v1/devices/{SERIAL}/firmware", body)[0] == 200
    code, err = tsm.call("POST", f"/v1/devices/{SERIAL}/firmware", body)
    assert (code, err["error"]["code"]) == (403, "bad_challenge")  # replayed
    code, err = tsm.report(SoftSigner(43), SERIAL, 9, "a")
    assert (code, err["error"]["code"]) == (403, "bad_proof")  # not the enrolled key
    body = dict(tsm.proof(signer, SERIAL, "renew"), version=9, ota_slot="a")
    code, err = tsm.call("POST", f"/v1/devices/{SERIAL}/firmware", body)
    assert (code, err["error"]["code"]) == (403, "bad_challenge")  # a renew challenge
    for bad in ({"version": -1, "ota_slot": "a"}, {"version": 1, "ota_slot": "A/../b"},
                {"version": 1}, {"ota_slot": "a"}):  # fmt: skip
        code, err = tsm.call("POST", f"/v1/devices/{SERIAL}/firmware",
                             dict(tsm.proof(signer, SERIAL, "report"), **bad))  # fmt: skip
        assert (code, err["error"]["code"]) == (422, "invalid_request"), bad
    code, err = tsm.report(SoftSigner(44), "PTSE-NOT-ENROLLED", 1, "a")
    assert (code, err["error"]["code"]) == (404, "unknown_device")

    # the admin history, oldest first; admin only
    code, hist = tsm.call("GET", f"/v1/devices/{SERIAL}/firmware", admin=True)
    assert code == 200 and [(h["version"], h["ota_slot"]) for h in hist] == [(3, "b"), (4, "a")]
    assert tsm.call("GET", f"/v1/devices/{SERIAL}/firmware")[0] == 401
    assert tsm.call("GET", "/v1/devices/PTSE-NOPE/firmware", admin=True)[0] == 404
    _status, st = tsm.call("GET", f"/v1/devices/{SERIAL}/status")
    assert (st["firmware"]["version"], st["firmware"]["ota_slot"]) == (4, "a")

    # revoked: no more reports; the last one stays in the status
    tsm.revoke(SERIAL)
    code, err = tsm.report(signer, SERIAL, 5, "b")
    assert (code, err["error"]["code"]) == (403, "revoked")
    _status, st = tsm.call("GET", f"/v1/devices/{SERIAL}/status")
    assert st["status"] == "revoked" and st["firmware"]["version"] == 4
    assert ADMIN not in str(st)
