"""Cardholder verification, EMV 4.3 Book 3 §10.5 and Annex C3: the CVM List
(8E) with amounts X and Y, conditions, methods; CVM Results (9F34).

The PIN never stays in the kernel: the PIN entry callback returns the digits
in a bytearray, the plaintext PIN block is built into the VERIFY command's
own bytearray, and both are overwritten with zeros once the card answered.
Offline enciphered PIN (Book 2 §7) enciphers that buffer under the ICC (PIN
encipherment) public key after GET CHALLENGE.  Online enciphered PIN is a
request to the application, which captures and
encrypts the PIN itself (DUKPT); the kernel only records the outcome."""

from protocols import apdu, tlv
from protocols.errors import DecodeError

FAIL = 0x00
PLAINTEXT_PIN = 0x01
ONLINE_PIN = 0x02
PLAINTEXT_PIN_SIGNATURE = 0x03
ENCIPHERED_PIN = 0x04
ENCIPHERED_PIN_SIGNATURE = 0x05
SIGNATURE = 0x1E
NO_CVM = 0x1F
NO_CVM_PERFORMED = 0x3F
CONTINUE_IF_FAILED = 0x40

RESULT_UNKNOWN = 0x00
RESULT_FAILED = 0x01
RESULT_SUCCESSFUL = 0x02

# Terminal Capabilities (9F33) byte 2 bits each method needs (Book 4 A2).
SUPPORT = {
    FAIL: 0x00,
    PLAINTEXT_PIN: 0x80,
    ONLINE_PIN: 0x40,
    PLAINTEXT_PIN_SIGNATURE: 0xA0,
    ENCIPHERED_PIN: 0x10,
    ENCIPHERED_PIN_SIGNATURE: 0x30,
    SIGNATURE: 0x20,
    NO_CVM: 0x08,
}

PERFORMED = (
    FAIL,
    PLAINTEXT_PIN,
    ONLINE_PIN,
    PLAINTEXT_PIN_SIGNATURE,
    ENCIPHERED_PIN,
    ENCIPHERED_PIN_SIGNATURE,
    SIGNATURE,
    NO_CVM,
)

CASH = 0x01
CASHBACK = 0x09


class CvmOutcome:
    def __init__(self) -> None:
        self.results = bytes((NO_CVM_PERFORMED, 0x00, RESULT_UNKNOWN))
        self.signature = False
        self.online_pin = False
        self.offline_pin = False
        self.performed = False  # TSI "cardholder verification was performed"


def terminal_supports(caps: bytes, method: int) -> bool:
    if method not in PERFORMED:
        return False
    need = SUPPORT[method]
    return caps[1] & need == need


def condition_met(condition: int, method: int, ctx: "dict[str, object]") -> "bool | None":
    """Book 3 Annex C3 Table 40; None for a condition code it does not know."""
    kind = ctx["terminal_type"] & 0x0F  # type: ignore[operator]
    unattended = kind in (4, 5, 6)
    cash = ctx["transaction_type"] == CASH
    cashback = ctx["transaction_type"] == CASHBACK
    if condition == 0x00:
        return True
    if condition == 0x01:
        return unattended and cash
    if condition == 0x02:
        return not cash and not cashback
    if condition == 0x03:
        return terminal_supports(ctx["caps"], method)  # type: ignore[arg-type]
    if condition == 0x04:
        return not unattended and cash
    if condition == 0x05:
        return cashback
    if 0x06 <= condition <= 0x09:
        if not ctx["same_currency"]:
            return False
        amount = ctx["amount"]
        limit = ctx["x"] if condition <= 0x07 else ctx["y"]
        if condition in (0x06, 0x08):
            return amount < limit  # type: ignore[operator]
        return amount > limit  # type: ignore[operator]
    return None


def rules(cvm_list: bytes) -> "tuple[int, int, list[tuple[int, int]]]":
    """Amount X, amount Y and the (CVM code, condition) rules."""
    x = int.from_bytes(cvm_list[0:4], "big")
    y = int.from_bytes(cvm_list[4:8], "big")
    pairs = []
    for pos in range(8, len(cvm_list) - 1, 2):
        pairs.append((cvm_list[pos], cvm_list[pos + 1]))
    return x, y, pairs


