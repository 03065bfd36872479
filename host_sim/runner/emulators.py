"""Start the peripheral emulators a board's data names, each on a free
loopback port, on the running asyncio loop.

The board's ``devices`` say which driver sits on which bus; each driver has
its emulator here:

| driver | bus kind | emulator |
|---|---|---|
| pn532 | uart | ``host_sim.nfc`` PN532 with the contactless card(s) in its field |
| escpos | uart | ``host_sim.printer`` virtual printer (the board's dots per line) |
| iso7816 | uart | ``host_sim.cardreader`` slot with the contact card (or empty) |
| framebuf, keypad, buzzer, leds | channel | ``host_sim.display``, a port per channel bus |
| hostlink | net | ``host_sim.acquirer`` host: the bank's (bank.py), else a bare one |
| service | uart, ``listen:`` | none: the board listens on a free port for a technician's tool |
| se | i2c | ``hsm_sim.se`` secure element: the bank's engine; unconnected without one |

``Emulators.endpoints`` maps bus names to ``host:port`` (the board's
``PAYTERM_SIM_<BUS>`` values); ``describe()`` says who listens where.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from host_sim.acquirer.server import AcquirerHost
from host_sim.cardreader import CardReaderServer, CardSlot
from host_sim.display.server import PanelEndpoint
from host_sim.nfc.pn532_emulator import Pn532Emulator
from host_sim.nfc.profiles import load_card
from host_sim.nfc.rf_field import RfField
from host_sim.nfc.server import Pn532Server
from host_sim.printer import PrinterServer, VirtualPrinter
from host_sim.runner.bank import Bank

HOST = "127.0.0.1"
PANEL_DRIVERS = ("framebuf", "keypad", "buzzer", "leds")
UNEMULATED = {"se": "no bank given: the secure element's bus is left unconnected"}


class Emulators:
    def __init__(self) -> None:
        self.endpoints: dict[str, str] = {}
        self.info: dict[str, dict[str, Any]] = {}
        self.objects: dict[str, Any] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def add(self, bus: str, role: str, port: int, emulator: str, **extra: Any) -> None:
        self.endpoints[bus] = f"{HOST}:{port}"
        entry = {"role": role, "emulator": emulator, "host": HOST, "port": port}
        entry.update(extra)
        self.info[bus] = entry

    def describe(self) -> dict[str, dict[str, Any]]:
        return {bus: dict(self.info[bus]) for bus in sorted(self.info)}

    async def close(self) -> None:
        """Stop every emulator, last started first; never raises."""
        closers, self._closers = self._closers[::-1], []
        for close in closers:
            with contextlib.suppress(Exception):
                await close()


def free_port(host: str = HOST) -> int:
    """A port nobody listens on now (for the board's own listening UART)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _card_names(names: list[str]) -> list[str]:
    return [n for n in names if n and n != "none"]


async def start_emulators(
    cfg: dict[str, Any],
    nfc_cards: list[str] | None = None,
    contact_card: str | None = None,
    contact_protocol: str | None = None,
    nfc_timing: bool = False,
    bank: Bank | None = None,
) -> Emulators:
    """Every emulator ``cfg`` (a board definition) needs, started; with a
    ``bank``, its acquirer host on the net bus and its SE on the I2C bus."""
    emus = Emulators()
    try:
        await _start_all(
            emus, cfg, nfc_cards or [], contact_card, contact_protocol, nfc_timing, bank
        )
    except BaseException:
        await emus.close()
        raise
    return emus


async def _start_all(
    emus: Emulators,
    cfg: dict[str, Any],
    nfc_cards: list[str],
    contact_card: str | None,
    contact_protocol: str | None,
    nfc_timing: bool,
    bank: Bank | None,
) -> None:
    buses: dict[str, Any] = cfg["buses"]
    panel_buses: list[tuple[str, str]] = []
    for role in sorted(cfg["devices"]):
        device = cfg["devices"][role]
        bus = device.get("bus")
        if bus is None or bus in emus.info:
            continue
        driver = device.get("driver")
        if driver == "pn532":
            await _pn532(emus, bus, role, _card_names(nfc_cards), nfc_timing)
        elif driver == "escpos":
            await _printer(emus, bus, role, int(device.get("dots_per_line", 576)))
        elif driver == "iso7816":
            await _card_reader(emus, bus, role, contact_card, contact_protocol)
        elif driver == "hostlink" and bank is not None:
            emus.objects[bus] = bank.service.host
            emus.add(bus, role, bank.port, "acquirer", **bank.describe())
        elif driver == "hostlink":
            await _acquirer(emus, bus, role)
        elif driver == "se" and bank is not None:
            await _secure_element(emus, bus, role, bank, int(device.get("addr", 0x60)))
        elif driver in PANEL_DRIVERS:
            if bus not in [b for b, _ in panel_buses]:
                panel_buses.append((bus, role))
        elif driver == "service" and str(buses[bus].get("endpoint", "")).startswith("listen:"):
            port = free_port()
            emus.endpoints[bus] = f"listen:{HOST}:{port}"
            emus.info[bus] = {
                "role": role,
                "emulator": None,
                "host": HOST,
                "port": port,
                "connect": f"socket://{HOST}:{port}",
            }
        elif driver in UNEMULATED:
            emus.info[bus] = {"role": role, "emulator": None, "note": UNEMULATED[driver]}
    if panel_buses:
        await _panel(emus, panel_buses)


async def _pn532(emus: Emulators, bus: str, role: str, cards: list[str], timing: bool) -> None:
    field = RfField([load_card(name) for name in cards])
    server = Pn532Server(Pn532Emulator(field, timing=timing), HOST, 0)
    await server.start()
    emus._closers.append(server.close)
    emus.objects[bus] = server
    emus.add(bus, role, server.port, "pn532", cards=cards, timing=timing)


async def _printer(emus: Emulators, bus: str, role: str, dots: int) -> None:
    server = PrinterServer(VirtualPrinter(dots=dots), HOST, 0)
    await server.start()
    emus._closers.append(server.close)
    emus.objects[bus] = server
    emus.add(bus, role, server.port, "escpos-printer", dots=dots)


async def _card_reader(
    emus: Emulators, bus: str, role: str, name: str | None, protocol: str | None
) -> None:
    slot = CardSlot()
    if name and name != "none":
        from host_sim.cards import load_profile

        slot.insert(load_profile(name), protocol)
    server = CardReaderServer(slot, HOST, 0)
    await server.start()
    emus._closers.append(server.close)
    emus.objects[bus] = server
    card = name if slot.present else None
    emus.add(bus, role, server.port, "card-reader", card=card, protocol=protocol)


async def _acquirer(emus: Emulators, bus: str, role: str) -> None:
    host = AcquirerHost()
    server = await host.start(HOST, 0)

    async def close() -> None:
        server.close()
        await server.wait_closed()

    emus._closers.append(close)
    emus.objects[bus] = host
    emus.add(bus, role, server.sockets[0].getsockname()[1], "acquirer")


async def _secure_element(emus: Emulators, bus: str, role: str, bank: Bank, addr: int) -> None:
    from hsm_sim.se import bus as se_bus

    server = await se_bus.start(bank.se, HOST, 0, addr)

    async def close() -> None:
        server.close()
        await server.wait_closed()

    emus._closers.append(close)
    emus.objects[bus] = bank.se
    port = int(server.sockets[0].getsockname()[1])
    emus.add(bus, role, port, "secure-element", serial=bank.se.serial, addr=addr)


async def _panel(emus: Emulators, buses: list[tuple[str, str]]) -> None:
    endpoint = PanelEndpoint()
    ports = await endpoint.start(HOST, tuple(0 for _ in buses))
    emus._closers.append(endpoint.close)
    for (bus, role), port in zip(buses, ports, strict=True):
        emus.objects[bus] = endpoint
        emus.add(bus, role, port, "panel")


__all__ = ["Emulators", "free_port", "start_emulators"]
