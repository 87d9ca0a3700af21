"""bindings/motoko/scripts/build.js as a canister developer uses it: a multi-file canister outside the repository
(its own modules imported relatively, the library as mo:tensorcbor/...) builds and gets its .did; a large
unrolled module (~500 KB, which overflows the npm compiler's stack at node's default size) builds. Without node
or the npm `motoko` package (npm install --prefix bindings/motoko) these tests FAIL, not skip."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD_JS = ROOT / "bindings" / "motoko" / "scripts" / "build.js"


def _build(entry: Path, out: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None or not (ROOT / "bindings" / "motoko" / "node_modules" / "motoko").exists():
        pytest.fail("node and the npm `motoko` package are needed: npm install --prefix bindings/motoko")
    return subprocess.run([node, str(BUILD_JS), "--target", "ic", str(out), str(entry)],
                          capture_output=True, text=True, timeout=600)


def test_a_multi_file_canister_outside_the_repository_builds_with_its_did(tmp_path: Path) -> None:
    project = tmp_path / "my-canister"
    (project / "Helper").mkdir(parents=True)
    (project / "Helper" / "lib.mo").write_text("module { public func twice(x : Nat) : Nat = 2 * x };\n")
    (project / "main.mo").write_text(
        'import Prim "mo:⛔";\nimport H "Helper/lib";\nimport D "mo:tensorcbor/DTypes";\n'
        "persistent actor {\n"
        "  public query func bits(x : Nat) : async Nat { H.twice(x) + Prim.nat64ToNat(D.FLOAT32.bits) };\n"
        "};\n")
    proc = _build(project / "main.mo", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "main.wasm").read_bytes()[:4] == b"\0asm"
    assert (tmp_path / "out" / "main.did").read_text() == "service : {\n  bits: (x: nat) -> (nat) query;\n}\n"


def test_a_large_unrolled_module_builds(tmp_path: Path) -> None:
    lines = ["persistent actor {", "  public query func f(x : Nat64) : async Nat64 {", "    var a : Nat64 = x;"]
    lines += [f"    a := (a <>> {i % 63 + 1}) ^ (a +% {i * 2654435761 % (1 << 32)});" for i in range(12_000)]
    lines += ["    a;", "  };", "};"]
    entry = tmp_path / "Big.mo"
    entry.write_text("\n".join(lines))
    assert entry.stat().st_size > 450_000
    proc = _build(entry, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "out" / "Big.wasm").is_file()
