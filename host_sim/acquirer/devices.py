"""The terminal's device status at the TSM (``payterm host --tsm URL``,
docs/acquirer.md "Device status at the TSM").

A terminal row may name its device serial at the TSM (``tsm_serial``).
For such a terminal every 0800 and every card request is checked against
``GET /v1/devices/{serial}/status`` (through the caching
``hsm_sim.tsm.status_client``): ``active`` passes; ``revoked``, ``unknown``
(a serial the TSM never enrolled) or any other word is declined with **58**
(transaction not permitted to terminal) and logged; a TSM that cannot be
reached is let through (``fail_open``, the default, logged) or declined
with **91** (``fail_open=False``). A ``revoked`` answer is kept for the
life of the process (revocation is final at the TSM), so a TSM outage
never lets a device through that the host has seen revoked. Terminals
without a serial are not checked.
"""

from __future__ import annotations

import asyncio
import logging

from host_sim.acquirer import codes
from host_sim.acquirer.db import Terminal
from hsm_sim.tsm.status_client import UNREACHABLE, Status, TsmStatusClient

log = logging.getLogger("payterm.acquirer")


class DeviceGate:
    def __init__(self, client: TsmStatusClient, fail_open: bool = True) -> None:
        self.client = client
        self.fail_open = fail_open

    async def status(self, serial: str) -> Status:
        """From the cache when it can answer; otherwise the HTTP request
        runs in a thread, beside the event loop."""
        hit = self.client.cached(serial)
        if hit is not None:
            return hit
        return await asyncio.to_thread(self.client.device, serial)

    async def refusal(self, terminal: Terminal, what: str) -> str | None:
        """The response code that declines ``what`` (e.g. "0200 stan 000123")
        from ``terminal``, or None when it may go on."""
        if not terminal.tsm_serial:
            return None
        st = await self.status(terminal.tsm_serial)
        if st.status == "active":
            return None
        if st.status == UNREACHABLE:
            if self.fail_open:
                log.warning(
                    "terminal %s (device %s): TSM status unknown (%s): %s let through",
                    terminal.tid, terminal.tsm_serial, st.error, what,
                )  # fmt: skip
                return None
            log.warning(
                "terminal %s (device %s): TSM status unknown (%s): %s declined 91",
                terminal.tid, terminal.tsm_serial, st.error, what,
            )  # fmt: skip
            return codes.ISSUER_UNAVAILABLE
        log.warning(
            "terminal %s: device %s is %s at the TSM%s: %s declined 58",
            terminal.tid, terminal.tsm_serial, st.status,
            f" ({st.get('reason')})" if st.get("reason") else "", what,
        )  # fmt: skip
        return codes.NOT_PERMITTED_TERMINAL
