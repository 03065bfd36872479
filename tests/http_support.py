"""Small pieces for tests that stand between a terminal and an HTTP
service (relays that drop, cut or alter answers): reading one whole
HTTP/1.1 request off a socket, and a loopback port nobody listens on."""

from __future__ import annotations

import socket


def read_http_request(conn: socket.socket) -> bytes:
    """The head and the Content-Length body of one request (b"" or a part
    when the peer closes first)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def free_port() -> int:
    """A loopback port that was free a moment ago (closed again)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
