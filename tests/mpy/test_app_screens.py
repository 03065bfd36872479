# Every outcome the terminal application can show (firmware/app/screens.py)
# names a screen the display driver draws, and every host response code it
# knows maps to one of them.
from mpyunit import eq

from firmware.app.screens import MESSAGES, RESPONSE_MESSAGES, for_response
from firmware.drivers.display.screens import SCREENS


def test_every_message_has_a_screen_of_the_display_driver():
    for key in MESSAGES:
        name, text, arabic = MESSAGES[key]
        eq(name in SCREENS, True, key)
        eq(bool(text) and bool(arabic), True, key)
    for code in RESPONSE_MESSAGES:
        eq(RESPONSE_MESSAGES[code] in MESSAGES, True, code)


def test_response_codes():
    eq(for_response(None), "host_timeout")
    eq(for_response("55"), "incorrect_pin")
    eq(for_response("51"), "insufficient_funds")
    eq(for_response("Z9"), "declined")
