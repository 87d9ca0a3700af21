"""The Motoko tensor-store (examples/motoko-store) checked as deployed, through its `tensorcbor_conformance` query
(issue 24): the core and stream suites through `tensorcbor conformance run --canister`, and fuzzing beside Python
through `canister:` and `--impl motoko` (the binding's own adapter canister, harness/Adapter.mo).

Both canisters answer through the binding's Conformance module (bindings/motoko/src/Conformance.mo) on its
decoder, encoder and stream receivers (Stream.mo, the receiver the store's upload uses). Without node, the npm
motoko compiler or ic-wasm (`npm ci --prefix examples`) these tests FAIL, not skip.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tensorcbor.conformance.suite import load_suite
from tensorcbor.fuzz.campaign import run_campaign
from tensorcbor.fuzz.drivers import CanisterDriver, PythonDriver, resolve

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import canisters  # noqa: E402


@pytest.fixture(scope="module")
def store_wasm() -> Path:
    try:
        return canisters.build_motoko_store()
    except canisters.BuildError as exc:
        pytest.fail(str(exc))


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tensorcbor", "conformance", "run", *map(str, args)],
                          capture_output=True, text=True, timeout=1800, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})


def _costs(stdout: str) -> list[tuple[str, int, str]]:
    listed = re.findall(r"^  (\S+)\s+([\d,]+)  (\S.*)$", stdout.split("most expensive vectors", 1)[1], re.M)
    return [(vid, int(n.replace(",", "")), ops) for vid, n, ops in listed]


def test_motoko_store_passes_the_core_suite_through_the_command_line(store_wasm: Path) -> None:
    done = _cli("--canister", store_wasm, "--profile", "core", "--lift-message-limit")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "implementation: canister main.wasm (IC emulation)" in done.stdout
    core = [v for v in load_suite().vectors if v.profile == "core"]
    # Every Core vector, the 16 MiB one included (lifted: no IC message carries it, the emulation still does).
    assert re.search(rf"^total\s+{len(core)}\s+0$", done.stdout, re.M), done.stdout[-3000:]
    total = re.search(r"^IC instructions: ([\d,]+) in (\d+) calls", done.stdout, re.M)
    assert total and int(total.group(2)) == len(core) + sum(v.valid for v in core)
    listed = _costs(done.stdout)
    assert len(listed) == 10 and [n for _, n, _ in listed] == sorted((n for _, n, _ in listed), reverse=True)
    # The most expensive call is the 16 MiB metadata vector, rejected as soon as the limit is passed: far
    # below the IC's 5e9 per query.
    assert listed[0][0] == "meta-too-large" and listed[0][1] < 5e8, listed[0]


def test_motoko_store_passes_the_stream_suite_through_the_command_line(store_wasm: Path) -> None:
    done = _cli("--canister", store_wasm, "--suite", "stream", "--top", "3")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(rf"^total\s+{len(load_suite('stream').vectors)}\s+0$", done.stdout, re.M), done.stdout
    assert [ops for _, _, ops in _costs(done.stdout)] and all(
        re.fullmatch(r"stream_\w+(?: \+ stream_\w+)?", ops) for _, _, ops in _costs(done.stdout))


def test_a_campaign_finds_no_disagreement_between_python_the_store_and_the_adapter(store_wasm: Path) -> None:
    """Python, the Motoko store and the binding's adapter canister (`--impl motoko`) on the same mutated
    documents and chunk sequences: same verdicts, codes and offsets, no trap."""
    store = resolve(f"canister:{store_wasm}")
    adapter = resolve("motoko")
    assert isinstance(store, CanisterDriver) and isinstance(adapter, CanisterDriver) and adapter.name == "motoko"
    report = run_campaign([PythonDriver(), store, adapter], 300, seed=5, batch_size=150, stream_share=0.2,
                          minimize_findings=False)
    assert report.inputs == 300
    assert (report.disagreements, report.crashes) == (0, 0), report.summary()
    assert any(k.startswith("stream:") for k in report.codes) and report.codes["valid"] > 0
    assert store.ic_instructions > 0 and adapter.ic_instructions > 0
