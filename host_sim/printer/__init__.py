"""Virtual ESC/POS thermal printer (docs/printer.md): parses what
python-escpos and the firmware driver send, renders each receipt to PNG and
text, answers status requests, serves a TCP port for the sim board's UART."""

from host_sim.printer.page import Receipt
from host_sim.printer.printer import VirtualPrinter, render
from host_sim.printer.server import PrinterServer

__all__ = ["PrinterServer", "Receipt", "VirtualPrinter", "render"]
