"""Typed errors of the contact-card interface."""


class CardError(Exception):
    """Base of every contact-card error."""


class CardTimeout(CardError):
    """The card did not answer within the waiting time (or is mute)."""


class CardProtocolError(CardError):
    """The card broke T=0/T=1 (bad procedure byte, unrecoverable block
    errors, an abort); for T=1 the link was resynchronised before raising."""


class CardAbsent(CardError):
    """No card in the slot (or the interface reports a fault)."""
