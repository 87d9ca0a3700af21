"""Shared test configuration: a hypothesis profile that keeps the whole suite fast."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "tensorcbor",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("tensorcbor")
