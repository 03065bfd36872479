"""ESC/POS thermal printer driver (docs/printer.md).

from firmware.drivers.printer import Printer
printer = Printer(board.bus_for("printer"), profile="80mm", clock=board.rtc())
r = printer.receipt()
r.header("Shop").item("Tea", "1.500").total("TOTAL", "1.500")
r.arabic("شكراً لزيارتكم 123").qr_code(payload).finish()
printer.print(r)      # PrinterError if paper out / cover open, nothing sent
"""

from firmware.drivers.printer.printer import Printer, PrinterError, Receipt, qr_raster
from firmware.drivers.printer.profiles import PROFILES, for_board, profile

__all__ = ["PROFILES", "Printer", "PrinterError", "Receipt", "for_board", "profile", "qr_raster"]
