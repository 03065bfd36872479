"""TEST personalisation keys of the SE emulator (never for production).

A new state file made with ``personalise="test"`` holds these, so that a
TEST TSM, the tests and the demo can wrap DUKPT keys for it and unlock it:

- ``TEST_KBPK``: the AES-256 key-block protection key under which LOAD_DUKPT
  accepts TR-31 version D blocks until the first KEY_AGREE replaces it with
  the transport key agreed with the TSM (docs/secure-element.md);
- ``TEST_UNLOCK_KEY``: the AES-128 key the TSM MACs an UNLOCK with;
- ``TEST_TSM_KEY_LOADING_PUBLIC``: the TSM key-loading key's public point
  (P-256, SEC1 uncompressed), installed at personalisation like a CA key:
  KEY_AGREE accepts an ephemeral key only with its signature.  The private
  scalar ``TEST_TSM_KEY_LOADING_PRIVATE`` (= SHA-256("payterm TEST TSM
  key-loading key 1")) is published here for the TEST TSM
  (``hsm_sim.tsm.keys``) and the tests.
"""

TEST_KBPK = bytes.fromhex("5345544553542D4B42504B2D4145533235362D303030312D7061797465726D21")
TEST_UNLOCK_KEY = bytes.fromhex("53452D554E4C4F434B2D544553542D31")
TEST_TSM_KEY_LOADING_PRIVATE = bytes.fromhex(
    "d00f77d5d94ae77beb1f6ab8c74c866f6be68ee44eb160bd4630e13ad41f6d42"
)
TEST_TSM_KEY_LOADING_PUBLIC = bytes.fromhex(
    "04df3ab05fcaa08b9fa8f7331caf08084e2a6b7f229893c90635d92996333e47a8"
    "243e973c14fb68384bc0bf888915194593c9037ea7fbb4c7c512bb516c700160"
)
