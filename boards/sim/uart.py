"""A machine.UART-like bus over a loopback TCP connection.

The bytes on the socket are exactly the bytes on the wire: no framing, no
hello, so any emulator that speaks the peripheral's serial protocol on a TCP
port serves (the same emulator serves QEMU and Renode targets).

Timeout semantics follow machine.UART: ``read(n)`` waits up to ``timeout`` ms
for the first byte, then up to ``timeout_char`` ms for each further byte, and
returns what arrived (``None`` if nothing did).  ``read()`` without ``n``
returns what is available after the same waits.  Baud rate and framing are
recorded (drivers may change them) but do not slow the link down.

If the emulator closes the connection, reads return whatever was buffered
and then raise ``OSError(ECONNRESET)``: a dead link is an error, not a silent
line, so a test that loses its emulator fails instead of timing out.

``ListeningUart`` is the other way round, for the service port: the board
listens and a technician's tool connects (pyserial ``socket://host:port``,
or socat for a pty).  One peer at a time; a new connection replaces the old
one, like re-plugging a cable.  With no peer, writes go nowhere and reads
time out, as on a UART with nothing attached; a peer leaving is not an error.
"""

import errno
import select
import time

from boards.sim.net import Link, connect, listen


class TcpUart:
    def __init__(
        self,
        host,
        port,
        uart_id=0,
        baudrate=115200,
        bits=8,
        parity=None,
        stop=1,
        timeout=0,
        timeout_char=2,
        rxbuf=1024,
        connect_timeout_ms=5000,
        name=None,
    ):
        self.id = uart_id
        self.name = name or "uart%d" % uart_id
        self.host = host
        self.port = port
        self._rx = bytearray()
        self._rxbuf = rxbuf
        self.init(baudrate, bits, parity, stop, timeout=timeout, timeout_char=timeout_char)
        self._link = Link(connect(host, port, connect_timeout_ms), self.name)

    def init(
        self, baudrate=None, bits=None, parity=None, stop=None, timeout=None, timeout_char=None
    ):
        # Unlike machine.UART.init, unspecified settings keep their value.
        if baudrate is not None:
            self.baudrate = baudrate
        if bits is not None:
            self.bits = bits
        if parity is not None or not hasattr(self, "parity"):
            self.parity = parity
        if stop is not None:
            self.stop = stop
        if timeout is not None:
            self.timeout = timeout
        if timeout_char is not None:
            self.timeout_char = timeout_char

    def __repr__(self):
        return "<TcpUart %s %s:%d baudrate=%d>" % (self.name, self.host, self.port, self.baudrate)

    # -- reception -------------------------------------------------------
    def _pull(self, wait_ms):
        """Move ready bytes into the receive buffer, waiting up to wait_ms for
        them.  True if any byte arrived."""
        link = self._link
        if link is None:
            raise OSError(errno.EBADF)
        if link.eof:
            return False
        if not link.readable(wait_ms):
            return False
        data = link.recv_some(max(256, self._rxbuf))
        if not data:
            return False
        self._rx.extend(data)
        return True

    def _dead(self):
        return self._link is not None and self._link.eof and not self._rx

    def any(self):
        """Number of bytes that can be read without waiting."""
        while self._pull(0):
            pass
        return len(self._rx)

    def _fill(self, n):
        """Wait per the timeouts until ``n`` bytes are buffered (n=None: take
        whatever comes before the line goes quiet, at most ``rxbuf`` bytes, so
        a peer that never stops talking cannot hold read() forever)."""
        want = self._rxbuf if n is None else n
        if not self._rx:
            self._pull(self.timeout)
        while self._rx and len(self._rx) < want:
            if not self._pull(self.timeout_char):
                break
        if self._dead():
            raise OSError(errno.ECONNRESET)

    def _take(self, n):
        if n is None or n >= len(self._rx):
            data = bytes(self._rx)
            self._rx = bytearray()
        else:
            data = bytes(self._rx[:n])
            self._rx = self._rx[n:]
        return data

    def read(self, nbytes=None):
        if nbytes is not None and nbytes <= 0:
            return b""
        self._fill(nbytes)
        if not self._rx:
            return None
        return self._take(self._rxbuf if nbytes is None else nbytes)

    def readinto(self, buf, nbytes=None):
        want = len(buf) if nbytes is None else min(nbytes, len(buf))
        if want <= 0:
            return 0
        data = self.read(want)
        if data is None:
            return None
        buf[: len(data)] = data
        return len(data)

    def readline(self):
        """Bytes up to and including b'\\n', or what arrived before the timeouts."""
        start = time.ticks_ms()
        while True:
            i = self._rx.find(b"\n")
            if i >= 0:
                return self._take(i + 1)
            limit = self.timeout if not self._rx else self.timeout_char
            if not self._pull(limit):
                break
            if time.ticks_diff(time.ticks_ms(), start) > 60000:
                break
        if self._dead():
            raise OSError(errno.ECONNRESET)
        return self._take(None) if self._rx else None

    # -- transmission ----------------------------------------------------
    def write(self, buf):
        if self._link is None:
            raise OSError(errno.EBADF)
        return self._link.send_all(buf)

    def flush(self):
        # Bytes handed to the kernel are on the wire as far as a UART can tell.
        return None

    def txdone(self):
        return True

    def sendbreak(self):
        # A break has no TCP equivalent; emulators that care see nothing.
        return None

    def deinit(self):
        if self._link is not None:
            self._link.close()
            self._link = None
        self._rx = bytearray()


