"""`payterm crypto`: the payment-cryptography calculator (docs/crypto.md).

The sub-subcommands live in two modules: key management, DUKPT, MACs and key
blocks in ``crypto_keys``; PIN blocks, card verification values and EMV
cryptograms in ``crypto_cards``.
"""

from __future__ import annotations

import argparse
from typing import Any

from payterm.commands import crypto_cards, crypto_keys


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "crypto", help="payment cryptography calculator (hex in, JSON out)"
    )
    ops = parser.add_subparsers(dest="crypto_command", metavar="OPERATION")
    crypto_keys.register(ops)
    crypto_cards.register(ops)
