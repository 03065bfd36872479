"""The terminal's half of ``payterm demo`` (foundation stage).

Runs on the sim board under the MicroPython unix port: power-on self-test,
sign-on to the acquirer host over the board's network link, a CliQ QR sale
(payload, QR symbol, receipt bytes).  It prints one JSON document on stdout
for the host half to check.  As the terminal application grows (EMV kernels,
fiscal journal), this becomes its boot-and-sale path.

Usage: micropython -m firmware.demo AMOUNT STAN
"""

import json
import sys

import boards
from firmware import selftest
from firmware.hostlink import HostLink
from protocols import qr
from protocols.crypto.cryptolib_aes import CryptolibAes
from protocols.emvqr_cliq import cliq_dynamic
from protocols.escpos import EscPosBuilder
from protocols.iso8583_specs import PAYTERM_1987

TERMINAL_ID = "PT000001"
MERCHANT_ID = "000000000123456"
MERCHANT_NAME = "PAYTERM DEMO SHOP"
MERCHANT_NAME_AR = "متجر بيترم"
MERCHANT_CITY = "AMMAN"
MCC = "5411"
CLIQ_ALIAS = "PAYTERM"


def _hex(data):
    return "".join("%02X" % b for b in data)


def _mmddhhmmss(dt):
    return "%02d%02d%02d%02d%02d" % (dt[1], dt[2], dt[4], dt[5], dt[6])


def sign_on(link, stan, dt):
    request = {
        "t": "0800",
        "7": _mmddhhmmss(dt),
        "11": stan,
        "24": "003",
        "41": TERMINAL_ID,
        "42": MERCHANT_ID,
        "70": "001",
    }
    response = link.exchange(request)
    return {"stan": stan, "response_code": response.get("39")}


def receipt(payload, amount, reference, dt):
    p = EscPosBuilder()
    p.initialize()
    p.set(align="center", bold=True, double_width=True, double_height=True)
    p.textln(MERCHANT_NAME)
    p.set(align="center", bold=False, normal_textsize=True)
    p.textln(MERCHANT_CITY)
    p.textln("%04d-%02d-%02d %02d:%02d" % (dt[0], dt[1], dt[2], dt[4], dt[5]))
    p.set(align="left")
    p.textln("TID %s  REF %s" % (TERMINAL_ID, reference))
    p.set(bold=True)
    p.textln("AMOUNT JOD %s" % amount)
    p.set(bold=False, align="center")
    p.textln("Scan to pay with CliQ")
    p.qr(payload, size=6)
    p.cut()
    return p.output


def main(argv):
    amount = argv[1] if len(argv) > 1 else "12.500"
    stan = argv[2] if len(argv) > 2 else "000001"
    report = {}

    results = selftest.run(CryptolibAes)
    report["selftest"] = [{"name": n, "ok": ok, "detail": d} for n, ok, d in results]
    if not all(ok for _n, ok, _d in results):
        print(json.dumps(report))
        return 1

    board = boards.open_board("sim")
    dt = board.rtc().datetime()
    try:
        link = HostLink(board.bus_for("acquirer"), PAYTERM_1987)
        report["sign_on"] = sign_on(link, stan, dt)

        reference = "T" + stan
        payload = cliq_dynamic(
            "ALIAS",
            CLIQ_ALIAS,
            MERCHANT_NAME,
            MERCHANT_CITY,
            MCC,
            amount,
            reference=reference,
            name_ar=MERCHANT_NAME_AR,
            terminal_label=TERMINAL_ID,
        )
        symbol = qr.encode(payload, ecc="M")
        report["qr"] = {
            "payload": payload,
            "version": symbol.version,
            "ecc": symbol.ecc,
            "mask": symbol.mask,
            "rows": [_hex(row) for row in symbol.matrix],
        }
        report["receipt"] = _hex(receipt(payload, amount, reference, dt))
    finally:
        board.deinit()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
