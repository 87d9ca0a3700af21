"""examples/quickstart-motoko: built with the project's pinned compiler (bindings/motoko/scripts/build.js), run
under the IC emulation (tensorcbor.ic), answers checked against numpy, malformed input answered with the typed
error record (never a trap). Without node or the npm `motoko` package (npm install --prefix bindings/motoko) these
tests FAIL, not skip."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tensorcbor
from tensorcbor.dtypes import BY_NAME
from tensorcbor.errors import DecodeError
from tensorcbor.ic import Canister, candid

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import canisters  # noqa: E402

QUICKSTART = ROOT / "examples" / "quickstart-motoko"
NAMES = ["ok", "err", "code", "offset", "message"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quickstart-motoko")
    try:
        return canisters.build_motoko(QUICKSTART / "main.mo", out)
    except canisters.BuildError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def canister(built: Path) -> Canister:
    c = Canister(built.read_bytes())
    c.install()
    return c


def _call(c: Canister, method: str, *args: tuple[Any, Any]) -> tuple[str, Any]:
    tag, value = candid.decode(c.query(method, candid.encode(list(args))).ok(), NAMES)[0]
    return tag, value


def _sum(c: Canister, doc: bytes) -> tuple[str, Any]:
    return _call(c, "sum", ("blob", doc))


def test_the_committed_did_is_what_the_build_writes(built: Path) -> None:
    assert built.with_suffix(".did").read_text() == (QUICKSTART / "main.did").read_text()


def test_the_canister_is_under_60_lines() -> None:
    assert len((QUICKSTART / "main.mo").read_text().splitlines()) < 60


@pytest.mark.parametrize("name", ["float32", "float64", "float16", "bfloat16"])
def test_sum_matches_numpy(canister: Canister, name: str) -> None:
    rng = np.random.default_rng(3)
    for shape in [(0,), (1,), (7, 5), (2, 3, 4), (1000,)]:
        x = rng.standard_normal(shape).astype(BY_NAME[name].np_dtype)
        want = float(np.cumsum(x.astype(np.float64).reshape(-1))[-1]) if x.size else 0.0  # sequential, as Motoko
        assert _sum(canister, tensorcbor.encode(x)) == ("ok", want), (name, shape)


def test_scale_matches_numpy_bit_for_bit(canister: Canister) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 33)).astype(np.float32)
    x.reshape(-1)[:6] = [np.inf, -np.inf, -0.0, 1e-45, 3.4e38, 0.0]
    for factor in [2.5, -0.125, 1e-30, 3.0]:
        tag, doc = _call(canister, "scale", ("blob", tensorcbor.encode(x)), ("float32", factor))
        assert tag == "ok"
        with np.errstate(over="ignore"):
            want = x * np.float32(factor)
        got = tensorcbor.decode(doc)
        assert got.shape == x.shape and got.dtype == np.float32
        nan = np.isnan(want)
        assert np.array_equal(np.isnan(got), nan)
        assert got[~nan].tobytes() == want[~nan].tobytes(), factor
        assert doc == tensorcbor.encode(got)  # the document is the deterministic encoding


def _python_error(doc: bytes) -> DecodeError:
    try:
        tensorcbor.decode(doc)
    except DecodeError as exc:
        return exc
    raise AssertionError("Python accepted the document")


def test_malformed_input_returns_the_typed_error(canister: Canister) -> None:
    good = tensorcbor.encode(np.arange(6, dtype=np.float32).reshape(2, 3))
    bad = [b"", b"\x00" + good[1:], good[:-3], good + b"\x00", good[:6] + b"\x83" + good[7:]]
    for doc in bad:
        exc = _python_error(doc)
        for method, args in (("sum", [("blob", doc)]), ("scale", [("blob", doc), ("float32", 2.0)])):
            tag, err = _call(canister, method, *args)
            assert tag == "err", (method, doc.hex())
            assert (err["code"], err["offset"]) == (exc.code, exc.offset), (method, doc.hex(), err)
            assert err["message"]


def test_wrong_dtype_returns_the_typed_error(canister: Canister) -> None:
    ints = tensorcbor.encode(np.arange(4, dtype=np.int32))
    tag, err = _sum(canister, ints)
    assert (tag, err["code"]) == ("err", "WRONG_DTYPE") and "int32" in err["message"]
    f16 = tensorcbor.encode(np.ones(3, np.float16))
    tag, err = _call(canister, "scale", ("blob", f16), ("float32", 2.0))
    assert (tag, err["code"]) == ("err", "WRONG_DTYPE") and "float16" in err["message"]


def test_mutated_documents_never_trap(canister: Canister) -> None:
    """Every answer to a corrupted document is a reply (ok or the error record with Python's code), never a
    trap or reject."""
    rng = np.random.default_rng(5)
    good = tensorcbor.encode(rng.standard_normal((4, 4)).astype(np.float32))
    for _ in range(60):
        doc = bytearray(good)
        for at in rng.integers(0, len(doc), int(rng.integers(1, 4))):
            doc[at] = int(rng.integers(0, 256))
        doc = doc[:int(rng.integers(1, len(doc) + 1))]
        tag, value = _sum(canister, bytes(doc))
        try:
            tensorcbor.decode(bytes(doc))
        except DecodeError as exc:
            assert (tag, value["code"], value["offset"]) == ("err", exc.code, exc.offset), bytes(doc).hex()
        else:
            assert tag == "ok", bytes(doc).hex()


def test_readme_walkthrough_runs_as_written(built: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Step 3 of the quickstart README, run as a newcomer would (from the repository root), on the module built
    here; what it prints is what the README shows."""
    text = (QUICKSTART / "README.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    exec(compile(code.replace("build/quickstart/main.wasm", str(built)), "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[('ok', 3.75)]"
    assert out[1:3] == ["[[ 3.  -4. ]", " [ 0.5  8. ]]"]
    assert out[3].startswith("[('err', {'code': 'BAD_MAGIC', 'offset': 0, 'message': 'not a tensorcbor document")
