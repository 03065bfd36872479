"""Loopback TCP connections for the sim board's buses (the only socket code).

A peripheral emulator listens; the board connects as a client, the way QEMU
(``-serial tcp:host:port``) and Renode (``CreateServerSocketTerminal``) wire a
UART to a socket.
"""

import errno
import select
import socket
import time

LISTEN_PREFIX = "listen:"


def parse_endpoint(text):
    """'127.0.0.1:7101' -> ('127.0.0.1', 7101).  A 'listen:' prefix (see
    ``is_listen``) is not part of the address."""
    if isinstance(text, str) and text.startswith(LISTEN_PREFIX):
        text = text[len(LISTEN_PREFIX) :]
    if not isinstance(text, str) or ":" not in text:
        raise ValueError("endpoint must be 'host:port', got %r" % (text,))
    host, port = text.rsplit(":", 1)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("endpoint must be 'host:port', got %r" % (text,))
    return host, int(port)


def is_listen(text):
    """True for 'listen:host:port': the board listens and the peer connects
    (a service port that pyserial's socket:// URL reaches directly)."""
    return isinstance(text, str) and text.startswith(LISTEN_PREFIX)


def listen(host, port):
    """A listening socket on host:port for one peer at a time."""
    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    s.listen(1)
    return s


def connect(host, port, timeout_ms=5000, retry_ms=50):
    """Connect to host:port, retrying until ``timeout_ms`` (the emulator may
    still be starting).  Raises OSError(ECONNREFUSED/ETIMEDOUT) at the end."""
    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
    start = time.ticks_ms()
    last = errno.ETIMEDOUT
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.connect(addr)
            try:
                s.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY: no Nagle delay
            except OSError:
                pass
            return s
        except OSError as e:
            s.close()
            last = e.args[0] if e.args else errno.ECONNREFUSED
        if time.ticks_diff(time.ticks_ms(), start) >= timeout_ms:
            raise OSError(last)
        time.sleep_ms(retry_ms)


class Link:
    """A connected stream socket with deadline reads and complete writes."""

    def __init__(self, sock, name="link"):
        self.sock = sock
        self.name = name
        self.eof = False
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)

    def readable(self, timeout_ms):
        """True if a recv will not block (data or EOF) within timeout_ms."""
        if self.sock is None:
            return False
        for _obj, ev in self._poll.poll(max(0, timeout_ms)):
            if ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
                return True
        return False

    def recv_some(self, n):
        """Up to n bytes that are ready now; b'' at EOF (then ``eof`` is set)."""
        data = self.sock.recv(n)
        if not data:
            self.eof = True
        return data

    def send_all(self, buf):
        mv = memoryview(buf)
        sent = 0
        while sent < len(mv):
            n = self.sock.send(mv[sent:])
            if n is None or n <= 0:
                raise OSError(errno.EIO)
            sent += n
        return sent

    def close(self):
        if self.sock is not None:
            try:
                self._poll.unregister(self.sock)
            except (OSError, KeyError, ValueError):
                pass
            self.sock.close()
            self.sock = None


class NetStream:
    """One TCP connection with socket-like reads, for a network peer:
    ``read(n)`` waits up to ``timeout_ms`` for data and returns what is ready
    (at most ``n`` bytes, so the caller bounds its RAM), ``b""`` once the
    peer has closed, ``None`` on timeout. No receive buffer of its own and
    no per-byte wait (unlike ``TcpUart``, which models a UART)."""

    def __init__(self, sock, timeout_ms=10000, name="net"):
        self._link = Link(sock, name)
        self.timeout = timeout_ms
        self.name = name

    def read(self, n):
        link = self._link
        if link is None:
            raise OSError(errno.EBADF)
        if n <= 0:
            return b""
        if link.eof:
            return b""
        if not link.readable(self.timeout):
            return None
        return link.recv_some(n)

    def write(self, buf):
        if self._link is None:
            raise OSError(errno.EBADF)
        return self._link.send_all(buf)

    def deinit(self):
        if self._link is not None:
            self._link.close()
            self._link = None

    close = deinit


class Dialer:
    """Opens a new connection on a ``net`` bus at each call, for
    request/response protocols that close the connection after each
    exchange (HTTP to the TSM): ``Dialer(board, "net1")()`` is a
    ``NetStream`` whose reads wait at most the bus's ``timeout_ms``.
    ``authority`` is the "host:port" connected to (an HTTP Host header).
    The bus's ``connect_timeout_ms`` (default 3000) bounds the wait for a
    peer that is not there."""

    def __init__(self, board, bus_name):
        spec = board.config["buses"].get(bus_name)
        if spec is None or spec.get("kind") != "net":
            raise ValueError("no net bus %r on board %s" % (bus_name, board.name))
        host, port = board.endpoint(bus_name)
        self.host = host
        self.port = port
        self.name = bus_name
        self.spec = spec
        self.authority = "%s:%d" % (host, port)

    def __call__(self):
        spec = self.spec
        sock = connect(self.host, self.port, spec.get("connect_timeout_ms", 3000))
        return NetStream(sock, spec.get("timeout_ms", 10000), self.name)
