"""The EMV contact kernel (EMV 4.3 Book 3): selection, the transaction flow
and its trace (docs/emv.md)."""
