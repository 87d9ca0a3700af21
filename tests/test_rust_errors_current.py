"""The Rust binding's error registry (bindings/rust/src/error_codes.rs) is generated from errors.py and current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tensorcbor.errors import REGISTRY

ROOT = Path(__file__).resolve().parent.parent


def test_rust_error_codes_are_generated_from_the_registry() -> None:
    spec = importlib.util.spec_from_file_location("gen_rust_errors", ROOT / "scripts" / "gen_rust_errors.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    current = (ROOT / "bindings" / "rust" / "src" / "error_codes.rs").read_text(encoding="utf-8")
    assert current == gen.render(REGISTRY), "stale: run python3 scripts/gen_rust_errors.py"
    for code, _ in REGISTRY:
        assert f'=> "{code}",' in current
