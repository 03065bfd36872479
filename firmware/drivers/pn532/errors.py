"""Typed errors of the PN532 driver.

PN532Error                      base of everything below
  PN532Timeout                  the chip did not answer in time
    AckTimeout                  no ACK frame after a command
    ResponseTimeout             ACK came, the response did not
  PN532ProtocolError            frames that make no sense (bad answers,
                                corrupt frames past the NACK retries)
    PN532SyntaxError            the chip sent its error frame: it could not
                                parse our command (UM0701 §6.2.1.5)
  PN532StatusError              an application status byte other than 0
                                (UM0701 §7.1); ``status`` and ``meaning``
    TargetTimeout               status 0x01: the card did not answer
                                (it left the field, or never was there)
  NoTargetError                 an exchange with no activated target
  CardCollision                 more than one card in the field where the
                                caller asked for exactly one
"""

from protocols import pn532 as frames


class PN532Error(Exception):
    pass


class PN532Timeout(PN532Error):
    pass


class AckTimeout(PN532Timeout):
    pass


class ResponseTimeout(PN532Timeout):
    pass


class PN532ProtocolError(PN532Error):
    pass


class PN532SyntaxError(PN532ProtocolError):
    pass


class PN532StatusError(PN532Error):
    def __init__(self, command, status):
        self.command = command
        self.status = status
        self.code = status & frames.STATUS_ERROR_MASK
        self.meaning = frames.error_meaning(status)
        name = frames.command_name(command) or "command 0x%02X" % command
        super().__init__("%s: status 0x%02X (%s)" % (name, self.code, self.meaning))


class TargetTimeout(PN532StatusError):
    pass


class NoTargetError(PN532Error):
    pass


class CardCollision(PN532Error):
    def __init__(self, count):
        self.count = count
        super().__init__("%d cards in the field: present one card only" % count)


def status_error(command, status):
    """The typed error for a non-zero status byte."""
    if status & frames.STATUS_ERROR_MASK == 0x01:
        return TargetTimeout(command, status)
    return PN532StatusError(command, status)
