"""The factory's enrolment program (docs/tsm.md, "Device client"):

    micropython -m firmware.ota.enrol SERIAL
    payterm fw run --board sim --app firmware.ota.enrol -- SERIAL

on a board whose ``tsm`` link reaches the TSM.  The secure element makes
its signing key (slot 0) inside when it has none; the TSM certifies it
(challenge, the SE's proof of possession, an X.509 certificate stored in
the SE's certificate slot).  Prints ``ENROLLED {"serial", "public_key"
(hex), "cert_serial", "certificate" (PEM), "ca" (PEM)}`` and exits 0, or
``ENROL_FAILED {"error", "message"}`` and exits 1.
"""

import json
import sys
from binascii import hexlify

import boards
from firmware.ota.client import TsmClient
from firmware.secure import for_board


def main():
    if len(sys.argv) < 2:
        print("firmware.ota.enrol: SERIAL needed")
        return 2
    serial = sys.argv[1]
    board = boards.open_board("sim")
    try:
        se = for_board(board)
        try:
            public = se.public_key()
        except Exception:  # an empty slot: the key is made inside, never leaves
            public = se.generate_key()
        dial = board.dialer("tsm")
        tsm = TsmClient(dial, dial.authority, serial, se, None, board.name, board.rtc(), 30000)
        answer = tsm.enrol()
        print("ENROLLED " + json.dumps({"serial": serial, "public_key": hexlify(public).decode(),
                                        "cert_serial": answer.get("cert_serial"),
                                        "certificate": answer.get("certificate"),
                                        "ca": answer.get("ca")}))  # fmt: skip
        return 0
    except Exception as e:  # TsmError, TsmRefused, the link: said, exit 1
        print("ENROL_FAILED " + json.dumps({"error": type(e).__name__, "message": str(e)}))
        return 1
    finally:
        board.deinit()


sys.exit(main())