def pin_block_command(digits: bytearray) -> bytearray:
    """VERIFY (P2 80) with the plaintext PIN block, in a buffer to wipe."""
    count = len(digits)
    command = bytearray(13)
    command[0:5] = b"\x00\x20\x00\x80\x08"
    for i in range(8):
        command[5 + i] = 0xFF
    command[5] = 0x20 | count
    for i in range(count):
        nibble = digits[i] - 0x30
        pos = 6 + i // 2
        if i % 2 == 0:
            command[pos] = (nibble << 4) | 0x0F
        else:
            command[pos] = (command[pos] & 0xF0) | nibble
    return command


def _wipe(buffer: bytearray) -> None:
    for i in range(len(buffer)):
        buffer[i] = 0


def _valid_pin(digits: "object") -> bool:
    if not isinstance(digits, bytearray) or not 4 <= len(digits) <= 12:
        return False
    return all(0x30 <= b <= 0x39 for b in digits)


def _pin_try_counter(link: "object") -> "int | None":
    reply = link.send(apdu.get_data(0x9F17))  # type: ignore[attr-defined]
    if reply.sw != 0x9000:
        return None
    try:
        node = tlv.find(tlv.decode(reply.data), 0x9F17)
    except DecodeError:
        return None
    if node is None or len(node.value) != 1:
        return None
    return node.value[0]


def encipher_pin(
    link: "object", key: "object", random: "object", command: bytearray
) -> "bytearray | None":
    """Book 2 §7.2: GET CHALLENGE, then the VERIFY (P2 88) command with
    RSA(7F ‖ PIN block ‖ challenge ‖ random pad) under ``key``.  The
    plaintext command buffer is wiped by the caller; the message buffer
    here is wiped before returning (the Python int of the message cannot be,
    and is dropped at once)."""
    reply = link.send(apdu.get_challenge())  # type: ignore[attr-defined]
    if reply.sw != 0x9000 or len(reply.data) != 8:
        return None
    size = key.length  # type: ignore[attr-defined]
    if not 17 <= size <= 255:
        return None
    message = bytearray(size)
    message[0] = 0x7F
    message[1:9] = command[5:13]
    message[9:17] = reply.data
    message[17:] = random(size - 17)  # type: ignore[operator]
    value = int.from_bytes(message, "big")
    _wipe(message)
    if value >= key.n:  # type: ignore[attr-defined]
        value = 0
        return None
    cipher = pow(value, key.e, key.n).to_bytes(size, "big")  # type: ignore[attr-defined]
    value = 0
    out = bytearray(5 + size)
    out[0:5] = bytes((0x00, 0x20, 0x00, 0x88, size))
    out[5:] = cipher
    return out


def offline_pin(
    link: "object",
    tvr: "object",
    ui: "object",
    pin_pad: bool,
    encipher: "object" = None,
) -> bool:
    """Book 3 §10.5.1: True when the card accepted the PIN.

    ``encipher(plaintext_command) -> command | None`` turns the plaintext
    VERIFY into the enciphered one (offline enciphered PIN); None fails the
    CVM (no key, no challenge)."""
    tries = _pin_try_counter(link)
    if tries == 0:
        tvr.set("pin_try_limit_exceeded")  # type: ignore[attr-defined]
        return False
    if not pin_pad or ui is None:
        tvr.set("pin_pad_missing")  # type: ignore[attr-defined]
        return False
    while True:
        digits = ui.offline_pin(tries)  # type: ignore[attr-defined]
        if digits is None:
            tvr.set("pin_not_entered")  # type: ignore[attr-defined]
            return False
        if not _valid_pin(digits):
            if isinstance(digits, bytearray):
                _wipe(digits)
            tvr.set("pin_not_entered")  # type: ignore[attr-defined]
            return False
        command = pin_block_command(digits)
        _wipe(digits)
        try:
            if encipher is not None:
                plain = command
                command = encipher(plain)  # type: ignore[operator]
                _wipe(plain)
                if command is None:
                    return False
            reply = link.send(command)  # type: ignore[attr-defined]
        finally:
            if command is not None:
                _wipe(command)
        if reply.sw == 0x9000:
            return True
        if reply.sw1 == 0x63 and reply.sw2 & 0xF0 == 0xC0:
            tries = reply.sw2 & 0x0F
            if tries == 0:
                tvr.set("pin_try_limit_exceeded")  # type: ignore[attr-defined]
                return False
            continue
        if reply.sw in (0x6983, 0x6984):
            tvr.set("pin_try_limit_exceeded")  # type: ignore[attr-defined]
        return False


