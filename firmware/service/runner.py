"""Running the service port on a board: the secure element, the journal
on the fiscal flash, the Service on the ``service`` device's UART, and a
loop (docs/service.md).  ``firmware/service/__main__.py`` uses these; an
application serving the port from its own idle loop takes the pieces it
needs and calls ``Service.poll()`` itself."""

from firmware.fiscal.journal import Journal
from firmware.service import Service

VERSION = "payterm-fw 0.1.0"
JOURNAL_DIR = "journal"


def secure_element(board):
    from firmware.secure import for_board

    return for_board(board)


def open_journal(board, signer, journal_dir=JOURNAL_DIR):
    """The journal in ``journal_dir`` of the fiscal flash (mounted, never
    formatted: an unformatted flash raises OSError)."""
    fs = board.fiscal_fs(format_if_needed=False)
    return Journal.open(fs.sub(journal_dir), signer, board.rtc().now())


def make_service(board, journal, se, tech_key, version=VERSION):
    """The Service on the board's service UART; challenges from the SE's RNG."""
    return Service(board.bus_for("service"), journal, board.rtc(), tech_key, se.se.random, version)


def serve_forever(service, clock, idle_sleep_ms=5, stop=None):
    while stop is None or not stop():
        if not service.poll():
            clock.sleep_ms(idle_sleep_ms)
