"""Small pieces for tests that stand between a terminal and an HTTP
service (relays that drop, cut or alter answers): reading one whole
HTTP/1.1 request off a socket, and a loopback port that refuses
connections."""

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


class RefusingPort:
    """A loopback port held bound but not listening: connections to it are
    refused for as long as this lives, and no other process can take it
    meanwhile (a port merely found free may be reused by a parallel test)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])

    def __enter__(self) -> RefusingPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
