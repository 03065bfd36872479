"""Board definitions (data) and the way to open a board's HAL.

Each board is a folder ``boards/<name>/`` with ``board.json`` (what is wired
where: buses, pins, baud rates, drivers, display geometry, flash layout, heap
budget; see docs/boards.md for the schema) and ``hal.py`` (the code that turns
that data into bus objects for the drivers).  This module runs under both
CPython (the runner and host tools read the same JSON) and MicroPython.

    import boards
    cfg = boards.load("sim")             # the dict from board.json
    board = boards.open_board("sim")     # boards.sim.hal.Board(cfg)
    nfc_uart = board.bus_for("nfc")      # the bus the PN532 driver receives
"""

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SCHEMA_VERSION = 1
BUS_KINDS = ("uart", "i2c", "spi", "channel", "usb_cdc", "net")
# Devices every POS-class board names; a board may add more.
DEVICE_ROLES = (
    "nfc",
    "printer",
    "display",
    "keypad",
    "secure_element",
    "service",
    "card_reader",
    "buzzer",
    "leds",
    "rtc",
)
BOARD_NAMES = ("sim", "esp32s3_pos", "stm32f4_ecr")


def parse_size(text: "str | int") -> int:
    """'512K' -> 524288, '8M' -> 8388608, '4096' or 4096 -> 4096."""
    if isinstance(text, int):
        return text
    s = str(text).strip().upper()
    mult = 1
    if s.endswith("K"):
        mult = 1024
        s = s[:-1]
    elif s.endswith("M"):
        mult = 1024 * 1024
        s = s[:-1]
    if not s or not s.isdigit():
        raise ValueError("bad size %r" % (text,))
    return int(s) * mult


def _dirname(path: str) -> str:
    i = path.rfind("/")
    return path[:i] if i > 0 else "."


def board_path(name: str) -> str:
    """Path of ``boards/<name>/board.json``."""
    if not name or "/" in name or "." in name:
        raise ValueError("bad board name %r" % (name,))
    found: "str | None" = None
    try:
        found = _dirname(__file__)
    except NameError:  # frozen without __file__: look along sys.path
        import sys

        for p in sys.path:
            candidate = (p or ".") + "/boards"
            try:
                open(candidate + "/" + name + "/board.json").close()
                found = candidate
                break
            except OSError:
                pass
    if found is None:
        raise ValueError("unknown board %r" % (name,))
    return found + "/" + name + "/board.json"


def load(name: str) -> "dict[str, Any]":
    """The board definition of ``name`` as a dict, validated."""
    path = board_path(name)
    try:
        with open(path) as f:
            cfg: "dict[str, Any]" = json.load(f)
    except OSError:
        raise ValueError("unknown board %r" % (name,))
    problems = validate(cfg)
    if problems:
        raise ValueError("board %s: %s" % (name, "; ".join(problems)))
    return cfg


def open_board(name: str, **overrides: "Any") -> "Any":
    """Import ``boards.<name>.hal`` and return its ``Board(config, **overrides)``."""
    cfg = load(name)
    module = __import__(cfg["hal"])
    for part in cfg["hal"].split(".")[1:]:
        module = getattr(module, part)
    return module.Board(cfg, **overrides)


def _pins_of(prefix: str, obj: "dict[str, Any]", out: "list[tuple[str, Any]]") -> None:
    # Collect (where, pin) for every "pins" mapping: {"tx": 17, ...}.
    pins = obj.get("pins")
    if not pins:
        return
    for key in sorted(pins):
        value = pins[key]
        values = value if isinstance(value, list) else [value]
        for v in values:
            if v is not None:
                out.append((prefix + "." + key, v))


