"""M0 encrypt data → M1, M2 decrypt data → M3 (TDES or AES, ECB or CBC).

Fields: mode flag (2 N: 00 ECB, 01 CBC), input format (1 N: 0 binary, 1
hex), output format (1 N: 0 binary, 1 hex), key type ``FFF``, key (usage D0;
M0 needs mode of use E, B or N, M2 D, B or N), IV (CBC only: 16 H TDES, 32 H
AES), message length (4 H, characters of the message field), message (whole
cipher blocks: the caller pads).  Response: IV for chaining (CBC only: the
last ciphertext block), message length (4 H), message in the output format.
"""

from __future__ import annotations

from hsm_sim import errors as errs
from hsm_sim.commands._base import Context, Handler, Reader, hexu
from hsm_sim.commands.mac import read_message
from hsm_sim.crypto import aes, des
from hsm_sim.errors import HsmError


def _run(r: Reader, decrypt: bool) -> str:
    mode = r.choice(2, "mode flag", ("00", "01"))
    input_format = r.choice(1, "input format flag", ("0", "1"))
    output_format = r.choice(1, "output format flag", ("0", "1"))
    r.choice(3, "key type", ("FFF",))
    key = r.key("data key", ("D0",), "DBN" if decrypt else "EBN", "TA")
    block = 16 if key.is_aes else 8
    iv = r.hex(2 * block, "IV") if mode == "01" else b""
    message = read_message(r, input_format)
    r.end()
    if not message or len(message) % block:
        raise HsmError(errs.INVALID_INPUT, reason=f"message must be whole {block}-byte blocks")
    module = aes if key.is_aes else des
    if mode == "00":
        out = (module.decrypt_ecb if decrypt else module.encrypt_ecb)(key.value, message)
        chain = ""
    else:
        out = (module.decrypt_cbc if decrypt else module.encrypt_cbc)(key.value, message, iv)
        chain = hexu((message if decrypt else out)[-block:])
    text = hexu(out) if output_format == "1" else out.decode("latin-1")
    return f"{chain}{len(text):04X}{text}"


def m0(ctx: Context, r: Reader) -> str:
    return _run(r, decrypt=False)


def m2(ctx: Context, r: Reader) -> str:
    return _run(r, decrypt=True)


COMMANDS: dict[str, Handler] = {"M0": m0, "M2": m2}
