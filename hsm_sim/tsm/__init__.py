"""The TSM (terminal security management) emulator: device enrolment with
X.509 certificates from its CA, renewal, revocation and status, signed
parameter documents, initial DUKPT key loading as TR-31 blocks, signed OTA
packages (docs/tsm.md)."""