def validate(cfg: "Any") -> "list[str]":
    """List of problems in a board definition (empty when it is sound).

    Checks the required keys and types, that every device names a declared
    bus, that UART framing and I2C addresses are in range, that display
    geometry and flash layout are positive, and that no pin is wired twice.
    """
    problems: "list[str]" = []
    if not isinstance(cfg, dict):
        return ["definition is not an object"]
    kind: "Any"
    for key, kind in (
        ("schema", int),
        ("name", str),
        ("title", str),
        ("mcu", str),
        ("port", str),
        ("hal", str),
        ("memory", dict),
        ("flash", dict),
        ("buses", dict),
        ("devices", dict),
    ):
        if not isinstance(cfg.get(key), kind):
            problems.append("%s missing or not %s" % (key, kind.__name__))
    if problems:
        return problems
    if cfg["schema"] != SCHEMA_VERSION:
        problems.append("schema %r, expected %d" % (cfg["schema"], SCHEMA_VERSION))
    try:
        if parse_size(cfg["memory"].get("heap", "")) < 16 * 1024:
            problems.append("memory.heap below 16K")
    except ValueError:
        problems.append("memory.heap missing or malformed")
    fiscal = cfg["flash"].get("fiscal")
    if not isinstance(fiscal, dict):
        problems.append("flash.fiscal missing")
    else:
        for key in ("block_size", "block_count"):
            v = fiscal.get(key)
            if not isinstance(v, int) or v <= 0:
                problems.append("flash.fiscal.%s must be a positive integer" % key)
        if fiscal.get("fs") != "littlefs2":
            problems.append("flash.fiscal.fs must be littlefs2")
    pins: "list[tuple[str, Any]]" = []
    if isinstance(fiscal, dict):
        _pins_of("flash fiscal", fiscal, pins)
    buses = cfg["buses"]
    for bname in sorted(buses):
        bus = buses[bname]
        kind = bus.get("kind") if isinstance(bus, dict) else None
        if kind not in BUS_KINDS:
            problems.append("bus %s: kind %r not one of %s" % (bname, kind, BUS_KINDS))
            continue
        if kind == "uart":
            if not isinstance(bus.get("baudrate"), int) or bus["baudrate"] <= 0:
                problems.append("bus %s: baudrate" % bname)
            if bus.get("bits", 8) not in (7, 8, 9):
                problems.append("bus %s: bits" % bname)
            if bus.get("parity") not in (None, 0, 1):
                problems.append("bus %s: parity must be null, 0 (even) or 1 (odd)" % bname)
            if bus.get("stop", 1) not in (1, 2):
                problems.append("bus %s: stop" % bname)
        if kind in ("i2c", "spi") and not isinstance(bus.get("freq"), int):
            problems.append("bus %s: freq" % bname)
        if "endpoint" in bus and not _endpoint_ok(bus["endpoint"]):
            problems.append("bus %s: endpoint must be 'host:port'" % bname)
        _pins_of("bus " + bname, bus, pins)
    devices = cfg["devices"]
    for role in DEVICE_ROLES:
        if role not in devices:
            problems.append("device %s missing" % role)
    for dname in sorted(devices):
        dev = devices[dname]
        if not isinstance(dev, dict) or not isinstance(dev.get("driver"), str):
            problems.append("device %s: driver missing" % dname)
            continue
        bus = dev.get("bus")
        if bus is not None and bus not in buses:
            problems.append("device %s: bus %r not declared" % (dname, bus))
        if "addr" in dev and not (isinstance(dev["addr"], int) and 0x08 <= dev["addr"] <= 0x77):
            problems.append("device %s: addr must be a 7-bit I2C address" % dname)
        if dname == "display":
            for key in ("width", "height"):
                if not isinstance(dev.get(key), int) or dev[key] <= 0:
                    problems.append("device display: %s" % key)
            if dev.get("format") not in ("RGB565", "MONO_VLSB", "MONO_HLSB", "GS8"):
                problems.append("device display: format")
        if dname == "keypad":
            keys = dev.get("keys")
            if not isinstance(keys, list) or not keys:
                problems.append("device keypad: keys")
        _pins_of("device " + dname, dev, pins)
    seen: "dict[Any, str]" = {}
    for where, pin in pins:
        if pin in seen:
            problems.append("pin %r wired twice: %s and %s" % (pin, seen[pin], where))
        else:
            seen[pin] = where
    return problems


def _endpoint_ok(text: "Any") -> bool:
    if not isinstance(text, str) or ":" not in text:
        return False
    if text.startswith("listen:"):
        text = text[7:]
    host, port = text.rsplit(":", 1)
    return bool(host) and port.isdigit() and 0 < int(port) < 65536
