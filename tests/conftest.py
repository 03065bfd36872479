"""Shared pytest configuration."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Fuzzing and round-trip properties: enough examples to find real bugs while
# the whole suite stays well inside CI's time budget on two cores.
settings.register_profile(
    "default",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# tests/mpy/ holds device-side test modules: they run under MicroPython via
# tests/test_micropython.py, not as pytest modules.
collect_ignore_glob = ["mpy/*"]
