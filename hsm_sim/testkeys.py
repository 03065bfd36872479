"""TEST key helpers for developers and tests (never for real keys).

- ``block_under_test_lmk``: an ``S`` key block under the published test LMK, for
  loading a known TEST key into an HSM that runs with ``--lmk test``.
- ``import_issuer_keys``: load the TEST issuer master keys the virtual cards
  use (``host_sim.cards.issuer_master_keys``) into a running HSM the way a
  real issuer key would arrive: wrapped under a ZMK (TR-31 version B, usages
  E0 application cryptograms, E2 secure-messaging integrity, E1
  confidentiality) and imported with A6.  Returns the ``S`` blocks under the
  HSM's LMK, which work whatever LMK the HSM runs with.
"""

from __future__ import annotations

from hsm_sim.client import HsmClient
from hsm_sim.crypto import tr31
from hsm_sim.lmk import TEST_LMK_HEX

ISSUER_KEY_USAGES = {"ac": "E0", "smi": "E2", "smc": "E1"}


def block_under_test_lmk(
    usage: str,
    key: bytes,
    algorithm: str = "T",
    mode: str = "N",
    export: str = "E",
    version: str = "00",
) -> str:
    header = tr31.Header("D", usage, algorithm, mode, version, export)
    return "S" + tr31.wrap(bytes.fromhex(TEST_LMK_HEX), header, key)


def import_issuer_keys(
    client: HsmClient, issuer: str, zmk: bytes, zmk_block: str
) -> dict[str, str]:
    """The issuer's TEST master keys imported under ``zmk`` (clear value
    ``zmk``, the same key as ``zmk_block`` under the HSM's LMK)."""
    from host_sim.cards import issuer_master_keys

    out = {}
    for name, value in issuer_master_keys(issuer).items():
        version = "D" if len(zmk) == 32 else "B"
        header = tr31.Header(version, ISSUER_KEY_USAGES[name], "T", "X", "00", "E")
        out[name] = client.import_key(zmk_block, tr31.wrap(zmk, header, value)).key
    return out
