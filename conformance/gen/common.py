"""The vector record shared by every profile module, and the expected-value JSON of valid vectors."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .builder import Dt, F, M, TensorSpec, float_json, python_value, typed_json


@dataclass
class Vector:
    """One conformance vector: its bytes plus what a strict decoder must make of them."""

    id: str
    description: str
    kind: str  # the decoder to use: "tensor" or "bundle"
    data: bytes
    flags: list[str]
    error: str | None = None  # invalid vectors: the registry code
    offset: int | None = None  # invalid vectors: the byte offset of SPEC.md §8.1, when the generator states it
    expected: dict[str, Any] | None = None  # valid vectors
    profile: str = ""  # empty: the profile of the generator module (conformance/generate.py collect())
    # what tensorcbor's encoder is asked to produce, to assert agreement (valid vectors only)
    source: Any = field(default=None, repr=False)

    @property
    def verdict(self) -> str:
        return "invalid" if self.error else "valid"


def element_codes(dt: Dt, data: bytes, n: int) -> list[int]:
    """Per-element bit patterns (unsigned) of the element bytes."""
    if dt.packed:
        acc = int.from_bytes(data, "little")
        mask = (1 << dt.bits) - 1
        return [(acc >> (i * dt.bits)) & mask for i in range(n)]
    width = dt.bits // 8
    return [int.from_bytes(data[i * width:(i + 1) * width], "little") for i in range(n)]


def _float_value(dt_np: np.dtype, bits: int, pattern: int) -> Any:
    store = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}[max(8, bits)]
    with np.errstate(invalid="ignore"):  # NaN patterns of the narrow formats
        x = float(np.array([pattern], store).view(dt_np)[0].astype(np.float64))
    if math.isnan(x):
        return f"nan:0x{pattern:0{(bits + 3) // 4}x}"
    return float_json(x)


def element_values(dt: Dt, data: bytes, n: int) -> list[Any]:
    """Element values as JSON (conformance/README.md, "values"); informative, data_hex is normative."""
    if dt.kind == "bool":
        return [b == 1 for b in data[:n]]
    if dt.block is not None:
        return [float_json(x) if not math.isnan(x) else "nan" for x in dequantize(dt, data)]
    if dt.kind == "complex":
        half = np.dtype({32: "float16", 64: "float32", 128: "float64"}[dt.bits])
        parts = element_codes(Dt(0, "", "float", dt.bits // 2, 1, None, ""), data, 2 * n)
        vals = [_float_value(half, dt.bits // 2, p) for p in parts]
        return [[vals[2 * i], vals[2 * i + 1]] for i in range(n)]
    codes = element_codes(dt, data, n)
    if dt.kind == "uint":
        return codes
    if dt.kind == "int":
        return [c - (1 << dt.bits) if c >> (dt.bits - 1) else c for c in codes]
    return [_float_value(dt.np_dtype, dt.bits, c) for c in codes]


_FP4 = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0]


def dequantize(dt: Dt, data: bytes) -> list[float]:
    """Block values by SPEC.md §4.6's formulas, restated with Python floats (exact, then rounded to float32)."""
    assert dt.block is not None
    size, nbytes = dt.block
    out: list[float] = []
    for k in range(0, len(data), nbytes):
        blk = data[k:k + nbytes]
        if dt.name == "q8_0":
            d = float(np.frombuffer(blk[:2], "<f2")[0])
            vals = [d * (q - 256 if q > 127 else q) for q in blk[2:]]
        elif dt.name == "q4_0":
            d = float(np.frombuffer(blk[:2], "<f2")[0])
            nib = [b & 15 for b in blk[2:]] + [b >> 4 for b in blk[2:]]
            vals = [(q - 8) * d for q in nib]
        else:
            nib = [b & 15 for b in blk[1:]] + [b >> 4 for b in blk[1:]]
            vals = [math.nan] * size if blk[0] == 0xFF else [math.ldexp(_FP4[q], blk[0] - 127) for q in nib]
        with np.errstate(over="ignore", invalid="ignore"):
            out.extend(float(np.float32(v)) for v in vals)
    return out


def tensor_expected(t: TensorSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"dtype": t.dt.name, "dtype_code": t.dt.code, "shape": list(t.shape)}
    if t.strings is not None:
        out["strings"] = list(t.strings)
        return out
    n = math.prod(t.shape)
    out["data_hex"] = t.data.hex()
    out["values"] = element_values(t.dt, t.data, n)
    return out


def bundle_expected(metadata: M, tensors: list[tuple[str, TensorSpec]]) -> dict[str, Any]:
    from .builder import text

    ordered = sorted(tensors, key=lambda nt: text(nt[0]))
    return {"metadata": typed_json(metadata),
            "tensors": [{"name": name, **tensor_expected(t)} for name, t in ordered]}


def to_numpy(t: TensorSpec) -> Any:
    """The array tensorcbor.encode is asked to encode, built from the element bytes with numpy/ml_dtypes."""
    n = math.prod(t.shape)
    if t.dt.block is not None:
        from tensorcbor import BlockArray
        return BlockArray(t.dt.name, t.shape, t.data)
    if t.strings is not None:
        return np.array(t.strings, dtype=np.dtypes.StringDType()).reshape(t.shape)
    if t.dt.packed:
        codes = np.array(element_codes(t.dt, t.data, n), np.uint8)
        return codes.view(t.dt.np_dtype).reshape(t.shape)
    return np.frombuffer(t.data, t.dt.np_dtype.newbyteorder("<") if t.dt.bits > 8 else t.dt.np_dtype,
                         count=n).reshape(t.shape)


def bundle_source(metadata: M, tensors: list[tuple[str, TensorSpec]]) -> tuple[dict[str, np.ndarray], Any]:
    return {name: to_numpy(t) for name, t in tensors}, python_value(metadata)


__all__ = ["Vector", "F", "M", "element_values", "tensor_expected", "bundle_expected", "to_numpy",
           "bundle_source"]
