"""Shared test configuration: a hypothesis profile that keeps the whole suite fast; torch required when asked."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

if os.environ.get("TENSORCBOR_REQUIRE_TORCH"):  # scripts/test-all.sh installed torch: its tests must run, not skip
    import torch  # noqa: F401

settings.register_profile(
    "tensorcbor",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("tensorcbor")
