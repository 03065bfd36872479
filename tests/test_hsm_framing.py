"""The HSM's framing over real TCP: header echo, response codes, malformed
frames, unknown and disabled commands, oversized frames, garbage beside a
healthy connection, 32 concurrent clients, pipelining, one audit row per
command."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hsm_support import RunningHsm, raw_exchange, read_frame, recv_exactly, running_hsm

from hsm_sim.client import HsmClient, HsmError
from hsm_sim.lmk import Lmk
from hsm_sim.server import response_code


@pytest.fixture(scope="module")
def hsm() -> Iterator[RunningHsm]:
    with running_hsm(disabled=("M0",)) as running:
        yield running


def _connect(hsm: RunningHsm) -> socket.socket:
    sock = socket.create_connection((hsm.host, hsm.port), timeout=5)
    return sock


def test_nc_returns_the_lmk_check_value_and_firmware(hsm: RunningHsm) -> None:
    with _connect(hsm) as sock:
        reply = raw_exchange(sock, b"HDR1NC")
    assert reply == b"HDR1ND00" + Lmk.test().check_value.encode() + b"0001-PT00"
    assert Lmk.test().check_value == "809D767E968BA245"  # published in docs/hsm.md


@pytest.mark.parametrize(
    ("code", "expected"), [("NC", "ND"), ("A0", "A1"), ("KQ", "KR"), ("CY", "CZ"), ("M8", "M9")]
)
def test_response_code_advances_the_second_character(code: str, expected: str) -> None:
    assert response_code(code) == expected


@pytest.mark.parametrize("header_length", [0, 2, 8])
def test_configurable_header_length_is_echoed(header_length: int) -> None:
    with running_hsm(header_length=header_length) as hsm, _connect(hsm) as sock:
        header = b"ABCDEFGH"[:header_length]
        reply = raw_exchange(sock, header + b"NC")
        assert reply[: header_length + 4] == header + b"ND00"
        with HsmClient(hsm.host, hsm.port, header=header) as client:
            assert client.diagnostics().lmk_check == Lmk.test().check_value


def test_malformed_frames_get_well_formed_errors_and_the_connection_lives(
    hsm: RunningHsm,
) -> None:
    with _connect(hsm) as sock:
        assert raw_exchange(sock, b"00") == b"00  ZZ15"  # header incomplete
        assert raw_exchange(sock, b"0000N") == b"0000ZZ15"  # no command code
        assert raw_exchange(sock, b"0000\x00\xff") == b"0000ZZ15"  # not a code
        assert raw_exchange(sock, b"0000QQ") == b"0000QR67"  # unknown command
        assert raw_exchange(sock, b"0000M000") == b"0000M168"  # disabled
        assert raw_exchange(sock, b"0000NCextra") == b"0000ND15"  # trailing junk
        assert raw_exchange(sock, b"0000A0") == b"0000A115"  # fields missing
        assert raw_exchange(sock, b"0000BUFFFS0000") == b"0000BVB2"  # truncated block
        assert raw_exchange(sock, b"0000BUFFFU" + b"0" * 32) == b"0000BV26"  # variant key
        assert raw_exchange(sock, b"0000NC").startswith(b"0000ND00")


def test_oversized_frame_closes_only_that_connection(hsm: RunningHsm) -> None:
    with _connect(hsm) as healthy, _connect(hsm) as bad:
        bad.sendall(b"\xff\xff" + b"x" * 100)
        bad.settimeout(5)
        assert bad.recv(10) == b""  # closed by the server
        assert raw_exchange(healthy, b"0000NC").startswith(b"0000ND00")
    with _connect(hsm) as zero:
        zero.sendall(b"\x00\x00")
        zero.settimeout(5)
        assert zero.recv(10) == b""


def test_garbage_flood_beside_a_healthy_connection(hsm: RunningHsm) -> None:
    stop = threading.Event()
    floods = {"connections": 0}

    def flood() -> None:
        rng = 12345
        while not stop.is_set():
            try:
                with _connect(hsm) as sock:
                    floods["connections"] += 1
                    for _ in range(50):
                        rng = (rng * 1103515245 + 12345) & 0x7FFFFFFF
                        sock.sendall(rng.to_bytes(4, "big") * 64)
            except OSError:
                continue

    thread = threading.Thread(target=flood)
    thread.start()
    try:
        answered = 0
        deadline = time.monotonic() + 1.0
        with HsmClient(hsm.host, hsm.port) as client:
            while time.monotonic() < deadline:
                assert client.diagnostics().lmk_check == Lmk.test().check_value
                answered += 1
    finally:
        stop.set()
        thread.join(5)
    assert floods["connections"] >= 2
    assert answered > 20


def test_pipelined_frames_in_one_write_are_answered_in_order(hsm: RunningHsm) -> None:
    bodies = [b"0001NC", b"0002QQ", b"0003NC", b"0004"]
    with _connect(hsm) as sock:
        sock.sendall(b"".join(len(b).to_bytes(2, "big") + b for b in bodies))
        replies = [read_frame(sock) for _ in bodies]
    assert [r[:8] for r in replies] == [b"0001ND00", b"0002QR67", b"0003ND00", b"0004ZZ15"]


def test_a_frame_split_across_writes_is_reassembled(hsm: RunningHsm) -> None:
    with _connect(hsm) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for part in (b"\x00", b"\x06", b"00", b"00N", b"C"):
            sock.sendall(part)
            time.sleep(0.01)
        head = recv_exactly(sock, 2)
        assert recv_exactly(sock, int.from_bytes(head, "big")).startswith(b"0000ND00")


def test_32_concurrent_clients() -> None:
    with running_hsm() as hsm:
        errors: list[BaseException] = []
        counts = [0] * 32

        def worker(i: int) -> None:
            try:
                header = b"%04d" % i
                with HsmClient(hsm.host, hsm.port, header=header) as client:
                    for _ in range(25):
                        client.diagnostics()
                        counts[i] += 1
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors
        assert sum(counts) == 32 * 25
        hsm.flush_audit()
        rows = hsm.server.store.audit_rows()
        assert len(rows) == 32 * 25
        assert {r[1] for r in rows} == {"NC"}
        assert len({r[2] for r in rows}) == 32  # one caller per connection


def test_every_answered_frame_is_audited_with_its_error_code() -> None:
    with running_hsm() as hsm:
        with _connect(hsm) as sock:
            raw_exchange(sock, b"0000NC")
            raw_exchange(sock, b"0000QQ")
            raw_exchange(sock, b"0000A0")
            raw_exchange(sock, b"00")
        hsm.flush_audit()
        rows = hsm.server.store.audit_rows()
    assert [(r[1], r[3]) for r in rows] == [("NC", "00"), ("QQ", "67"), ("A0", "15"), ("??", "15")]
    assert all(r[2].startswith("127.0.0.1:") for r in rows)
    assert all(abs(r[0] - time.time()) < 60 for r in rows)


def test_client_raises_hsm_error_with_code_and_command(hsm: RunningHsm) -> None:
    with HsmClient(hsm.host, hsm.port) as client:
        with pytest.raises(HsmError) as info:
            client.call("QQ")
        assert (info.value.code, info.value.command) == ("67", "QQ")
