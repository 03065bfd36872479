"""TEST keys and certificates of the virtual cards (docs/cards.md); a
package only so that setuptools ships the JSON files with host_sim.cards."""
