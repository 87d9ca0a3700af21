"""Conformance runner: checks an implementation against the vectors of conformance/ (SPEC.md §9).

``suite`` finds and loads a suite, ``values`` turns decoded documents into the
manifest's JSON form, ``compare`` says what differs, ``impl`` runs the Python
codec or an external program through the adapter protocol, ``candid`` reads
``dfx`` output, and ``runner`` ties them together for the CLI.
"""

from __future__ import annotations

from .suite import Suite, Vector, find_suite, load_suite

__all__ = ["Suite", "Vector", "find_suite", "load_suite"]
