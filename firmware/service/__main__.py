"""A standalone service loop on the sim board (docs/service.md):

    PAYTERM_SERVICE_TECH_KEY=04... micropython -m firmware.service

mounts the fiscal flash (never formats it), opens the journal in the
directory ``PAYTERM_SERVICE_JOURNAL`` of the mount (default ``journal``),
signed by the secure element over the board's I2C channel, and serves the
technician port (the ``service`` device, uart0: the board listens,
``PAYTERM_SIM_UART0=listen:HOST:PORT`` moves it).  The technician's public
key is the 65-byte uncompressed P-256 point, in hex.  Prints
``SERVICE <device id> <endpoint>`` once it listens.

The pieces are in ``firmware/service/runner.py``.
"""

import os
import sys
from binascii import unhexlify

import boards
from firmware.service.runner import (
    JOURNAL_DIR,
    make_service,
    open_journal,
    secure_element,
    serve_forever,
)


def main():
    key_hex = os.getenv("PAYTERM_SERVICE_TECH_KEY")
    if not key_hex:
        print("PAYTERM_SERVICE_TECH_KEY (the technician public key, hex) is not set")
        return 2
    tech_key = unhexlify(key_hex.strip())
    board = boards.open_board(os.getenv("PAYTERM_BOARD") or "sim")
    try:
        se = secure_element(board)
        journal = open_journal(board, se, os.getenv("PAYTERM_SERVICE_JOURNAL") or JOURNAL_DIR)
        service = make_service(board, journal, se, tech_key)
        bus = board.device("service")["bus"]
        print("SERVICE %s %s" % (journal.device_id, board.endpoint_text(bus)))
        serve_forever(service, board.rtc())
    finally:
        board.deinit()
    return 0


sys.exit(main())
