"""Acquirer host: ISO 8583 (PAYTERM_1987) over TCP with a 2-byte length
header, card accounts in SQLite, every cryptographic operation through the
HSM (docs/acquirer.md).  Start one with ``service.HostService.start`` or
``payterm host``; ``seed`` writes the TEST data; ``load`` runs simulated
terminals against it."""
