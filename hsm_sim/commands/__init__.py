"""The HSM's host commands, one module per family (docs/hsm.md).

``COMMANDS`` maps a two-letter command code to its handler: a function
``(Context, Reader) -> str`` that returns the response fields after the
error code, or raises ``HsmError`` with the error code to answer.
"""

from __future__ import annotations

from hsm_sim.commands import card, data, diagnostics, emv, keys, mac, pin
from hsm_sim.commands._base import Context, Handler, Reader

COMMANDS: dict[str, Handler] = {}
for _module in (diagnostics, keys, pin, card, emv, mac, data):
    COMMANDS.update(_module.COMMANDS)

__all__ = ["COMMANDS", "Context", "Handler", "Reader"]
