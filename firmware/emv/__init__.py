"""EMV in the firmware: the contact kernel (Book 3) and what it shares with the
contactless kernels: the transaction's tag store, TVR/TSI as data, offline
data authentication (Book 2), the CAPK store and the terminal configuration.
Device code: MicroPython subset, no I/O of its own (docs/emv.md)."""
