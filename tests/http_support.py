"""Small pieces for tests that stand between a terminal and an HTTP
service (relays that drop, cut or alter answers): reading one whole
HTTP/1.1 request off a socket, and a loopback port that refuses
connections."""

from __future__ import annotations

import socket
import threading


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


class HttpRelay:
    """A man in the middle on loopback between a terminal and an HTTP
    service: one connection a request (the terminal's HTTP client closes
    each). ``_one(conn)`` serves a connection; this one passes the answer
    through. Subclasses drop, cut or alter it. ``seen``: the requests."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.seen: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self._one(conn)

    def forward(self, conn: socket.socket) -> bytes:
        """The terminal's request sent upstream; the whole answer."""
        request = read_http_request(conn)
        self.seen.append(request)
        with socket.create_connection(("127.0.0.1", self.upstream)) as up:
            up.sendall(request)
            answer = b""
            while chunk := up.recv(65536):
                answer += chunk
        return answer

    def _one(self, conn: socket.socket) -> None:
        conn.sendall(self.forward(conn))

    def close(self) -> None:
        self.sock.close()
