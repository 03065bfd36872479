"""Typed errors of the fiscal memory; ``Refused`` ones carry a message meant
for the cashier's display."""


class FiscalError(Exception):
    pass


class NotFormatted(FiscalError):
    """No journal on this flash: format it explicitly (never automatic)."""


class JournalDamaged(FiscalError):
    """Header, state or a closed record is unreadable or inconsistent."""


class HeaderDamaged(JournalDamaged):
    """The journal header is missing, unknown or corrupt."""


class Refused(FiscalError):
    """The journal refuses this record now (the reason is in the message)."""


class MemoryFull(Refused):
    pass


class ZOverdue(Refused):
    pass


class Locked(Refused):
    pass


class ClockError(Refused):
    pass


class SignerFailed(Refused):
    """The secure element did not sign; a signer-failure record was kept."""


class Broken(FiscalError):
    """A write failed (power, flash): remount before the next record."""
