"""AES DUKPT (ANSI X9.24-3-2017), written in the MicroPython subset.

One implementation for both ends:
- the host (HSM) side derives the initial key from the BDK and any working
  key for a KSN (``initial_key``, ``intermediate_key``, ``working_key``);
- the transaction-originating side (the terminal) keeps the register of
  intermediate derivation keys and never holds the initial key after loading
  (``Originator``).

KSN: 12 bytes = initial key ID (8 bytes: BDK ID 4 + derivation ID 4) +
transaction counter (4 bytes, big-endian).  A terminal only uses counters
with at most 16 one-bits (MAX_WORK); counter 0 is never used.

The AES block cipher is injected as a factory ``new_cipher(key)`` returning
an object with ``encrypt_block(bytes16) -> bytes16``.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Key types (X9.24-3 "key type" / derivation-data algorithm indicator) as
# (name, indicator, length in bytes).  Data, not code.
KEY_2TDEA = 0
KEY_3TDEA = 1
KEY_AES128 = 2
KEY_AES192 = 3
KEY_AES256 = 4
KEY_TYPES = (
    ("2TDEA", KEY_2TDEA, 16),
    ("3TDEA", KEY_3TDEA, 24),
    ("AES128", KEY_AES128, 16),
    ("AES192", KEY_AES192, 24),
    ("AES256", KEY_AES256, 32),
)

# Key usage indicators (X9.24-3-2017 table "Key Usage").
USAGE_KEY_ENCRYPTION = 0x0002
USAGE_PIN_ENCRYPTION = 0x1000
USAGE_MAC_GENERATION = 0x2000
USAGE_MAC_VERIFICATION = 0x2001
USAGE_MAC_BOTH = 0x2002
USAGE_DATA_ENCRYPT = 0x3000
USAGE_DATA_DECRYPT = 0x3001
USAGE_DATA_BOTH = 0x3002
USAGE_KEY_DERIVATION = 0x8000
USAGE_KEY_DERIVATION_INITIAL = 0x8001
USAGES = (
    ("key_encryption", USAGE_KEY_ENCRYPTION),
    ("pin_encryption", USAGE_PIN_ENCRYPTION),
    ("mac_generation", USAGE_MAC_GENERATION),
    ("mac_verification", USAGE_MAC_VERIFICATION),
    ("mac_both", USAGE_MAC_BOTH),
    ("data_encrypt", USAGE_DATA_ENCRYPT),
    ("data_decrypt", USAGE_DATA_DECRYPT),
    ("data_both", USAGE_DATA_BOTH),
    ("key_derivation", USAGE_KEY_DERIVATION),
)

NUM_REGISTERS = 32
MAX_WORK = 16
MAX_COUNTER = 0xFFFFFFFF
IKID_LEN = 8
KSN_LEN = 12


class DukptError(ValueError):
    """Bad DUKPT input (key length, KSN, counter) or an exhausted device."""


def key_length(key_type: int) -> int:
    for _name, kt, length in KEY_TYPES:
        if kt == key_type:
            return length
    raise DukptError("unknown key type %r" % (key_type,))


def key_type_for(key: bytes) -> int:
    """AES key type of a BDK, initial key or derivation key, by its length."""
    n = len(key)
    if n == 16:
        return KEY_AES128
    if n == 24:
        return KEY_AES192
    if n == 32:
        return KEY_AES256
    raise DukptError("AES DUKPT key must be 16, 24 or 32 bytes, not %d" % n)


def count_bits(n: int) -> int:
    c = 0
    while n:
        n &= n - 1
        c += 1
    return c


def split_ksn(ksn: bytes) -> "tuple[bytes, int]":
    if len(ksn) != KSN_LEN:
        raise DukptError("AES DUKPT KSN must be 12 bytes, not %d" % len(ksn))
    return bytes(ksn[:IKID_LEN]), int.from_bytes(ksn[IKID_LEN:], "big")


def make_ksn(initial_key_id: bytes, counter: int) -> bytes:
    _check_ikid(initial_key_id)
    if counter < 0 or counter > MAX_COUNTER:
        raise DukptError("transaction counter out of range")
    return bytes(initial_key_id) + counter.to_bytes(4, "big")


def ksn_is_valid(ksn: bytes) -> bool:
    """A KSN a terminal may send: counter non-zero with at most 16 one-bits."""
    _ikid, counter = split_ksn(ksn)
    return counter != 0 and count_bits(counter) <= MAX_WORK


def _check_ikid(initial_key_id: bytes) -> None:
    if len(initial_key_id) != IKID_LEN:
        raise DukptError("initial key ID must be 8 bytes, not %d" % len(initial_key_id))


def derivation_data(usage: int, key_type: int, initial_key_id: bytes, counter: int) -> bytearray:
    """The 16-byte derivation data block (X9.24-3-2017 section 6.3.2)."""
    _check_ikid(initial_key_id)
    bits = key_length(key_type) * 8
    d = bytearray(16)
    d[0] = 0x01  # version
    d[1] = 0x01  # key block counter, set per block by derive_key
    d[2] = (usage >> 8) & 0xFF
    d[3] = usage & 0xFF
    d[4] = (key_type >> 8) & 0xFF
    d[5] = key_type & 0xFF
    d[6] = (bits >> 8) & 0xFF
    d[7] = bits & 0xFF
    if usage == USAGE_KEY_DERIVATION_INITIAL:
        d[8:16] = initial_key_id
    else:
        d[8:12] = initial_key_id[4:8]
        d[12:16] = counter.to_bytes(4, "big")
    return d


def derive_key(new_cipher: "Any", derivation_key: bytes, key_type: int, data: bytearray) -> bytes:
    """Counter-mode KDF: AES-ECB of the derivation data, one block per 128 bits."""
    length = key_length(key_type)
    if length > len(derivation_key):
        raise DukptError(
            "a %d-byte key cannot derive a %d-byte key" % (len(derivation_key), length)
        )
    cipher = new_cipher(derivation_key)
    out = b""
    block = bytearray(data)
    i = 1
    while len(out) < length:
        block[1] = i
        out += cipher.encrypt_block(bytes(block))
        i += 1
    return out[:length]


def initial_key(new_cipher: "Any", bdk: bytes, initial_key_id: bytes) -> bytes:
    """Initial DUKPT key loaded into a terminal (same type as the BDK)."""
    kt = key_type_for(bdk)
    data = derivation_data(USAGE_KEY_DERIVATION_INITIAL, kt, initial_key_id, 0)
    return derive_key(new_cipher, bdk, kt, data)


def intermediate_key(new_cipher: "Any", ik: bytes, initial_key_id: bytes, counter: int) -> bytes:
    """Intermediate derivation key for a counter: one step per one-bit, high to low."""
    if counter <= 0 or counter > MAX_COUNTER:
        raise DukptError("transaction counter must be 1..FFFFFFFF")
    kt = key_type_for(ik)
    key = ik
    partial = 0
    mask = 0x80000000
    while mask:
        if counter & mask:
            partial |= mask
            data = derivation_data(USAGE_KEY_DERIVATION, kt, initial_key_id, partial)
            key = derive_key(new_cipher, key, kt, data)
        mask >>= 1
    return key


def working_key_from(
    new_cipher: "Any",
    derivation_key: bytes,
    initial_key_id: bytes,
    counter: int,
    usage: int,
    key_type: int,
) -> bytes:
    """Working key of a usage and type from the counter's derivation key."""
    if usage == USAGE_KEY_DERIVATION_INITIAL:
        raise DukptError("usage 8001 derives initial keys, not working keys")
    data = derivation_data(usage, key_type, initial_key_id, counter)
    return derive_key(new_cipher, derivation_key, key_type, data)


