"""The compiled bundle reader (tensorcbor._native, bindings/python-accel) against the pure-Python reference.

The compiled reader answers rejections itself. So the properties are (1) it accepts exactly
the valid bundles (every conformance vector, random and mutated bundles), (2) what it accepts
reads back identically on both paths, and (3) its verdicts are the reference's: the same code
and offset (the message is the registry's text for the code), and for every tensor read
lazily the same bytes or the same error. Plus the boundary rules: buffers others may write
are copied before Rust reads them, and no panic reaches Python.

scripts/test-all.sh builds the package with cargo and sets TENSORCBOR_REQUIRE_ACCEL=1, so
there these tests fail rather than skip when the compiled reader is missing.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorcbor
from tensorcbor import (
    BlockArray,
    DecodeError,
    LayoutEntry,
    accel,
    decode_bundle,
    encode_bundle,
    load_file,
    read_layout,
    save_file,
)
from tensorcbor.bundle import _parse, parse_bundle
from tensorcbor.conformance import load_suite
from tensorcbor.fuzz.campaign import generate
from tensorcbor.fuzz.corpus import build_corpus
from tensorcbor.testing import bundle_blobs

native: Any
try:
    from tensorcbor import _native as native
except ImportError:
    native = None

if native is None or not accel.available():
    if os.environ.get("TENSORCBOR_REQUIRE_ACCEL"):
        raise RuntimeError(f"TENSORCBOR_REQUIRE_ACCEL is set but the accelerator is not in use: {accel.status()}")
    pytest.skip(f"the accelerator is not in use ({accel.status()})", allow_module_level=True)

SUITE = load_suite()
BUNDLES = [v for v in SUITE.vectors if v.record["kind"] == "bundle"]
CORE = [v for v in BUNDLES if v.record["profile"] == "core"]


@pytest.fixture
def pure() -> Iterator[None]:
    was = accel.use(False)
    try:
        yield
    finally:
        accel.use(was)


def _outcome(data: Any, check_elements: bool, on: bool) -> Any:
    """What parse_bundle gives with the accelerator `on` or off: the infos, metadata and every tensor (dtype,
    shape and bytes, or the error reading it raises), or the error (code, offset, message)."""
    was = accel.use(on)
    try:
        b = parse_bundle(data, check_elements=check_elements)
        arrays: list[Any] = []
        for name in b:
            try:
                arr = b[name]
            except DecodeError as exc:
                arrays.append((name, exc.code, exc.offset, str(exc)))  # both paths: the reference's check
                continue
            if isinstance(arr, BlockArray):
                arrays.append((name, arr.dtype, arr.shape, arr.data.tobytes()))
            elif arr.dtype.kind in "OTU":  # strings
                arrays.append((name, str(arr.dtype), arr.shape, arr.tolist()))
            else:
                arrays.append((name, str(arr.dtype), arr.shape, np.ascontiguousarray(arr).tobytes()))
        infos = [(n, i.dtype.code, i.shape, i.offset, i.nbytes) for n, i in b._infos.items()]
        return "ok", infos, repr(b.metadata), arrays  # repr: NaN equals NaN, -0.0 differs from 0.0
    except DecodeError as exc:
        return "error", _verdict(exc)
    finally:
        accel.use(was)


def _verdict(exc: DecodeError) -> tuple[str, int | None]:
    """(code, offset) of an error, after checking its message says both (the compiled reader's message is the
    registry's text for the code, the reference's names the item)."""
    assert str(exc).startswith(f"{exc.code} at byte {exc.offset}: ") and len(str(exc)) > len(exc.code) + 20
    return exc.code, exc.offset


def _both(data: Any, check_elements: bool = True) -> tuple[Any, Any]:
    return _outcome(data, check_elements, True), _outcome(data, check_elements, False)


def _reference_error(data: bytes, check_elements: bool) -> DecodeError | None:
    try:
        _parse(data, True, check_elements)
    except DecodeError as exc:
        return exc
    return None


def test_the_status_line_names_the_compiled_reader() -> None:
    assert accel.status().startswith(f"compiled (Rust, tensorcbor._native {native.__version__}")
    out = subprocess.run([sys.executable, "-m", "tensorcbor", "--version"], capture_output=True, text=True,
                         check=True).stdout
    assert "bundle reader: compiled (Rust, tensorcbor._native" in out


def test_the_environment_variable_turns_it_off() -> None:
    code = "import tensorcbor.accel as a; print(a.available(), a.status())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TENSORCBOR_NO_ACCEL": "1"}).stdout
    assert out.startswith("False off (TENSORCBOR_NO_ACCEL is set)")


def test_an_accelerator_for_another_spec_version_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    stale = types.SimpleNamespace(__version__="0.9.0", FORMAT_VERSION=1, SPEC_VERSION="0.9")
    monkeypatch.setitem(sys.modules, "tensorcbor._native", stale)
    monkeypatch.delattr(tensorcbor, "_native", raising=False)
    module, why = accel._load()
    assert module is None and "SPEC.md 0.9" in why and "not used" in why


@pytest.mark.parametrize("vector", CORE, ids=lambda v: v.id)
def test_native_verdicts_match_the_reference_on_every_core_bundle_vector(vector: Any) -> None:
    data = vector.data()
    for check_elements in (True, False):
        ref = _reference_error(data, check_elements)
        try:
            index = native.index_bundle(data, check_elements)
        except native.Rejected as exc:
            assert ref is not None, f"rejected a bundle the reference accepts: {exc.args}"
            assert exc.args == (ref.code, ref.offset)
            continue
        assert ref is None, f"accepted what the reference rejects with {ref}"
        if index is None:  # a string tensor: left to the reference
            assert any(e["dtype"] == "string" for e in vector.record["expected"]["tensors"])
            continue
        assert vector.record["verdict"] == "valid" or not check_elements
        assert index.base % 8 == 0 and data[index.base] >> 5 == 4


@pytest.mark.parametrize("vector", BUNDLES, ids=lambda v: v.id)
def test_both_paths_give_the_same_result_for_every_bundle_vector(vector: Any) -> None:
    data = vector.data()
    for check_elements in (True, False):
        fast, ref = _both(data, check_elements)
        assert fast == ref


def _layout(data: Any) -> Any:
    try:
        return [tuple(e) for e in read_layout(data)]
    except DecodeError as exc:
        return _verdict(exc), exc.needed


@pytest.mark.parametrize("vector", BUNDLES, ids=lambda v: v.id)
def test_read_layout_is_the_same_on_both_paths_for_every_bundle_vector_and_its_prefixes(vector: Any) -> None:
    data = vector.data()
    cuts = sorted({len(data), len(data) - 1, len(data) // 2, 64, 16, 5} - {-1})
    for cut in cuts:
        prefix = data[:cut]
        fast = _layout(prefix)
        was = accel.use(False)
        try:
            ref = _layout(prefix)
        finally:
            accel.use(was)
        assert fast == ref, cut


def test_read_layout_of_a_file_uses_the_accelerator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tensors = {f"layer.{i}": np.full((2, 3), i, np.float32) for i in range(50)}
    path = tmp_path / "m.tcb"
    save_file(tensors, path)
    calls: list[int] = []
    real = native.read_layout
    monkeypatch.setattr(native, "read_layout", lambda *a: calls.append(1) or real(*a))
    rows = read_layout(path)
    assert calls == [1] and all(type(r) is LayoutEntry for r in rows)
    data = path.read_bytes()
    for r in rows:
        assert data[r.offset:r.offset + r.nbytes] == tensors[r.name].tobytes()


def test_only_element_errors_are_deferred_by_the_lazy_index() -> None:
    deferred = 0
    for v in CORE:
        if v.record.get("error") != "INVALID_ELEMENT":
            continue
        try:
            native.index_bundle(v.data(), False)
            deferred += 1
        except native.Rejected as exc:
            assert exc.args[0] != "INVALID_ELEMENT"
    assert deferred >= 1


def _sample() -> dict[str, Any]:
    rng = np.random.default_rng(3)
    return {
        "w": rng.standard_normal((3, 5)).astype(np.float32),
        "h": rng.standard_normal(7).astype(ml_dtypes.bfloat16),
        "mask": np.array([True, False, True]),
        "i4": np.array([1, -2, 3], dtype=ml_dtypes.int4),
        "empty": np.zeros((0, 3), np.int64),
        "scalar": np.float64(2.5),
    }


def test_the_native_index_is_a_mapping_in_wire_order() -> None:
    doc = encode_bundle(_sample(), {"format": "pt", "n": [1, 2]})
    b = decode_bundle(doc)
    assert isinstance(b._infos, accel.NativeInfos)
    assert list(b) == sorted(_sample(), key=lambda n: (len(n.encode()), n.encode()))
    assert len(b) == 6 and "w" in b and "nope" not in b and 3 not in b
    with pytest.raises(KeyError):
        b["nope"]
    with pytest.raises(KeyError):
        b[3]  # type: ignore[index]
    assert b.metadata == {"format": "pt", "n": [1, 2]}
    info = b.info("w")
    assert (info.dtype.name, info.shape, info.nbytes) == ("float32", (3, 5), 60)
    assert doc[info.offset:info.offset + 60] == _sample()["w"].tobytes()
    for name, arr in _sample().items():
        got = b[name]
        assert got.dtype == arr.dtype and np.array_equal(got, arr)
        assert not got.flags.writeable
    assert repr(b) == repr(_parse(doc, True, False)[0])


def test_a_buffer_at_an_odd_address_gives_aligned_copies() -> None:
    doc = encode_bundle(_sample())
    shifted = memoryview(bytearray(b"\0" + doc))[1:]
    b = decode_bundle(shifted)
    assert isinstance(b._infos, accel.NativeInfos)
    arr = b["w"]
    assert arr.flags.aligned and np.array_equal(arr, _sample()["w"])
    assert _both(shifted) == _both(doc)[:1] * 2


def test_load_file_defers_element_checks_like_the_reference(tmp_path: Path) -> None:
    doc = bytearray(encode_bundle({"a": np.ones(4, np.float32), "m": np.array([True, False])}))
    m_at = decode_bundle(bytes(doc)).info("m").offset
    doc[m_at] = 2  # an invalid bool: structure intact
    path = tmp_path / "bad.tcb"
    path.write_bytes(bytes(doc))
    errors = []
    for on in (True, False):
        was = accel.use(on)
        try:
            b = load_file(path)
            assert isinstance(b._infos, accel.NativeInfos) == on
            assert np.array_equal(b["a"], np.ones(4, np.float32))
            with pytest.raises(DecodeError) as exc:
                b["m"]
            errors.append(_verdict(exc.value))
            with pytest.raises(DecodeError) as exc:
                decode_bundle(bytes(doc))
            errors.append(_verdict(exc.value))
        finally:
            accel.use(was)
    assert errors[0] == errors[1] == errors[2] == errors[3] == ("INVALID_ELEMENT", m_at)


def test_strings_compression_and_lenient_mode_go_to_the_reference(tmp_path: Path, pure: None) -> None:
    with_strings = encode_bundle({"s": np.array(["a", "bc"]), "x": np.arange(3, dtype=np.int32)})
    accel.use(True)
    assert native.index_bundle(with_strings, True) is None
    b = decode_bundle(with_strings)
    assert not isinstance(b._infos, accel.NativeInfos) and list(b["s"]) == ["a", "bc"]
    assert not isinstance(parse_bundle(encode_bundle(_sample()), strict=False)._infos, accel.NativeInfos)
    if tensorcbor.compression.available():
        packed = encode_bundle({"z": np.zeros(1000, np.float32)}, compression="zstd")
        with pytest.raises(native.Rejected) as exc:
            native.index_bundle(packed, True)
        assert exc.value.args[0] == "UNSUPPORTED_COMPRESSION"
        assert np.array_equal(decode_bundle(packed)["z"], np.zeros(1000, np.float32))


def test_save_and_load_a_model_sized_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tensors = {f"model.layers.{i:03d}.mlp.weight": rng.standard_normal((8, 4)).astype(np.float16) for i in range(300)}
    path = tmp_path / "m.tcb"
    save_file(tensors, path, {"format": "pt"})
    with load_file(path) as b:
        assert isinstance(b._infos, accel.NativeInfos)
        assert list(b) == sorted(tensors) and b.metadata == {"format": "pt"}
        for name in ("model.layers.000.mlp.weight", "model.layers.299.mlp.weight"):
            assert np.array_equal(b[name], tensors[name])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bundle_blobs())
def test_random_bundles_read_the_same_on_both_paths(blob: bytes) -> None:
    fast, ref = _both(blob)
    assert fast == ref and fast[0] == "ok"


@st.composite
def mutated_bundles(draw: Any) -> bytes:
    """A valid bundle with one byte changed, inserted or cut off, or bytes appended."""
    blob = draw(bundle_blobs(max_tensors=4))
    i = draw(st.integers(0, len(blob) - 1))
    op = draw(st.sampled_from(("flip", "set", "truncate", "extend", "insert")))
    if op == "flip":
        return blob[:i] + bytes((blob[i] ^ (1 << draw(st.integers(0, 7))),)) + blob[i + 1:]
    if op == "set":
        return blob[:i] + bytes((draw(st.integers(0, 255)),)) + blob[i + 1:]
    if op == "truncate":
        return blob[:i]
    if op == "extend":
        return blob + draw(st.binary(min_size=1, max_size=8))
    return blob[:i] + draw(st.binary(min_size=1, max_size=2)) + blob[i:]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_bundles())
def test_mutated_bundles_get_the_same_verdict_on_both_paths(blob: bytes) -> None:
    for check_elements in (True, False):
        fast, ref = _both(blob, check_elements)
        assert fast == ref


def test_fuzzed_bundles_read_lazily_the_same_on_both_paths() -> None:
    """The fuzzer's structure-aware mutations of bundles, read as load_file reads (element checks on first access):
    every outcome, down to each tensor's bytes or error, is the same on both paths. CI runs 5,000 inputs; a long
    run: TENSORCBOR_ACCEL_FUZZ_COUNT=1000000 python3 -m pytest tests/test_accel.py -k fuzzed."""
    count = int(os.environ.get("TENSORCBOR_ACCEL_FUZZ_COUNT", "5000"))
    seed = 20261124
    corpus = [s for s in build_corpus(seed, 400, extended=True) if s[0] == "bundle"]
    rng = random.Random(seed)
    accepted = 0
    for _ in range(count):
        _, data, _, _ = generate(corpus, rng)
        fast, ref = _both(data, False)
        assert fast == ref, data.hex()
        accepted += fast[0] == "ok"
    assert accepted > count // 100

