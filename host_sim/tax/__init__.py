"""Tax authority backend (docs/tax.md): device registration, record upload
(real-time and batched, idempotent), verification through the fiscal
verifier (tools/fiscal_verify.py), SQLite storage with a hash-chained audit
log, and compliance alerts."""
