"""Generate the conformance suite: ``python3 -m conformance.generate [--out DIR]``.

Writes DIR/vectors/<id>.cbor and DIR/manifest.json (default: conformance/v1),
deterministically: running it twice gives identical files, and a test compares a
fresh generation with the committed suite byte for byte. Valid vectors are
built by conformance/gen/builder.py; each is then checked against tensorcbor's
encoder, and a disagreement aborts generation (it is a codec or generator bug).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

import tensorcbor
from tensorcbor import dtypes as tc_dtypes
from tensorcbor.conformance.compare import decoded_diffs
from tensorcbor.conformance.values import decode_json
from tensorcbor.errors import CODES

from .gen import MODULES
from .gen.builder import ALL_DTYPES
from .gen.common import Vector

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "v1"
SUITE_VERSION = "2.1.0"
SPEC_VERSION = "1.0.1"
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def collect() -> list[Vector]:
    out: list[Vector] = []
    for module in MODULES:
        for v in module.vectors():
            v.profile = v.profile or module.PROFILE
            out.append(v)
    return out


def check_dtype_table() -> None:
    """The generator restates SPEC.md's dtype table; it must equal the codec's (a spec/code drift guard)."""
    for d in ALL_DTYPES:
        row = tc_dtypes.BY_CODE[d.code]
        assert (row.name, row.kind, row.bits, row.align, row.rfc8746_tag, row.block) == (
            d.name, d.kind, d.bits, d.align, d.tag, d.block), d
    assert len(ALL_DTYPES) == len(tc_dtypes.TABLE)


def check_with_codec(v: Vector) -> None:
    """A valid vector's bytes must be what tensorcbor's encoder produces from the expected value.

    Decoder-only vectors (no `source`: Extended data whose canonical form is the Core
    encoding, SPEC.md §11.3) are checked the other way: tensorcbor must decode them
    to the expected value.
    """
    if v.source is None:
        assert v.expected is not None
        diffs = decoded_diffs(v.kind, v.expected, decode_json(v.data, v.kind))
        if diffs:
            raise SystemExit(f"tensorcbor decodes vector {v.id} differently from the generator: {diffs}")
        return
    if v.kind == "tensor":
        got = tensorcbor.encode(v.source)
    else:
        tensors, metadata = v.source
        got = tensorcbor.encode_bundle(tensors, metadata)
    if got != v.data:
        raise SystemExit(f"tensorcbor.encode disagrees with the generator on vector {v.id}:\n"
                         f"  generator: {v.data.hex()}\n  tensorcbor: {got.hex()}")


def reference_offset(v: Vector) -> int:
    """The offset tensorcbor reports for an invalid vector (SPEC.md §8.1); its code must be the vector's.

    Where the generator states the offset itself (`Vector.offset`), the two must agree. The Rust and Motoko
    bindings, written apart from this decoder, are checked against the recorded offsets
    (tests/test_binding_rust.py, tests/test_motoko.py).
    """
    got = decode_json(v.data, v.kind)
    if got.get("error") != v.error:
        raise SystemExit(f"tensorcbor rejects vector {v.id} with {got.get('error')}, the generator says {v.error}")
    offset = got.get("offset")
    if not isinstance(offset, int):
        raise SystemExit(f"tensorcbor reports no offset for vector {v.id}")
    if v.offset is not None and v.offset != offset:
        raise SystemExit(f"vector {v.id}: the generator states offset {v.offset}, tensorcbor reports {offset}")
    return offset


def record(v: Vector) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": v.id, "description": v.description, "profile": v.profile, "kind": v.kind,
        "verdict": v.verdict, "flags": sorted(set(v.flags)), "file": f"vectors/{v.id}.cbor",
        "size": len(v.data), "sha256": hashlib.sha256(v.data).hexdigest(),
    }
    if v.error:
        rec["error"] = v.error
        rec["offset"] = reference_offset(v)
    else:
        rec["expected"] = v.expected
        rec["reencode_identical"] = v.source is not None
    return rec


def build(vectors: Iterable[Vector]) -> tuple[dict[str, Any], dict[str, bytes]]:
    check_dtype_table()
    seen_ids: set[str] = set()
    seen_bytes: dict[tuple[str, bytes], str] = {}
    records: list[dict[str, Any]] = []
    files: dict[str, bytes] = {}
    errors: dict[str, str | None] = {}
    for v in vectors:
        assert ID_RE.match(v.id), v.id
        assert v.id not in seen_ids, f"duplicate id {v.id}"
        seen_ids.add(v.id)
        other = seen_bytes.get((v.kind, v.data))
        if other is not None:  # systematic mutations may rebuild a hand-written vector: keep the first
            assert v.error is not None and errors[other] == v.error, \
                f"{v.id} has the same bytes as {other} but another verdict"
            continue
        seen_bytes[(v.kind, v.data)] = v.id
        errors[v.id] = v.error
        assert (v.error is None) != (v.expected is None), v.id
        if v.error:
            assert v.error in CODES, (v.id, v.error)
        else:
            check_with_codec(v)
        records.append(record(v))
        files[f"vectors/{v.id}.cbor"] = v.data
    manifest = {
        "suite": "tensorcbor-conformance",
        "suite_version": SUITE_VERSION,
        "spec_version": SPEC_VERSION,
        "format_version": tensorcbor.FORMAT_VERSION,
        "generator": "python3 -m conformance.generate",
        "numpy": np.__version__,
        "vectors": records,
    }
    return manifest, files


def manifest_text(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def write(out: Path) -> int:
    manifest, files = build(collect())
    vec_dir = out / "vectors"
    vec_dir.mkdir(parents=True, exist_ok=True)
    wanted = {Path(name).name for name in files}
    for stale in vec_dir.glob("*.cbor"):
        if stale.name not in wanted:
            stale.unlink()
    for name, data in files.items():
        path = out / name
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    (out / "manifest.json").write_text(manifest_text(manifest), encoding="utf-8")
    return len(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="suite directory (default: conformance/v1)")
    args = parser.parse_args(argv)
    count = write(args.out)
    print(f"wrote {count} vectors to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
