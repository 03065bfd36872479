"""Terminal Verification Results (EMV 4.3 Book 3 Annex C5) and Transaction
Status Information (Annex C6), as data: each bit is (byte index, mask), byte
index 0 being the leftmost byte ("byte 1" in the book), mask b8 = 0x80."""

# name: (byte, mask) -- Book 3 Table 44 (TVR).
TVR_BITS = {
    # byte 1
    "oda_not_performed": (0, 0x80),
    "sda_failed": (0, 0x40),
    "icc_data_missing": (0, 0x20),
    "exception_file": (0, 0x10),
    "dda_failed": (0, 0x08),
    "cda_failed": (0, 0x04),
    "sda_selected": (0, 0x02),
    # byte 2
    "different_versions": (1, 0x80),
    "expired_application": (1, 0x40),
    "not_yet_effective": (1, 0x20),
    "service_not_allowed": (1, 0x10),
    "new_card": (1, 0x08),
    # byte 3
    "cvm_not_successful": (2, 0x80),
    "unrecognised_cvm": (2, 0x40),
    "pin_try_limit_exceeded": (2, 0x20),
    "pin_pad_missing": (2, 0x10),
    "pin_not_entered": (2, 0x08),
    "online_pin_entered": (2, 0x04),
    # byte 4
    "floor_limit_exceeded": (3, 0x80),
    "lower_offline_limit_exceeded": (3, 0x40),
    "upper_offline_limit_exceeded": (3, 0x20),
    "random_selection": (3, 0x10),
    "merchant_forced_online": (3, 0x08),
    # byte 5
    "default_tdol_used": (4, 0x80),
    "issuer_authentication_failed": (4, 0x40),
    "script_failed_before_final_ac": (4, 0x20),
    "script_failed_after_final_ac": (4, 0x10),
}

# name: (byte, mask) -- Book 3 Table 45 (TSI).
TSI_BITS = {
    "oda_performed": (0, 0x80),
    "cvm_performed": (0, 0x40),
    "card_risk_management_performed": (0, 0x20),
    "issuer_authentication_performed": (0, 0x10),
    "terminal_risk_management_performed": (0, 0x08),
    "script_processing_performed": (0, 0x04),
}


class Bits:
    """A bit field of fixed length whose bits are named by a table."""

    def __init__(self, table: "dict[str, tuple[int, int]]", length: int) -> None:
        self.table = table
        self.bytes = bytearray(length)

    def set(self, name: str) -> None:
        index, mask = self.table[name]
        self.bytes[index] |= mask

    def clear(self, name: str) -> None:
        index, mask = self.table[name]
        self.bytes[index] &= ~mask & 0xFF

    def is_set(self, name: str) -> bool:
        index, mask = self.table[name]
        return bool(self.bytes[index] & mask)

    def names(self) -> "list[str]":
        return sorted(n for n in self.table if self.is_set(n))

    def value(self) -> bytes:
        return bytes(self.bytes)

    def any_of(self, mask: bytes) -> bool:
        """True when a set bit is also set in ``mask`` (action code tests)."""
        return any(self.bytes[i] & mask[i] for i in range(len(self.bytes)))


def new_tvr() -> Bits:
    return Bits(TVR_BITS, 5)


def new_tsi() -> Bits:
    return Bits(TSI_BITS, 2)
