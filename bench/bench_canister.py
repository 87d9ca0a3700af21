"""Costs of tensorcbor inside canisters (issue 13 §4): one JSON object of measurements.

    python3 bench/bench_canister.py --json              # every measurement
    python3 bench/bench_canister.py --json --only rust_lib_wasm_bytes

A thin driver: each measurement module in MODULES (bench/<name>.py) exports
``MEASUREMENTS: dict[str, Callable[[], dict]]`` (key -> function returning that key and any detail keys).
Modules that do not exist yet are skipped and named under "skipped_modules". Builds what it needs (cargo).
Fuel figures are wasmtime fuel: about one per Wasm operator, a lower bound of IC instructions.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parent
MODULES = ("bench_rust_wasm", "bench_canister_rust", "bench_canister_motoko")


def _load(name: str) -> ModuleType | None:
    path = BENCH / f"{name}.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def measurements() -> tuple[dict[str, Callable[[], dict[str, Any]]], list[str]]:
    """Every key -> measurement function of the modules present, and the modules skipped."""
    found: dict[str, Callable[[], dict[str, Any]]] = {}
    skipped = []
    for name in MODULES:
        module = _load(name)
        if module is None:
            skipped.append(name)
            continue
        for key, fn in module.MEASUREMENTS.items():
            if key in found:
                raise SystemExit(f"measurement key {key!r} defined twice (module {name})")
            found[key] = fn
    return found, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the only output format)")
    parser.add_argument("--only", action="append", default=[], help="run only this key (repeatable)")
    args = parser.parse_args(argv)
    found, skipped = measurements()
    unknown = [k for k in args.only if k not in found]
    if unknown:
        parser.error(f"unknown key(s) {unknown}; known: {sorted(found)}")
    result: dict[str, Any] = {}
    for key, fn in found.items():
        if args.only and key not in args.only:
            continue
        result.update(fn())
    if skipped:
        result["skipped_modules"] = skipped
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
