"""The technician's service client (tools/fiscal_export.py) against a
scripted terminal on a fake serial port (one layer: the protocol logic).
Refusals, malformed or damaged answers and silence end in ServiceError;
an export whose length or SHA-256 does not match the terminal's summary is
refused; the AUTH signature verifies with protocols.p256 (what the firmware
runs)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from protocols import p256
from protocols import service_frame as sf
from tools import fiscal_export as fe

DEV = "PT-CLI-0001"
Script = Callable[[int, bytes], list[bytes]]


class FakePort:
    """A pyserial-like port: each request frame is answered by ``script``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.rx = b""
        self.requests: list[tuple[int, bytes]] = []
        self.deframer = sf.Deframer()
        self.resets = 0

    @property
    def in_waiting(self) -> int:
        return len(self.rx)

    def reset_input_buffer(self) -> None:
        self.resets += 1
        self.rx = b""

    def write(self, data: bytes) -> int:
        self.deframer.feed(data)
        while (got := self.deframer.next()) is not None:
            self.requests.append(got)
            self.rx += b"".join(self.script(*got))
        return len(data)

    def read(self, size: int = 1) -> bytes:
        out, self.rx = self.rx[:size], self.rx[size:]
        return out


def terminal(
    data: bytes, *, tamper: str = "", key: ec.EllipticCurvePublicKey | None = None
) -> Script:
    state = {"challenge": b"", "auth": False}

    def answer(cmd: int, payload: bytes) -> list[bytes]:
        if cmd == sf.CMD_HELLO:
            if tamper == "hello":
                return [sf.encode(sf.ST_OK, b"not json")]
            return [sf.encode(sf.ST_OK, sf.encode_json({"device_id": DEV, "protocol": 1}))]
        if cmd == sf.CMD_STATUS:
            return [sf.encode(sf.ST_OK, sf.encode_json({"seq": 4, "locked": False}))]
        if cmd == sf.CMD_CHALLENGE:
            state["challenge"] = bytes(range(16))
            return [sf.encode(sf.ST_OK, bytes(range(16)))]
        if cmd == sf.CMD_AUTH:
            assert key is not None
            pub = fe.public_point(key)
            digest = sf.auth_digest(bytes(state["challenge"]), DEV)  # type: ignore[arg-type]
            ok = p256.verify_raw(pub, digest, payload)
            state["auth"] = ok
            return [sf.encode(sf.ST_OK if ok else sf.ST_AUTH_FAILED, b"" if ok else b"no")]
        if cmd == sf.CMD_EXPORT:
            if not state["auth"]:
                return [sf.encode(sf.ST_NOT_AUTHENTICATED, b"EXPORT needs AUTH")]
            frames = [sf.encode(sf.ST_DATA, data[i : i + 100]) for i in range(0, len(data), 100)]
            total, digest = len(data), hashlib.sha256(data).digest()
            if tamper == "short":
                frames = frames[:-1]
            if tamper == "crc":
                bad = bytearray(frames[0])
                bad[-1] ^= 1
                frames[0] = bytes(bad)
            if tamper == "summary":
                return [*frames, sf.encode(sf.ST_OK, b"\x00")]
            if tamper == "failed":
                return [*frames[:1], sf.encode(sf.ST_FAILED, b"export failed: flash gone")]
            return [*frames, sf.encode(sf.ST_OK, sf.encode_export_end(total, digest, True))]
        if cmd == sf.CMD_LOGOUT:
            return [sf.encode(sf.ST_OK)]
        return [sf.encode(sf.ST_UNKNOWN_COMMAND, b"?")]

    return answer


KEY = ec.derive_private_key(0x5EC7, ec.SECP256R1())
OTHER = ec.derive_private_key(0x0BAD, ec.SECP256R1())
DATA = b"PTFX\x01\x00\x00" + bytes(range(256)) * 3


def test_export_round() -> None:
    port = FakePort(terminal(DATA, key=KEY.public_key()))
    got = fe.export_port(port, KEY, timeout=0.5)
    assert got.data == DATA and got.signed and got.device_id == DEV and got.frames == 8
    assert [c for c, _ in port.requests] == [
        sf.CMD_HELLO,
        sf.CMD_CHALLENGE,
        sf.CMD_AUTH,
        sf.CMD_EXPORT,
        sf.CMD_LOGOUT,
    ]
    assert port.resets == 1
    doc = got.as_dict()
    assert doc["sha256"] == hashlib.sha256(DATA).hexdigest() and doc["bytes"] == len(DATA)


def test_status() -> None:
    port = FakePort(terminal(DATA))
    assert fe.status_port(port, 0.5) == {"device_id": DEV, "protocol": 1, "seq": 4, "locked": False}


@pytest.mark.parametrize(
    ("tamper", "key", "match"),
    [
        ("", OTHER, "AUTH refused: AUTH_FAILED"),
        ("short", KEY, "damaged on the line"),
        ("crc", KEY, "malformed answer"),
        ("summary", KEY, "bad export summary"),
        ("failed", KEY, "EXPORT refused: FAILED: export failed: flash gone"),
        ("hello", KEY, "HELLO: malformed answer"),
    ],
)
def test_failures(tamper: str, key: ec.EllipticCurvePrivateKey, match: str) -> None:
    port = FakePort(terminal(DATA, tamper=tamper, key=KEY.public_key()))
    with pytest.raises(fe.ServiceError, match=match):
        fe.export_port(port, key, timeout=0.2)


def test_silence_times_out() -> None:
    port = FakePort(lambda cmd, payload: [])
    with pytest.raises(fe.ServiceError, match="no answer"):
        fe.ServiceClient(port, timeout=0.2).hello()


def test_key_helpers() -> None:
    with pytest.raises(ValueError):
        fe.load_tech_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    point = fe.public_point(KEY)
    assert len(point) == 65 and point[0] == 4
    sig = fe.sign_challenge(KEY, bytes(16), DEV)
    assert p256.verify_raw(point, sf.auth_digest(bytes(16), DEV), sig)
    assert not p256.verify_raw(point, sf.auth_digest(bytes(16), "PT-OTHER"), sig)
