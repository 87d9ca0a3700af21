"""Differential fuzzing of tensorcbor implementations (the Python codec, the Rust and Motoko bindings).

Inputs are documents drawn from ``tensorcbor.testing`` plus the conformance vectors,
edited by structure-aware mutations (``mutate``); every implementation decodes each
input through the adapter protocol (``drivers``); verdicts, error codes, byte
offsets and decoded content are compared, and each disagreement is minimised to a
small hex reproducer (``campaign``). Seeded and deterministic::

    python3 -m tensorcbor.fuzz --impl python --impl rust --count 1000000 --seed 1 --findings fuzz-findings

With ``--streams SHARE`` a share of the inputs are chunk sequences sent through the stream
adapter protocol (op "stream", ``streams``): every implementation compared must speak it.
"""

from __future__ import annotations

from .campaign import Finding, Report, classify, minimize, run_campaign
from .drivers import AdapterDriver, PythonDriver, resolve

__all__ = ["AdapterDriver", "Finding", "PythonDriver", "Report", "classify", "minimize", "resolve", "run_campaign"]
