"""Card profiles as JSON data (docs/cards.md); a package only so that
setuptools ships the JSON files with host_sim.cards."""