def process(
    link: "object", store: "object", tvr: "object", ui: "object", ctx: "dict[str, object]"
) -> CvmOutcome:
    out = CvmOutcome()
    values = store.values  # type: ignore[attr-defined]
    aip = values.get(0x82, b"\x00\x00")
    if not aip[0] & 0x10:  # AIP: cardholder verification not supported
        return out
    cvm_list = values.get(0x8E)
    if cvm_list is None or len(cvm_list) < 10:
        tvr.set("icc_data_missing")  # type: ignore[attr-defined]
        return out
    x, y, pairs = rules(cvm_list)
    ctx["x"] = x
    ctx["y"] = y
    app_currency = values.get(0x9F42)
    ctx["same_currency"] = app_currency is not None and app_currency == values.get(0x5F2A)
    out.performed = True
    last = None
    for code, condition in pairs:
        method = code & 0x3F
        met = condition_met(condition, method, ctx)
        if not met:
            continue
        last = (code, condition)
        result = _perform(method, link, tvr, ui, ctx, out)
        if result != RESULT_FAILED:
            out.results = bytes((code & 0x7F, condition, result))
            return out
        if not code & CONTINUE_IF_FAILED:
            break
    tvr.set("cvm_not_successful")  # type: ignore[attr-defined]
    if last is None:
        out.results = bytes((NO_CVM_PERFORMED, 0x00, RESULT_FAILED))
    else:
        out.results = bytes((last[0] & 0x7F, last[1], RESULT_FAILED))
    return out


def _perform(
    method: int,
    link: "object",
    tvr: "object",
    ui: "object",
    ctx: "dict[str, object]",
    out: CvmOutcome,
) -> int:
    if method not in SUPPORT:
        tvr.set("unrecognised_cvm")  # type: ignore[attr-defined]
        return RESULT_FAILED
    if method == FAIL:
        return RESULT_FAILED
    if not terminal_supports(ctx["caps"], method):  # type: ignore[arg-type]
        return RESULT_FAILED
    pin_pad = bool(ctx["pin_pad"])
    if method in (PLAINTEXT_PIN, PLAINTEXT_PIN_SIGNATURE, ENCIPHERED_PIN, ENCIPHERED_PIN_SIGNATURE):
        encipher = None
        if method in (ENCIPHERED_PIN, ENCIPHERED_PIN_SIGNATURE):
            key_source = ctx.get("pin_key")
            key = key_source() if key_source is not None else None  # type: ignore[operator]
            if key is None:
                return RESULT_FAILED
            random = ctx["random"]

            def encipher(command: bytearray) -> "bytearray | None":
                return encipher_pin(link, key, random, command)

        if not offline_pin(link, tvr, ui, pin_pad, encipher):
            return RESULT_FAILED
        out.offline_pin = True
        if method in (PLAINTEXT_PIN_SIGNATURE, ENCIPHERED_PIN_SIGNATURE):
            out.signature = True
            return RESULT_UNKNOWN
        return RESULT_SUCCESSFUL
    if method == ONLINE_PIN:
        if not pin_pad or ui is None:
            tvr.set("pin_pad_missing")  # type: ignore[attr-defined]
            return RESULT_FAILED
        if not ui.online_pin():  # type: ignore[attr-defined]
            tvr.set("pin_not_entered")  # type: ignore[attr-defined]
            return RESULT_FAILED
        tvr.set("online_pin_entered")  # type: ignore[attr-defined]
        out.online_pin = True
        return RESULT_UNKNOWN
    if method == SIGNATURE:
        out.signature = True
        return RESULT_UNKNOWN
    return RESULT_SUCCESSFUL  # NO_CVM
