"""Every outcome the cardholder can meet, with its screen and message
(docs/app.md, "Screens").  ``MESSAGES[key] = (screen, English, Arabic)``:
the screen is one of the display driver's SCREENS, the English text its
``detail``.  ``Ui`` draws on the display when there is one and always
records what it showed (an unattended run prints it)."""

from firmware.drivers.printer.layout import money

MESSAGES = {
    "idle": ("idle", "READY", "مرحباً"),
    "amount": ("amount", "ENTER AMOUNT", "أدخل المبلغ"),
    "present_card": ("present_card", "INSERT, TAP OR SWIPE CARD", "أدخل أو مرّر البطاقة"),
    "refund_card": ("present_card", "REFUND: PRESENT CARD", "استرداد: قدّم البطاقة"),
    "pin": ("pin", "ENTER PIN", "أدخل الرقم السري"),
    "processing": ("processing", "AUTHORISING, PLEASE WAIT", "جاري التفويض"),
    "card_read": ("processing", "CARD READ OK, REMOVE CARD", "تمت قراءة البطاقة"),
    "approved": ("approved", "APPROVED", "مقبولة"),
    "approved_offline": ("approved", "APPROVED OFFLINE", "مقبولة"),
    "declined": ("declined", "DECLINED", "مرفوضة"),
    "declined_card": ("declined", "DECLINED BY CARD", "رفضتها البطاقة"),
    "insufficient_funds": ("declined", "INSUFFICIENT FUNDS", "الرصيد غير كاف"),
    "incorrect_pin": ("declined", "INCORRECT PIN", "الرقم السري خطأ"),
    "pin_tries_exceeded": ("declined", "PIN TRIES EXCEEDED", "تجاوزت محاولات الرقم السري"),
    "expired_card": ("declined", "EXPIRED CARD", "البطاقة منتهية"),
    "over_limit": ("declined", "EXCEEDS LIMIT", "تجاوز الحد"),
    "not_permitted": ("declined", "NOT PERMITTED FOR CARD", "غير مسموح للبطاقة"),
    "invalid_card": ("declined", "INVALID CARD", "بطاقة غير صالحة"),
    "issuer_unavailable": ("declined", "ISSUER UNAVAILABLE, TRY LATER", "المصدر غير متاح"),
    "host_timeout": ("declined", "NO HOST RESPONSE, REVERSED", "لا رد من المضيف"),
    "host_error": ("declined", "HOST ERROR, TRY AGAIN", "خطأ في المضيف"),
    "card_removed": ("declined", "CARD REMOVED, TRY AGAIN", "أزيلت البطاقة"),
    "card_error": ("declined", "CARD READ ERROR, TRY AGAIN", "خطأ في قراءة البطاقة"),
    "no_card": ("declined", "NO CARD PRESENTED", "لم تقدم بطاقة"),
    "insert_card": ("declined", "PLEASE INSERT CARD", "أدخل البطاقة"),
    "not_accepted": ("declined", "CARD NOT ACCEPTED", "البطاقة غير مقبولة"),
    "cancelled": ("declined", "CANCELLED", "ألغيت"),
    "printer": ("declined", "PRINTER PROBLEM, RECEIPT NOT PRINTED", "مشكلة في الطابعة"),
    "nothing_to_complete": ("declined", "NO SUCH PRE-AUTHORISATION", "لا يوجد تفويض مسبق"),
    "already_completed": ("declined", "PRE-AUTHORISATION ALREADY COMPLETED", "التفويض مكتمل"),
    "voided": ("approved", "TRANSACTION VOIDED", "ألغيت العملية"),
    "batch_closed": ("approved", "BATCH CLOSED", "أغلقت الدفعة"),
    "batch_mismatch": ("declined", "BATCH TOTALS DIFFER, CALL HELPDESK", "اختلاف في المجاميع"),
    "z_overdue": ("declined", "DAY NOT CLOSED: Z REPORT DUE", "يجب إغلاق اليوم"),
    "fiscal_full": ("declined", "FISCAL MEMORY FULL, CALL HELPDESK", "الذاكرة الضريبية ممتلئة"),
    "fiscal_refused": ("declined", "FISCAL MEMORY LOCKED, CALL HELPDESK", "الذاكرة الضريبية مقفلة"),
    "fiscal_failed": ("declined", "FISCAL RECORD FAILED, REVERSED", "تعذر التسجيل الضريبي"),
}

# Host response code -> message key (docs/acquirer.md, response codes).
RESPONSE_MESSAGES = {
    "00": "approved",
    "51": "insufficient_funds",
    "55": "incorrect_pin",
    "75": "pin_tries_exceeded",
    "54": "expired_card",
    "61": "over_limit",
    "13": "declined",
    "57": "not_permitted",
    "14": "invalid_card",
    "41": "declined",
    "43": "declined",
    "05": "declined",
    "91": "issuer_unavailable",
    "96": "host_error",
    "30": "host_error",
    "63": "host_error",
    "94": "host_error",
}


def for_response(code: "str | None") -> str:
    if code is None:
        return "host_timeout"
    return RESPONSE_MESSAGES.get(code, "declined")


class Ui:
    def __init__(self, screen: "object" = None, emit: "object" = None) -> None:
        self.screen = screen
        self.emit = emit
        self.shown: "list[str]" = []

    def show(self, key: str, amount: "int | None" = None) -> None:
        name, text, arabic = MESSAGES[key]
        self.shown.append(key)
        if self.emit is not None:
            self.emit("UI", {"screen": name, "message": key, "text": text})  # type: ignore[operator]
        if self.screen is not None:
            from firmware.drivers.display import screens

            values = {"detail": text, "currency": "JOD", "merchant": "", "hint": text}
            if amount is not None:
                values["amount"] = money(amount)
            if name == "approved":
                values["approved_ar"] = arabic
            if name == "idle":
                values["welcome_ar"] = arabic
            screens.render(self.screen, name, values)
