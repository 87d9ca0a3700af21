"""The Motoko tensor-store (examples/motoko-store) fuzzed as deployed, through its `tensorcbor_conformance` query
(issue 24), beside Python and the binding's own adapter canister (`--impl motoko`, harness/Adapter.mo). Its core and
stream suite runs through `tensorcbor conformance run --canister` are in tests/test_canister_conformance.py (STORES).

Both canisters answer through the binding's Conformance module (bindings/motoko/src/Conformance.mo) on its
decoder, encoder and stream receivers (Stream.mo, the receiver the store's upload uses). Without node, the npm
motoko compiler or ic-wasm (`npm ci --prefix examples`) these tests FAIL, not skip.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

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
