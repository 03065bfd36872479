"""EMV contactless in the firmware: the Entry Point (Book B) and two kernels,
Visa-like qVSDC (Kernel 3) and Mastercard-like (Kernel 2).  See
docs/contactless.md.

    from firmware.emv.contactless.entry_point import EntryPoint
    outcome = EntryPoint(rng=board_rng, capks=capks).start(target, txn)
"""
