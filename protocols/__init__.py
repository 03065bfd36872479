"""Wire formats shared by the firmware and the host.

Pure code, no I/O, in the Python subset that both MicroPython and CPython run
(see DESIGN.md, "Rules of the house").
"""
