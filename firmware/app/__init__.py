"""The terminal application: idle -> amount -> card -> PIN -> online -> result
-> receipts -> ready, plus refund, reversal, advices, sign-on/echo and batch
close (docs/app.md).

Modules: ``keys`` (PIN block and MAC behind one interface), ``messages``
(ISO 8583 requests in PAYTERM_1987), ``online`` (MACed exchanges, timeouts,
reversals), ``batch`` (the transaction store and its totals), ``receipt``
(bilingual receipts), ``screens`` (outcome -> screen and message), ``cards``
(tap and insert: the EMV kernels over the drivers), ``terminal`` (the flows)
and ``__main__`` (the unattended entry point ``python -m firmware.app``)."""
