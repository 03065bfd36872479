"""A machine.I2C-like bus over a loopback TCP connection (for the secure element).

I2C is a transaction bus, so unlike a UART it needs framing.  Each bus
operation is one request and one response, all integers big-endian:

    request : op u8 | addr u8 | flags u8 | length u16 | payload
    response: status u8 | length u16 | payload

    op 'W' (0x57)  write ``length`` payload bytes to ``addr``;
                   flags bit 0 = generate STOP at the end;
                   response payload empty, length = number of bytes ACKed
    op 'R' (0x52)  read ``length`` bytes from ``addr`` (no request payload);
                   flags bit 0 = STOP; response payload = the bytes read
    op 'S' (0x53)  scan; addr 0, length 0; response payload = one byte per
                   address that ACKed
    status 0 = ACK/ok, 1 = address NACK (no device), 2 = bus error

Errors surface the way machine.I2C reports them: ``OSError(ENODEV)`` on an
address NACK, ``OSError(EIO)`` on a bus error, ``OSError(ETIMEDOUT)`` when
the peer does not answer within ``timeout_ms``.
"""

import errno
import time

from boards.sim.net import Link, connect

OP_WRITE = 0x57
OP_READ = 0x52
OP_SCAN = 0x53
STATUS_OK = 0
STATUS_NACK = 1
STATUS_BUS_ERROR = 2
MAX_TRANSFER = 0xFFFF


class TcpI2C:
    def __init__(self, host, port, bus_id=0, freq=400000, timeout_ms=1000, connect_timeout_ms=5000):
        self.id = bus_id
        self.freq = freq
        self.timeout_ms = timeout_ms
        self.host = host
        self.port = port
        self._link = Link(connect(host, port, connect_timeout_ms), "i2c%d" % bus_id)
        self._rx = bytearray()

    def __repr__(self):
        return "<TcpI2C %d %s:%d freq=%d>" % (self.id, self.host, self.port, self.freq)

    def _recv_exact(self, n, deadline):
        while len(self._rx) < n:
            left = time.ticks_diff(deadline, time.ticks_ms())
            if left <= 0 or not self._link.readable(left):
                raise OSError(errno.ETIMEDOUT)
            data = self._link.recv_some(4096)
            if not data:
                raise OSError(errno.ECONNRESET)
            self._rx.extend(data)
        out = bytes(self._rx[:n])
        self._rx = self._rx[n:]
        return out

    def _transact(self, op, addr, flags, payload, length):
        if self._link is None:
            raise OSError(errno.EBADF)
        if not 0 <= addr <= 0x7F or length > MAX_TRANSFER:
            raise ValueError("bad I2C address or length")
        head = bytes([op, addr, flags, length >> 8, length & 0xFF])
        self._link.send_all(head + bytes(payload) if payload else head)
        deadline = time.ticks_add(time.ticks_ms(), self.timeout_ms)
        resp = self._recv_exact(3, deadline)
        status = resp[0]
        n = (resp[1] << 8) | resp[2]
        body = self._recv_exact(n, deadline) if op != OP_WRITE else b""
        if status == STATUS_NACK:
            raise OSError(errno.ENODEV)
        if status != STATUS_OK:
            raise OSError(errno.EIO)
        return n, body

    def writeto(self, addr, buf, stop=True):
        n, _ = self._transact(OP_WRITE, addr, 1 if stop else 0, buf, len(buf))
        return n

    def readfrom(self, addr, nbytes, stop=True):
        _, body = self._transact(OP_READ, addr, 1 if stop else 0, b"", nbytes)
        if len(body) != nbytes:
            raise OSError(errno.EIO)
        return body

    def readfrom_into(self, addr, buf, stop=True):
        data = self.readfrom(addr, len(buf), stop)
        buf[:] = data

    def writevto(self, addr, vector, stop=True):
        data = bytearray()
        for part in vector:
            data.extend(part)
        return self.writeto(addr, data, stop)

    def _mem_addr(self, memaddr, addrsize):
        nbytes = addrsize // 8
        return bytes([(memaddr >> (8 * (nbytes - 1 - i))) & 0xFF for i in range(nbytes)])

    def readfrom_mem(self, addr, memaddr, nbytes, addrsize=8):
        self.writeto(addr, self._mem_addr(memaddr, addrsize), False)
        return self.readfrom(addr, nbytes)

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        buf[:] = self.readfrom_mem(addr, memaddr, len(buf), addrsize)

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        self.writeto(addr, self._mem_addr(memaddr, addrsize) + bytes(buf))

    def scan(self):
        _, body = self._transact(OP_SCAN, 0, 0, b"", 0)
        return sorted(body)

    def deinit(self):
        if self._link is not None:
            self._link.close()
            self._link = None
