"""The JavaScript binding's tables (bindings/js/src/generated.ts) are generated from dtypes.py and errors.py and
current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tensorcbor import dtypes
from tensorcbor.errors import REGISTRY

ROOT = Path(__file__).resolve().parent.parent


def test_js_tables_are_generated_from_the_registries() -> None:
    spec = importlib.util.spec_from_file_location("gen_js", ROOT / "scripts" / "gen_js.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    current = (ROOT / "bindings" / "js" / "src" / "generated.ts").read_text(encoding="utf-8")
    assert current == gen.render(), "stale: run python3 scripts/gen_js.py"
    for code, _ in REGISTRY:
        assert f'["{code}", ' in current
    for d in dtypes.TABLE:
        assert f'code: {d.code}, name: "{d.name}"' in current
