"""The JavaScript binding's tables (bindings/js/src/generated.ts) are generated from dtypes.py and errors.py and
current."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from tensorcbor import dtypes
from tensorcbor.errors import REGISTRY
from tensorcbor.versions import FORMAT_VERSION, SPEC_VERSION

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


def test_js_package_states_the_format_version() -> None:
    package = json.loads((ROOT / "bindings" / "js" / "package.json").read_text(encoding="utf-8"))
    assert package["version"].split(".")[0] == str(FORMAT_VERSION)
    current = (ROOT / "bindings" / "js" / "src" / "generated.ts").read_text(encoding="utf-8")
    assert f"export const FORMAT_VERSION = {FORMAT_VERSION};" in current
    assert f'export const SPEC_VERSION = "{SPEC_VERSION}";' in current
