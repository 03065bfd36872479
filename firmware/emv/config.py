"""Terminal configuration: validates the configuration data (config_data.py,
or a dict of the same shape from the app) and serves it to the kernels."""

from firmware.emv import capk

RID_LENGTH = 5


class ConfigError(Exception):
    pass


def _hex(value: object, what: str, length: "int | None" = None) -> bytes:
    try:
        raw = bytes.fromhex(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError("%s: not hex" % what)
    if length is not None and len(raw) != length:
        raise ConfigError("%s: %d bytes expected" % (what, length))
    return raw


def _int(entry: "dict[str, object]", key: str, low: int, high: int) -> int:
    value = entry.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError("%s: integer %d..%d expected" % (key, low, high))
    return value


class AidConfig:
    def __init__(self, entry: "dict[str, object]") -> None:
        self.aid = _hex(entry.get("aid"), "aid")
        if not 5 <= len(self.aid) <= 16:
            raise ConfigError("aid: 5..16 bytes")
        self.label = str(entry.get("label", ""))
        self.partial = bool(entry.get("partial", False))
        self.app_version = _hex(entry.get("app_version", "0000"), "app_version", 2)
        self.tac_denial = _hex(entry.get("tac_denial", "0000000000"), "tac_denial", 5)
        self.tac_online = _hex(entry.get("tac_online", "0000000000"), "tac_online", 5)
        self.tac_default = _hex(entry.get("tac_default", "0000000000"), "tac_default", 5)
        self.floor_limit = _int(entry, "floor_limit", 0, 999999999999)
        self.random_threshold = _int(entry, "random_threshold", 0, 999999999999)
        self.random_target = _int(entry, "random_target", 0, 99)
        self.random_max = _int(entry, "random_max", 0, 99)
        if self.random_target > self.random_max:
            raise ConfigError("random_target above random_max")
        if self.random_threshold > self.floor_limit:
            raise ConfigError("random_threshold above floor_limit")
        self.ddol = _hex(entry.get("ddol", ""), "ddol")
        self.tdol = _hex(entry.get("tdol", ""), "tdol")

    def matches(self, adf_name: bytes) -> bool:
        """Book 1 §12.3.1: exact match, or partial when the ASI allows it."""
        if adf_name == self.aid:
            return True
        return (
            self.partial and len(adf_name) > len(self.aid) and adf_name[: len(self.aid)] == self.aid
        )


class TerminalConfig:
    def __init__(
        self,
        terminal_data: "dict[str, str]",
        aids: "list[dict[str, object]]",
        options: "dict[str, object]",
        capk_rows: "list[tuple[str, str, str, str, str, str]]",
    ) -> None:
        self.data: "dict[int, bytes]" = {}
        for tag in terminal_data:
            self.data[int(tag, 16)] = _hex(terminal_data[tag], tag)
        for tag in (0x9F1A, 0x5F2A, 0x5F36, 0x9F33, 0x9F35, 0x9F40):
            if tag not in self.data:
                raise ConfigError("terminal data %X missing" % tag)
        if len(self.data[0x9F33]) != 3 or len(self.data[0x9F40]) != 5:
            raise ConfigError("9F33 is 3 bytes, 9F40 is 5 bytes")
        self.aids = [AidConfig(entry) for entry in aids]
        self.options = options
        self.capks = capk.from_table(capk_rows)

    def option(self, name: str) -> bool:
        return bool(self.options.get(name, False))

    def aid_for(self, adf_name: bytes) -> "AidConfig | None":
        """The configured AID an ADF name matches (the longest match wins)."""
        best = None
        for entry in self.aids:
            if entry.matches(adf_name) and (best is None or len(entry.aid) > len(best.aid)):
                best = entry
        return best

    def capability(self, byte: int, mask: int) -> bool:
        """A Terminal Capabilities (9F33) bit; byte 0 is the leftmost."""
        return bool(self.data[0x9F33][byte] & mask)

    def terminal_type(self) -> int:
        return self.data[0x9F35][0]

    def online_capable(self) -> bool:
        """Terminal Type (Book 4 Annex A1) low digit: 1/4 online only, 2/5
        offline with online capability, 3/6 offline only."""
        return self.data[0x9F35][0] & 0x0F in (1, 2, 4, 5)


def default_config() -> TerminalConfig:
    from firmware.emv import capk_data, config_data

    return TerminalConfig(
        config_data.TERMINAL_DATA, config_data.AIDS, config_data.OPTIONS, capk_data.TEST_CAPKS
    )