class ListeningUart(TcpUart):
    def __init__(
        self,
        host,
        port,
        uart_id=0,
        baudrate=115200,
        bits=8,
        parity=None,
        stop=1,
        timeout=0,
        timeout_char=2,
        rxbuf=1024,
        name=None,
    ):
        self.id = uart_id
        self.name = name or "uart%d" % uart_id
        self.host = host
        self.port = port
        self._rx = bytearray()
        self._rxbuf = rxbuf
        self.init(baudrate, bits, parity, stop, timeout=timeout, timeout_char=timeout_char)
        self._server = listen(host, port)
        self._spoll = select.poll()
        self._spoll.register(self._server, select.POLLIN)
        self._link = None
        self.peers = 0

    def __repr__(self):
        return "<ListeningUart %s %s:%d baudrate=%d>" % (
            self.name,
            self.host,
            self.port,
            self.baudrate,
        )

    def _accept(self, wait_ms):
        """Take a waiting peer (replacing the current one).  True if taken."""
        if self._server is None:
            raise OSError(errno.EBADF)
        if not self._spoll.poll(max(0, wait_ms)):
            return False
        sock, _addr = self._server.accept()
        if self._link is not None:
            self._link.close()
        self._link = Link(sock, self.name)
        self._rx = bytearray()
        self.peers += 1
        try:
            sock.setsockopt(6, 1, 1)  # TCP_NODELAY
        except OSError:
            pass
        return True

    def connected(self):
        self._accept(0)
        return self._link is not None and not self._link.eof

    def _pull(self, wait_ms):
        start = time.ticks_ms()
        self._accept(0)
        if self._link is None or self._link.eof:
            if self._link is not None:
                self._link.close()
                self._link = None
            if not self._accept(wait_ms):
                return False
            wait_ms = max(0, wait_ms - time.ticks_diff(time.ticks_ms(), start))
        if not self._link.readable(wait_ms):
            return False
        data = self._link.recv_some(max(256, self._rxbuf))
        if not data:
            return False
        self._rx.extend(data)
        return True

    def _dead(self):
        return False

    def write(self, buf):
        if self._server is None:
            raise OSError(errno.EBADF)
        self._accept(0)
        if self._link is None or self._link.eof:
            return len(buf)  # nothing attached: the bytes leave the pin and vanish
        try:
            return self._link.send_all(buf)
        except OSError:
            self._link.close()
            self._link = None
            return len(buf)

    def deinit(self):
        if self._link is not None:
            self._link.close()
            self._link = None
        if self._server is not None:
            self._spoll.unregister(self._server)
            self._server.close()
            self._server = None
        self._rx = bytearray()
