"""NC: perform diagnostics → ND: LMK check value (16 H) and firmware number (9 A)."""

from __future__ import annotations

from hsm_sim.commands._base import Context, Handler, Reader

FIRMWARE = "0001-PT00"


def nc(ctx: Context, r: Reader) -> str:
    r.end()
    return ctx.lmk.check_value + FIRMWARE


COMMANDS: dict[str, Handler] = {"NC": nc}
