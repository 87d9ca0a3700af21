"""The bulk bundle reader (fastbundle.py) accepts nothing the reference parser rejects, with the same result.

Errors always come from the reference parser (the fast path returns None on any doubt),
so the one property to prove is soundness: whenever the fast path accepts a document,
the reference parser accepts it with the same tensors, metadata and layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from tensorcbor import BlockArray, DecodeError, decode_bundle, encode_bundle, load_file, read_layout, save_file
from tensorcbor.bundle import BundlePrefix, _parse
from tensorcbor.cbor import Reader
from tensorcbor.fastbundle import read_bundle, read_prefix

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = json.loads((ROOT / "conformance" / "v1" / "manifest.json").read_text())
BUNDLES = [v for v in MANIFEST["vectors"] if v["kind"] == "bundle"]


def _reference(data: bytes) -> tuple[dict, dict, list] | DecodeError:
    try:
        bundle, prefix = _parse(data, True, False)
    except DecodeError as exc:
        return exc
    infos = {n: (i.dtype.code, i.shape, i.offset, i.nbytes) for n, i in bundle._infos.items()}
    return infos, bundle.metadata, prefix.layout()


def _fast(data: bytes) -> tuple[dict, dict, list] | None:
    found = read_bundle(data, True)
    if found is None:
        return None
    table, metadata = found
    infos = {n: (d.code, s, table.base + o, ln) for n, d, s, o, ln in
             zip(table.names, table.dtypes, table.shapes, table.offsets, table.nbytes, strict=True)}
    return infos, metadata, table.layout()


def _samples() -> list[bytes]:
    rng = np.random.default_rng(7)
    docs = [
        encode_bundle({}),
        encode_bundle({"a": np.arange(3, dtype=np.float32)}, {"k": "v", "n": [1, 2.5]}),
        encode_bundle({"w" * 30: np.ones((2, 3), np.float64), "b": np.arange(5, dtype=np.int8),
                       "h": rng.standard_normal(7).astype(ml_dtypes.bfloat16), "z": np.zeros((0, 4), np.int16),
                       "s": np.float32(2.0)}),
        encode_bundle({f"t{i:03d}": np.full((4, 4), i, np.float32) for i in range(40)}),
    ]
    return docs


def _mutations(doc: bytes) -> list[bytes]:
    out = []
    for i in range(len(doc)):
        b = doc[i]
        for v in {0x00, 0x01, 0x17, 0x18, 0x1f, 0x40, 0x5f, 0x60, 0x7f, 0x80, 0x85, 0x87, 0x9f, 0xc2, 0xd8,
                  0xf5, 0xf9, 0xff, b ^ 0x01, b ^ 0x08, b ^ 0x20, (b + 1) & 0xFF, (b - 1) & 0xFF} - {b}:
            out.append(doc[:i] + bytes((v,)) + doc[i + 1:])
        out.append(doc[:i] + doc[i + 1:])
        out.append(doc[:i] + b"\x00" + doc[i:])
    out.append(doc + b"\x00")
    return out


@pytest.mark.parametrize("doc", _samples(), ids=["empty", "one", "mixed", "forty"])
def test_valid_bundles_take_the_fast_path_with_the_reference_result(doc: bytes) -> None:
    fast = _fast(doc)
    assert fast is not None
    assert fast == _reference(doc)


@pytest.mark.parametrize("doc", _samples(), ids=["empty", "one", "mixed", "forty"])
def test_fast_path_accepts_no_mutation_the_reference_rejects(doc: bytes) -> None:
    accepted = 0
    for mutated in _mutations(doc):
        fast = _fast(mutated)
        if fast is None:
            continue
        accepted += 1
        assert repr(fast) == repr(_reference(mutated)), mutated.hex()
    assert accepted < len(_mutations(doc))


@pytest.mark.parametrize("vector", BUNDLES, ids=[v["id"] for v in BUNDLES])
def test_conformance_bundles(vector: dict) -> None:
    data = (ROOT / "conformance" / "v1" / vector["file"]).read_bytes()
    ref = _reference(data)
    fast = _fast(data)
    if fast is not None:  # an element error (SPEC.md §7.2) is not the fast path's to find
        assert repr(fast) == repr(ref)
    # Through the public API: the same verdict, code and offset as the reference parser alone.
    assert _outcome(lambda: decode_bundle(data)) == _outcome(lambda: _parse(data, True, True))
    if vector["verdict"] == "valid":
        assert _outcome(lambda: decode_bundle(data)) is None


def _outcome(fn: object) -> tuple[str, int | None] | None:
    try:
        fn()  # type: ignore[operator]
    except DecodeError as exc:
        return exc.code, exc.offset
    return None


def test_prefix_fast_path_matches_the_reference_layout(tmp_path: Path) -> None:
    tensors = {f"layer.{i}.{k}": np.ones((i % 5 + 1, 3), np.float32 if k == "w" else np.int64)
               for i in range(300) for k in ("w", "b")}
    doc = encode_bundle(tensors, {"model": "x"})
    found = read_prefix(doc, True)
    assert found is not None
    prefix = BundlePrefix()
    prefix.advance(Reader(doc))
    assert found[0].layout() == prefix.layout()
    assert found[1] == prefix.metadata and found[2] == prefix.base
    path = tmp_path / "m.tcb"
    save_file(tensors, path, {"model": "x"})
    assert read_layout(path) == prefix.layout()
    loaded = load_file(path)
    assert list(loaded) == sorted(tensors, key=lambda n: (len(n.encode()), n.encode()))
    for name, arr in tensors.items():
        view = loaded[name]
        assert np.array_equal(view, arr) and not view.flags.writeable


def test_writable_source_gives_read_only_views() -> None:
    doc = bytearray(encode_bundle({"a": np.arange(4, dtype=np.float32)}))
    arr = decode_bundle(doc)["a"]
    assert not arr.flags.writeable and arr.tolist() == [0, 1, 2, 3]


def _as_bytes(x: object) -> bytes:
    if isinstance(x, BlockArray):  # its raw blocks
        return bytes(np.asarray(x.data))
    arr = np.asarray(x)
    return repr(arr.tolist()).encode() if arr.dtype.kind in "OT" else arr.tobytes()


@pytest.mark.parametrize("vector", [v for v in BUNDLES if v["verdict"] == "valid"],
                         ids=[v["id"] for v in BUNDLES if v["verdict"] == "valid"])
def test_fast_path_arrays_equal_the_reference_arrays(vector: dict) -> None:
    """Every tensor of every valid conformance bundle (block types included: a differential-fuzz finding, where
    the fast path's direct view used the element count of a block dtype) reads the same through both paths."""
    data = (ROOT / "conformance" / "v1" / vector["file"]).read_bytes()
    fast = decode_bundle(data)
    reference, _ = _parse(data, True, True)
    assert list(fast) == list(reference)
    for name in reference:
        assert _as_bytes(fast[name]) == _as_bytes(reference[name]), name