def working_key(
    new_cipher: "Any", ik: bytes, ksn: bytes, usage: int, key_type: "int | None" = None
) -> bytes:
    """Host side: working key for a KSN from the initial key.

    ``key_type`` defaults to the initial key's type (AES-128 working keys from
    an AES-128 initial key, AES-256 from AES-256)."""
    ikid, counter = split_ksn(ksn)
    kt = key_type_for(ik) if key_type is None else key_type
    idk = intermediate_key(new_cipher, ik, ikid, counter)
    return working_key_from(new_cipher, idk, ikid, counter, usage, kt)


def _lowest_bit(counter: int) -> int:
    index = 0
    while not (counter >> index) & 1:
        index += 1
    return index


class Originator:
    """Transaction-originating side: the terminal's DUKPT state.

    Use: ``o = Originator(new_cipher, ik, ikid)`` when the initial key is
    loaded (the initial key itself is not kept); ``o.to_state()`` and
    ``Originator.from_state(new_cipher, state)`` carry it across restarts.  Per transaction:
    ``ksn = o.ksn()``; ``o.working_key(usage)`` as many times as the
    transaction needs (PIN, MAC, data keys all belong to this KSN); then
    ``o.advance()``.  ``DukptError`` when the counter space is exhausted.
    ``max_work`` (16 in X9.24-3) is the most one-bits a counter may have;
    tests lower it to walk the whole counter space.
    """

    def __init__(
        self,
        new_cipher: "Any",
        ik: bytes,
        initial_key_id: bytes,
        max_work: int = MAX_WORK,
        state: "bytes | None" = None,
    ) -> None:
        self._new = new_cipher
        self._regs: "list[bytes | None]" = [None] * NUM_REGISTERS
        if state is not None:
            self._restore(state)
            return
        _check_ikid(initial_key_id)
        if max_work < 1 or max_work > NUM_REGISTERS:
            raise DukptError("max_work must be 1..32")
        self._max_work = max_work
        self._ikid = bytes(initial_key_id)
        self._type = key_type_for(ik)
        self.counter = 0
        self._fill_below(ik, 0, NUM_REGISTERS)
        self.counter = 1
        self._settle()

    def _fill_below(self, base: bytes, counter: int, top: int) -> None:
        # Registers top-1 .. 0 get the keys for counter | 1 << i, from base.
        i = top - 1
        while i >= 0:
            data = derivation_data(USAGE_KEY_DERIVATION, self._type, self._ikid, counter | (1 << i))
            self._regs[i] = derive_key(self._new, base, self._type, data)
            i -= 1

    def _settle(self) -> None:
        # Move to the first usable counter (the spec's shift-register loop).
        while True:
            if self.counter == 0 or self.counter > MAX_COUNTER:
                raise DukptError("DUKPT counter exhausted; load a new initial key")
            low = _lowest_bit(self.counter)
            if self._regs[low] is not None and count_bits(self.counter) <= self._max_work:
                return
            self.counter += 1 << low

    def ksn(self) -> bytes:
        return make_ksn(self._ikid, self.counter)

    def registers_in_use(self) -> int:
        return sum(1 for r in self._regs if r is not None)

    def _current(self) -> bytes:
        key = self._regs[_lowest_bit(self.counter)]
        if key is None:
            raise DukptError("no derivation key for the current counter")
        return key

    def working_key(self, usage: int, key_type: "int | None" = None) -> bytes:
        kt = self._type if key_type is None else key_type
        return working_key_from(self._new, self._current(), self._ikid, self.counter, usage, kt)

    def to_state(self) -> bytes:
        """The terminal's DUKPT state as bytes, for secure storage across
        power cycles (it holds derivation keys: store it like a key).

        Layout: version 01, key type, max_work, initial key ID (8), counter
        (4), register bitmap (4, bit i = register i), then the registers in
        use in ascending order."""
        bitmap = 0
        keys = b""
        for i in range(NUM_REGISTERS):
            key = self._regs[i]
            if key is not None:
                bitmap |= 1 << i
                keys += key
        head = bytes([1, self._type, self._max_work]) + self._ikid
        return head + self.counter.to_bytes(4, "big") + bitmap.to_bytes(4, "big") + keys

    @classmethod
    def from_state(cls, new_cipher: "Any", state: bytes) -> "Originator":
        """Rebuild an Originator saved by ``to_state``."""
        return cls(new_cipher, b"", b"", MAX_WORK, state)

    def _restore(self, state: bytes) -> None:
        if len(state) < 19 or state[0] != 1:
            raise DukptError("not a DUKPT state (version 01)")
        kt = state[1]
        length = key_length(kt)
        max_work = state[2]
        counter = int.from_bytes(state[11:15], "big")
        bitmap = int.from_bytes(state[15:19], "big")
        if len(state) != 19 + count_bits(bitmap) * length:
            raise DukptError("DUKPT state length does not match its register bitmap")
        if max_work < 1 or max_work > NUM_REGISTERS or counter == 0:
            raise DukptError("DUKPT state holds an invalid counter or max_work")
        self._ikid = bytes(state[3:11])
        self._type = kt
        self._max_work = max_work
        pos = 19
        for i in range(NUM_REGISTERS):
            if bitmap & (1 << i):
                self._regs[i] = bytes(state[pos : pos + length])
                pos += length
        self.counter = counter
        self._settle()

    def advance(self) -> bytes:
        """Finish the current transaction; return the next KSN."""
        low = _lowest_bit(self.counter)
        base = self._current()
        if count_bits(self.counter) < self._max_work:
            self._fill_below(base, self.counter, low)
            self._regs[low] = None
            self.counter += 1
        else:
            # No room for another one-bit: skip the counters below this one.
            self._regs[low] = None
            self.counter += 1 << low
        self._settle()
        return self.ksn()
