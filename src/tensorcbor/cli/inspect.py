"""``tensorcbor inspect FILE``: what a tensor file holds, in any format ``convert`` reads."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..bundle import BundlePrefix, read_layout
from ..convert import FORMATS, format_for, read, tcb
from ..convert import safetensors as st
from ..convert._common import map_file
from ..dtypes import from_numpy

__all__ = ["register", "Row", "listing"]


@dataclass
class Row:
    name: str
    dtype: str
    shape: list[int]
    nbytes: int
    """Bytes of element data as the format stores it (strings: UTF-8 bytes)."""
    offset: int | None
    """Where the element data starts in the file, when the format places it at a fixed offset."""


def _rows_tcb(path: str) -> tuple[list[Row], dict[str, Any], str]:
    with open(path, "rb") as f:
        head = f.read(6)
        if tcb.is_bundle(head):
            # The directory says everything: read the prefix [0, B) and nothing after it (SPEC.md §5.2).
            f.seek(0)
            prefix = BundlePrefix()
            rows = [Row(e.name, e.dtype.name + ("+zstd" if e.compression else ""), list(e.shape), e.nbytes, e.offset)
                    for e in read_layout(f, prefix=prefix)]
            return rows, dict(prefix.metadata), "tensorcbor bundle"
    buf = map_file(path)
    i = tcb.tensor_info(buf)
    return [Row("(tensor)", i.dtype.name, list(i.shape), i.nbytes, i.offset)], {}, "tensorcbor tensor document"


def _rows_safetensors(path: str) -> tuple[list[Row], dict[str, Any], str]:
    t = st.load(path)
    header, start = st.read_header(map_file(path))
    rows = []
    for name, arr in t.arrays.items():
        spec = header[name]
        begin, end = spec["data_offsets"]
        rows.append(Row(name, _dtype(arr), list(arr.shape), end - begin, start + begin))
    rows.sort(key=lambda r: r.offset or 0)
    return rows, t.metadata, "safetensors"


def _dtype(arr: np.ndarray) -> str:
    dt = from_numpy(arr.dtype)
    return dt.name if dt else str(arr.dtype)


def _nbytes(arr: np.ndarray) -> int:
    dt = from_numpy(arr.dtype)
    if dt is None or dt.kind == "string":
        return sum(len(str(s).encode("utf-8")) for s in arr.reshape(-1).tolist())
    return dt.nbytes(arr.size)


def listing(path: str, fmt: str | None = None) -> tuple[list[Row], dict[str, Any], str]:
    """Rows, metadata and a format description for any readable file."""
    name = format_for(path, fmt)
    if name == "tcb":
        return _rows_tcb(path)
    if name == "safetensors":
        return _rows_safetensors(path)
    t = read(path, name)
    offset = None
    if name == "npy":
        from ..convert.npy import data_offset
        offset = data_offset(path)
    rows = [Row("(tensor)" if t.single else n, _dtype(a), list(a.shape), _nbytes(a), offset)
            for n, a in t.arrays.items()]
    return rows, t.metadata, FORMATS[name].description


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return repr(value)
    return value


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("inspect", help="list the tensors and metadata of a tensor file",
                              description="Print name, dtype, shape, bytes and data offset of every tensor, "
                              "the metadata and totals. Reads .tcb, .safetensors, .onnx, .pb, .npy, .npz, "
                              "msgpack-numpy and torch files.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", dest="fmt", choices=sorted(FORMATS), help="format of FILE (default: extension)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=_inspect)


def _inspect(args: argparse.Namespace) -> int:
    rows, metadata, kind = listing(args.file, args.fmt)
    size = os.path.getsize(args.file)
    total = sum(r.nbytes for r in rows)
    if args.json:
        print(json.dumps({"file": args.file, "format": kind, "size": size, "tensors": [asdict(r) for r in rows],
                          "metadata": _plain(metadata), "total_bytes": total}, ensure_ascii=False))
        return 0
    table = [("name", "dtype", "shape", "bytes", "offset")]
    table += [(r.name, r.dtype, "[" + ", ".join(map(str, r.shape)) + "]", f"{r.nbytes:,}",
               "—" if r.offset is None else str(r.offset)) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    print(f"{args.file}: {kind}, {size:,} bytes")
    for i, row in enumerate(table):
        print("  ".join(c.ljust(w) if j < 3 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print(f"{len(rows)} tensor{'s' if len(rows) != 1 else ''}, {total:,} bytes of element data "
          f"({size - total:,} bytes of headers and metadata)")
    if metadata:
        print("metadata: " + json.dumps(_plain(metadata), ensure_ascii=False, indent=2))
    return 0
