# A signer for MicroPython runs driven by a CPython test: the digest goes out
# on stdout ("SIGN <hex>"), the host signs it with a real ECDSA P-256 key and
# answers on stdin ("<signature hex> <counter>", or "ERR <why>").
import binascii
import sys


class PipeSigner:
    def __init__(self):
        self.calls = 0

    def sign(self, digest):
        self.calls += 1
        print("SIGN " + binascii.hexlify(digest).decode())
        line = sys.stdin.readline().strip()
        if not line or line.startswith("ERR"):
            raise OSError(5)
        sig, counter = line.split()
        return binascii.unhexlify(sig), int(counter)
