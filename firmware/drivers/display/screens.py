"""The terminal's screens, as data, and the few functions that draw them.

A screen is a list of elements drawn top to bottom on a cleared background:

    ("text", template, y_percent, scale, colour)
        ``template.format(**values)``, centred, its vertical centre at
        y_percent of the height; the scale shrinks until the line fits
    ("field", name, y_percent, scale, colour)
        a band kept for a value updated later on its own (the masked PIN):
        ``update_field`` redraws only that band, so only it is pushed
    ("rule", y_percent, colour)
        a horizontal line
    ("arabic", template, y_percent, colour)
        a line of Arabic (shaped, right-to-left, numbers kept left-to-right)
        in the bitmap font of firmware/fonts, centred

A template naming a value that is not given draws nothing: optional lines
(the Arabic ones) appear only when the caller supplies them.

``qr_to_pay`` is laid out by code: the amount above the symbol when that
leaves the larger module size, beside it otherwise (128x64 panels).
"""

from firmware.drivers.display import qrcode

SCREENS = {
    "idle": [
        ("text", "{merchant}", 18, 2, "accent"),
        ("rule", 32, "dim"),
        ("text", "WELCOME", 48, 3, "fg"),
        ("arabic", "{welcome_ar}", 70, "fg"),
        ("text", "{hint}", 90, 1, "dim"),
    ],
    "amount": [
        ("text", "ENTER AMOUNT", 20, 2, "fg"),
        ("text", "{amount} {currency}", 52, 3, "accent"),
        ("text", "ENTER=OK CANCEL=STOP", 88, 1, "dim"),
    ],
    "present_card": [
        ("text", "{amount} {currency}", 22, 3, "accent"),
        ("text", "INSERT, TAP OR", 55, 2, "fg"),
        ("text", "SWIPE CARD", 72, 2, "fg"),
    ],
    "pin": [
        ("text", "{amount} {currency}", 18, 2, "accent"),
        ("text", "ENTER PIN", 42, 2, "fg"),
        ("field", "pin", 66, 3, "fg"),
        ("text", "ENTER=OK CLEAR CANCEL", 90, 1, "dim"),
    ],
    "processing": [
        ("text", "PROCESSING", 45, 2, "fg"),
        ("text", "{detail}", 68, 1, "dim"),
    ],
    "approved": [
        ("text", "APPROVED", 25, 3, "ok"),
        ("arabic", "{approved_ar}", 45, "ok"),
        ("text", "{amount} {currency}", 65, 2, "fg"),
        ("text", "{detail}", 85, 1, "dim"),
    ],
    "declined": [
        ("text", "DECLINED", 35, 3, "error"),
        ("text", "{detail}", 65, 1, "fg"),
    ],
}

PIN_MAX = 12


def _y(screen, percent, h):
    return max(0, min(screen.height - h, screen.height * percent // 100 - h // 2))


def render(screen, name, values=None, flush=True):
    """Draw screen ``name`` of SCREENS with ``values``; returns the field
    bands {name: (y, h, scale, colour)} for ``update_field``."""
    spec = SCREENS[name]
    values = values or {}
    screen.clear("bg")
    fields = {}
    for element in spec:
        kind = element[0]
        if kind == "text":
            s = _fill(element[1], values)
            if s.strip():
                scale = screen.fit_scale(s, element[3])
                screen.text_center(s, _y(screen, element[2], 8 * scale), element[4], scale)
        elif kind == "field":
            scale = element[3]
            while scale > 1 and screen.text_width("*" * PIN_MAX, scale) > screen.width - 8:
                scale -= 1
            h = 8 * scale
            fields[element[1]] = (_y(screen, element[2], h), h, scale, element[4])
        elif kind == "arabic":
            s = _fill(element[1], values)
            if s.strip():
                font = screen_font()
                screen.arabic(s, _y(screen, element[2], font.height), element[3])
        elif kind == "rule":
            screen.hline(8, _y(screen, element[1], 1), screen.width - 16, element[2])
        else:
            raise ValueError("unknown screen element %r" % (kind,))
    if flush:
        screen.flush()
    return fields


def _fill(template, values):
    try:
        return template.format(**values)
    except KeyError:
        return ""


def screen_font():
    from firmware.drivers.display.screen import default_font

    return default_font()


def update_field(screen, band, text, flush=True):
    """Redraw one field band with ``text``: only the band is pushed."""
    y, h, scale, colour = band
    screen.fill_rect(0, y, screen.width, h, "bg")
    if text:
        screen.text_center(text, y, colour, scale)
    if flush:
        screen.flush()


def show_pin_digits(screen, band, count, flush=True):
    """The masked PIN: one '*' a digit entered, never the digits."""
    update_field(screen, band, "*" * count, flush)


def qr_to_pay(screen, payload, amount, currency, title="SCAN TO PAY", flush=True):
    """The payment QR with the amount.  Returns the (x, y, side, module) of
    the symbol as drawn."""
    from protocols import qr

    symbol = qr.encode(payload, "M")
    size = symbol.size
    screen.clear("bg")
    money = "%s %s" % (amount, currency)
    w, h = screen.width, screen.height
    # Layout A: title and amount in a band above the symbol.
    band = 8 * 2 + 8 * 2 + 8
    top_m = qrcode.module_size(size, w, h - band)
    # Layout B: the symbol in the left square, text lines on the right.
    side_m = qrcode.module_size(size, h, h)
    cols = (w - h) // 8
    if top_m >= side_m or cols < 4:
        s1 = screen.fit_scale(title, 2)
        screen.text_center(title, 2, "fg", s1)
        s2 = screen.fit_scale(money, 2)
        screen.text_center(money, 4 + 8 * s1, "accent", s2)
        used = 8 + 8 * s1 + 8 * s2
        box = qrcode.draw_matrix(screen, symbol.matrix, 0, used, w, h - used)
    else:
        box = qrcode.draw_matrix(screen, symbol.matrix, 0, 0, h, h)
        lines = _wrap(title, cols) + [str(amount)[:cols], str(currency)[:cols]]
        y = max(0, (h - 10 * len(lines)) // 2)
        for i in range(len(lines)):
            colour = "fg" if i < len(lines) - 2 else "accent"
            x = h + (w - h - 8 * len(lines[i])) // 2
            screen.text(lines[i], x, y + 10 * i, colour)
    del symbol
    if flush:
        screen.flush()
    return box


def _wrap(text, cols):
    """Words of ``text`` packed into lines of at most ``cols`` characters."""
    lines = []
    line = ""
    for word in text.split():
        word = word[:cols]
        if line and len(line) + 1 + len(word) > cols:
            lines.append(line)
            line = word
        else:
            line = word if not line else line + " " + word
    if line:
        lines.append(line)
    return lines
