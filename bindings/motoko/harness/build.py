#!/usr/bin/env python3
"""Compile a Motoko actor of this binding for the IC target, unless its .wasm is newer than every source.

`python3 bindings/motoko/harness/build.py [ENTRY.mo [OUT.wasm]]` (default: harness/Adapter.mo into
build/Adapter.wasm) prints the module's path. The Adapter actor implements the canister conformance convention
(`tensorcbor_conformance`), so the module is what `tensorcbor conformance run --canister` and
`python3 -m tensorcbor.fuzz --impl motoko` install under the IC emulation; tests and bench/bench_motoko.py
import `build` for their own entries. Needs `npm install --prefix bindings/motoko` (the pinned compiler).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
ADAPTER_SRC = ROOT / "harness" / "Adapter.mo"
ADAPTER_WASM = BUILD / "Adapter.wasm"


def _sources() -> list[Path]:
    return sorted([*(ROOT / "src").glob("*.mo"), *(ROOT / "harness").glob("*.mo"), ROOT / "scripts" / "build.js"])


def build(entry: Path = ADAPTER_SRC, wasm: Path = ADAPTER_WASM, target: str = "ic") -> Path:
    """Compile `entry` with the npm compiler (scripts/build.js) unless `wasm` is newer than every source."""
    if wasm.exists() and wasm.stat().st_mtime >= max(p.stat().st_mtime for p in [*_sources(), entry]):
        return wasm
    if not (ROOT / "node_modules" / "motoko").exists():
        raise RuntimeError("the Motoko compiler is not installed: run `npm install --prefix bindings/motoko`")
    subprocess.run(["node", str(ROOT / "scripts" / "build.js"), "--target", target, str(wasm.parent), str(entry)],
                   check=True, cwd=ROOT)
    built = wasm.parent / entry.with_suffix(".wasm").name
    if built != wasm:
        built.replace(wasm)
    return wasm


def main(argv: list[str]) -> int:
    if len(argv) > 2 or any(a.startswith("-") for a in argv):
        sys.stderr.write("usage: build.py [ENTRY.mo [OUT.wasm]]\n")
        return 2
    entry = Path(argv[0]).resolve() if argv else ADAPTER_SRC
    wasm = Path(argv[1]).resolve() if len(argv) > 1 else (ADAPTER_WASM if not argv else BUILD / f"{entry.stem}.wasm")
    try:
        print(build(entry, wasm))
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        sys.stderr.write(f"build.py: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
