"""Differential fuzzing of tensorcbor implementations (the Python codec, the Rust and Motoko bindings).

Inputs are documents drawn from ``tensorcbor.testing`` plus the conformance vectors,
edited by structure-aware mutations (``mutate``); every implementation decodes each
input through the adapter protocol (``drivers``); verdicts, error codes, byte
offsets and decoded content are compared, and each disagreement is minimised to a
small hex reproducer (``campaign``). Seeded and deterministic::

    python3 -m tensorcbor.fuzz --impl python --impl rust --count 1000000 --seed 1 --findings fuzz-findings

Streams (chunk sequences) are not fuzzed yet: the stream adapter protocol does not
exist on this branch; ``drivers.Driver`` and ``campaign.generate`` are where a
``stream`` kind would plug in (a request carrying a list of chunks, answered with the
receiver's verdict per chunk).
"""

from __future__ import annotations

from .campaign import Finding, Report, classify, minimize, run_campaign
from .drivers import AdapterDriver, PythonDriver, resolve

__all__ = ["AdapterDriver", "Finding", "PythonDriver", "Report", "classify", "minimize", "resolve", "run_campaign"]
