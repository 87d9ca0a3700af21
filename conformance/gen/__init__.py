"""Vector generators, one module per (profile, verdict).

Each module defines ``PROFILE`` and ``vectors() -> Iterator[Vector]``. To add a
profile (e.g. "stream", "extended"), write its modules and append them to
``MODULES``; ids must stay unique across the whole suite.
"""

from __future__ import annotations

from types import ModuleType

from . import core_invalid, core_valid

MODULES: list[ModuleType] = [core_valid, core_invalid]
