"""Vector generators, one module per (profile, verdict).

Each module defines ``PROFILE`` and ``vectors() -> Iterator[Vector]``. To add a
profile (e.g. "stream", "extended"), write its modules and append them to
``MODULES``; ids must stay unique across the whole suite.
"""

from __future__ import annotations

from types import ModuleType

from . import core_invalid, core_invalid_dtypes, core_valid, extended_invalid, extended_valid

MODULES: list[ModuleType] = [core_valid, core_invalid, core_invalid_dtypes, extended_valid, extended_invalid]
PROFILES: frozenset[str] = frozenset(m.PROFILE for m in MODULES)

# Registry codes that only a profile without generator modules yet can produce. Once that profile's
# modules are in MODULES, tests/test_conformance_suite.py requires a vector for each of its codes.
PENDING_PROFILE_CODES: dict[str, str] = {
    **{code: "stream" for code in ("STREAM_DIGEST_MISMATCH", "WRONG_STREAM", "CHUNK_OUT_OF_RANGE",
                                   "DUPLICATE_CHUNK", "CHUNK_OUT_OF_ORDER", "MISSING_CHUNK", "CHUNK_DIGEST_MISMATCH",
                                   "CHUNK_TOO_LARGE", "STREAM_LENGTH_MISMATCH", "DOCUMENT_DIGEST_MISMATCH",
                                   "INVALID_CHUNK_SIZE", "QUOTA_EXCEEDED")},
}
# The stream codes of format 1.0; conformance/stream-v1 covers them (tests/test_stream_vectors.py).
PENDING_PROFILE_CODES.update({"INVALID_CHUNK_SIZE": "stream", "QUOTA_EXCEEDED": "stream"})
