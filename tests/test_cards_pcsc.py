"""A virtual card in a real pcscd through vsmartcard's vpcd, read with pyscard.

The fixture starts its own pcscd in the foreground with a private reader
configuration (the vpcd driver on a free TCP port), connects the
contact_offline_pin card to it and always stops pcscd afterwards.  pcscd's
client socket is fixed (/run/pcscd/pcscd.comm), so runs are serialised by a
file lock; if another pcscd already serves that socket, the test uses it
when its vpcd reader listens on the default port 35963.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_sim.cards import load_profile
from host_sim.cards.vpcd import DEFAULT_PORT, VpcdCard
from protocols import apdu, tlv

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
LOCK_FILE = Path("/tmp/payterm-pcscd.lock")
READER_NAME = "Payterm Virtual PCD"
START_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    # vpcd opens the port and the next one (two slots).
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port + 1))
        except OSError:
            return _free_port()
    return port


def _pcscd_alive() -> bool:
    if not PCSCD_SOCKET.exists():
        return False
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(1)
        try:
            sock.connect(str(PCSCD_SOCKET))
        except OSError:
            return False
    return True


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(predicate: object, timeout: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


@contextlib.contextmanager
def _exclusive() -> Iterator[None]:
    with LOCK_FILE.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def vpcd_port(tmp_path: Path) -> Iterator[int]:
    """A running pcscd with a vpcd reader; yields the reader's card port."""
    pcscd = shutil.which("pcscd") or (
        "/usr/sbin/pcscd" if Path("/usr/sbin/pcscd").exists() else None
    )
    if pcscd is None:
        pytest.skip("pcscd is not installed (scripts/setup installs it)")
    if not VPCD_DRIVER.exists():
        pytest.skip("vsmartcard-vpcd is not installed (apt-get install vsmartcard-vpcd)")
    with _exclusive():
        if _pcscd_alive():
            if not _port_open(DEFAULT_PORT):
                pytest.skip("another pcscd runs without a vpcd reader on port 35963")
            yield DEFAULT_PORT
            return
        try:
            PCSCD_SOCKET.parent.mkdir(parents=True, exist_ok=True)
        except PermissionError:
            pytest.skip(f"cannot create {PCSCD_SOCKET.parent} for pcscd (not root)")
        port = _free_port()
        conf = tmp_path / "reader.conf.d"
        conf.mkdir()
        (conf / "vpcd").write_text(
            f'FRIENDLYNAME "{READER_NAME}"\n'
            f"DEVICENAME   /dev/null:0x{port:04X}\n"
            f"LIBPATH      {VPCD_DRIVER}\n"
            f"CHANNELID    0x{port:04X}\n"
        )
        log = tmp_path / "pcscd.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [pcscd, "--foreground", "--apdu", "--info", "--config", str(conf)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_for(
                lambda: b"daemon ready" in log.read_bytes() or proc.poll() is not None,
                START_TIMEOUT,
                "pcscd to start",
            )
            if proc.poll() is not None:
                pytest.skip(f"pcscd cannot run here: {log.read_text(errors='replace')[-400:]}")
            yield port
        finally:
            _stop(proc)
            if os.environ.get("PAYTERM_KEEP_PCSCD_LOG"):
                print(log.read_text(errors="replace"))


def _connect(reader_prefix: str) -> object:
    from smartcard.Exceptions import CardConnectionException, NoCardException
    from smartcard.System import readers

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        names = [r for r in readers() if str(r).startswith(reader_prefix)]
        if names:
            connection = names[0].createConnection()
            try:
                connection.connect()
                return connection
            except (NoCardException, CardConnectionException):
                pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no card in a reader named {reader_prefix!r}: {readers()}")
        time.sleep(0.2)


def _transmit(connection: object, command: bytes) -> tuple[bytes, int]:
    data, sw1, sw2 = connection.transmit(list(command))  # type: ignore[attr-defined]
    return bytes(data), (sw1 << 8) | sw2


