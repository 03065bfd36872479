"""The HSM side of payterm (see DESIGN.md).

- ``hsm_sim.crypto``: payment cryptography, one small module per job
  (docs/crypto.md);
- the payment HSM emulator (docs/hsm.md): ``server`` (payShield-style host
  commands over TCP), ``commands`` (one module per command family), ``lmk``
  (AES key-block LMK), ``keystore`` (SQLite keys and audit log), ``service``
  (one or several worker processes), ``client`` (``HsmClient``,
  ``AsyncHsmClient``), ``testkeys`` (TEST key helpers).
"""
