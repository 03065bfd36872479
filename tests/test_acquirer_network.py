"""The acquirer host's TCP front end and network management, over real
loopback TCP with the PAYTERM_1987 dialect."""

from __future__ import annotations

import asyncio

from host_sim.acquirer.server import AcquirerHost
from protocols import iso8583
from protocols.iso8583_specs import PAYTERM_1987

SIGN_ON = {
    "t": "0800",
    "7": "1121083000",
    "11": "000001",
    "24": "003",
    "41": "PT000001",
    "42": "000000000123456",
    "70": "001",
}


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: bytes
) -> dict[str, str]:
    writer.write(iso8583.frame(message))
    await writer.drain()
    header = await asyncio.wait_for(reader.readexactly(2), 5)
    body = await asyncio.wait_for(reader.readexactly(int.from_bytes(header, "big")), 5)
    return iso8583.decode(body, PAYTERM_1987)


def test_sign_on_echo_sign_off_over_tcp() -> None:
    async def scenario() -> None:
        host = AcquirerHost()
        server = await host.start("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        reply = await exchange(reader, writer, iso8583.encode(SIGN_ON, PAYTERM_1987))
        assert reply["t"] == "0810"
        assert reply["39"] == "00"
        assert reply["11"] == "000001" and reply["41"] == "PT000001" and reply["70"] == "001"
        assert "PT000001" in host.network_state.signed_on
        echo = dict(SIGN_ON, **{"11": "000002", "70": "301"})
        assert (await exchange(reader, writer, iso8583.encode(echo, PAYTERM_1987)))["39"] == "00"
        off = dict(SIGN_ON, **{"11": "000003", "70": "002"})
        assert (await exchange(reader, writer, iso8583.encode(off, PAYTERM_1987)))["39"] == "00"
        assert "PT000001" not in host.network_state.signed_on
        assert [e.stan for e in host.journal] == ["000001", "000002", "000003"]
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())


def test_unknown_network_code_and_unserved_mti_are_declined_not_dropped() -> None:
    host = AcquirerHost()
    odd = iso8583.encode(dict(SIGN_ON, **{"70": "999"}), PAYTERM_1987)
    reply = iso8583.decode(host.respond(odd) or b"", PAYTERM_1987)
    assert (reply["t"], reply["39"]) == ("0810", "40")
    auth = iso8583.encode({"t": "0100", "11": "000009", "41": "PT000001"}, PAYTERM_1987)
    reply = iso8583.decode(host.respond(auth) or b"", PAYTERM_1987)
    assert (reply["t"], reply["39"], reply["11"]) == ("0110", "40", "000009")


def test_malformed_fields_get_format_error_and_connection_keeps_serving() -> None:
    async def scenario() -> None:
        host = AcquirerHost()
        server = await host.start("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        good = iso8583.encode(SIGN_ON, PAYTERM_1987)
        truncated = good[:-3]
        reply = await exchange(reader, writer, truncated)
        assert (reply["t"], reply["39"]) == ("0810", "30")
        reply = await exchange(reader, writer, good)
        assert (reply["t"], reply["39"]) == ("0810", "00")
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())


def test_garbage_and_oversized_frames_close_only_their_connection() -> None:
    async def scenario() -> None:
        host = AcquirerHost(max_frame=1024)
        server = await host.start("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        healthy_r, healthy_w = await asyncio.open_connection("127.0.0.1", port)

        garbage_r, garbage_w = await asyncio.open_connection("127.0.0.1", port)
        garbage_w.write(iso8583.frame(b"\xff\xfe not an ISO 8583 message"))
        await garbage_w.drain()
        assert await asyncio.wait_for(garbage_r.read(), 5) == b""  # closed by the host

        big_r, big_w = await asyncio.open_connection("127.0.0.1", port)
        big_w.write((5000).to_bytes(2, "big") + b"\x00" * 100)
        await big_w.drain()
        assert await asyncio.wait_for(big_r.read(), 5) == b""

        reply = await exchange(healthy_r, healthy_w, iso8583.encode(SIGN_ON, PAYTERM_1987))
        assert reply["39"] == "00"
        healthy_w.close()
        garbage_w.close()
        big_w.close()
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())