def test_pyscard_reads_the_virtual_card_through_pcscd(vpcd_port: int) -> None:
    card = load_profile("contact_offline_pin")
    client = VpcdCard(card, port=vpcd_port)
    client.start(timeout=START_TIMEOUT)
    connection = None
    try:
        prefix = READER_NAME if vpcd_port != DEFAULT_PORT else "Virtual PCD"
        connection = _connect(prefix)
        assert bytes(connection.getATR()) == card.atr  # type: ignore[attr-defined]

        fci, sw = _transmit(connection, apdu.select_by_name(b"1PAY.SYS.DDF01"))
        assert sw == 0x9000
        sfi = tlv.find(tlv.decode(fci), 0x88)
        assert sfi is not None and sfi.value == b"\x01"
        directory, sw = _transmit(connection, apdu.read_record(1, 1))
        assert sw == 0x9000
        aid = tlv.find(tlv.decode(directory), 0x4F)
        assert aid is not None and aid.value == bytes.fromhex("A0000000031010")

        fci, sw = _transmit(connection, apdu.select_by_name(aid.value))
        assert sw == 0x9000
        pdol = tlv.find(tlv.decode(fci), 0x9F38)
        assert pdol is not None
        pdol_data = tlv.build_dol_data(pdol.value, {0x9F1A: b"\x04\x00", 0x9F35: b"\x22"})
        gpo, sw = _transmit(connection, apdu.get_processing_options(pdol_data))
        assert sw == 0x9000 and gpo[0] == 0x80
        afl = gpo[4:]
        assert afl and len(afl) % 4 == 0
        read = 0
        for pos in range(0, len(afl), 4):
            for number in range(afl[pos + 1], afl[pos + 2] + 1):
                record, sw = _transmit(connection, apdu.read_record(number, afl[pos] >> 3))
                assert sw == 0x9000 and record[0] == 0x70
                read += 1
        assert read == 4
        # A malformed command through the whole stack gets its status word.
        assert _transmit(connection, bytes.fromhex("00FF000000"))[1] == 0x6D00
        assert card.atc == 1
        assert client.apdus >= 4 + read
    finally:
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.disconnect()  # type: ignore[attr-defined]
        client.stop()


def test_vpcd_framing_exact_bytes() -> None:
    """The wire format against a listener that plays vpcd's side byte for byte."""
    card = load_profile("contact_offline_pin")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        client = VpcdCard(card, port=server.getsockname()[1])
        client.start(timeout=5)
        peer, _addr = server.accept()
        peer.settimeout(5)
        with peer:
            peer.sendall(b"\x00\x01\x01")  # power on: no answer
            peer.sendall(b"\x00\x01\x04")  # get ATR
            assert peer.recv(2) == len(card.atr).to_bytes(2, "big")
            assert peer.recv(64) == card.atr
            select = apdu.select_by_name(b"1PAY.SYS.DDF01")
            peer.sendall(len(select).to_bytes(2, "big") + select)
            length = int.from_bytes(peer.recv(2), "big")
            body = b""
            while len(body) < length:
                body += peer.recv(length - len(body))
            assert body[-2:] == b"\x90\x00" and body[0] == 0x6F
            peer.sendall(b"\x00\x01\x00")  # power off ends the session state
        client.stop()
    assert client.apdus == 1


def test_vpcd_command_line_serves_a_profile(vpcd_port: int) -> None:
    """``python -m host_sim.cards.vpcd`` as a user runs it, seen by pyscard."""
    import sys

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "host_sim.cards.vpcd",
            "--profile",
            "blocked",
            "--port",
            str(vpcd_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    connection = None
    try:
        prefix = READER_NAME if vpcd_port != DEFAULT_PORT else "Virtual PCD"
        connection = _connect(prefix)
        fci, sw = _transmit(connection, apdu.select_by_name(bytes.fromhex("A0000000031010")))
        assert sw == 0x6283 and fci[0] == 0x6F
        assert _transmit(connection, apdu.get_processing_options(bytes(3)))[1] == 0x6985
    finally:
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.disconnect()  # type: ignore[attr-defined]
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate(timeout=5)
    assert b"card blocked inserted" in err
