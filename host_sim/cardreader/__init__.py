"""The contact-card reader emulator for the sim board's uart3 (docs/drivers.md,
"Contact card"; docs/runner.md).

A card slot on a loopback TCP port: a virtual card of ``host_sim.cards`` (or
none) sits in it; the in-band control sequence ``FF A5 op`` powers, resets and
probes it; after the ATR the bytes are T=0 TPDUs with the procedure bytes a
card sends, or T=1 blocks, per the ATR.

    slot = CardSlot(load_profile("contact_offline_pin"))
    with BackgroundCardReader(slot) as server:
        ... PAYTERM_SIM_UART3=127.0.0.1:<server.port> ...
"""

from host_sim.cardreader.server import BackgroundCardReader, CardReaderServer
from host_sim.cardreader.slot import T0_ATR, T1_ATR, CardSlot, choose_atr
from host_sim.cardreader.t0_card import T0Card
from host_sim.cardreader.t1_card import T1Card

__all__ = [
    "T0_ATR",
    "T1_ATR",
    "BackgroundCardReader",
    "CardReaderServer",
    "CardSlot",
    "T0Card",
    "T1Card",
    "choose_atr",
]
