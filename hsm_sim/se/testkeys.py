"""TEST personalisation keys of the SE emulator (never for production).

A new state file made with ``personalise="test"`` holds these, so that a
TEST TSM, the tests and the demo can wrap DUKPT keys for it and unlock it:

- ``TEST_KBPK``: the AES-256 key-block protection key under which LOAD_DUKPT
  accepts TR-31 version D blocks (stands in for the transport key the TSM
  will establish with the device);
- ``TEST_UNLOCK_KEY``: the AES-128 key the TSM MACs an UNLOCK with.
"""

TEST_KBPK = bytes.fromhex("5345544553542D4B42504B2D4145533235362D303030312D7061797465726D21")
TEST_UNLOCK_KEY = bytes.fromhex("53452D554E4C4F434B2D544553542D31")
