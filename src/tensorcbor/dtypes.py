"""The dtype table: the single source for every part of tensorcbor.

SPEC.md's dtype table is generated from ``TABLE`` (``python -m tensorcbor.dtypes``)
and a test checks that the two agree, so the spec, the codec, the converters and
the conformance generator can never drift apart.

Codes 1-127 are ONNX ``TensorProto.DataType`` numbers (an existing, stable registry,
and it makes ONNX conversion a lookup); 128-1023 are tensorcbor's own registry,
assigned in order by spec revisions (SPEC.md §3 states the growth rule). Block types
(``kind == "block"``) quantize fixed groups of elements into fixed-size blocks with
the byte layout of the GGUF type of the same name (SPEC.md §4.6).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

import numpy as np

__all__ = ["DType", "TABLE", "BY_CODE", "BY_NAME", "COMPLEX32", "GGUF_TYPE_NUMBERS", "from_numpy", "markdown_table",
           "markdown_block_table"]


@dataclass(frozen=True)
class DType:
    code: int
    """Wire code (= ONNX TensorProto.DataType)."""
    name: str
    """Canonical tensorcbor name, also the ml_dtypes/numpy name."""
    kind: str
    """bool, uint, int, float, complex or string."""
    bits: int
    """Bits per element on the wire (0 for string: variable length)."""
    align: int
    """Alignment of the element data, in bytes, relative to the document start."""
    rfc8746_tag: int | None
    """RFC 8746 little-endian typed-array tag wrapping the data, or None."""
    safetensors: str | None
    dlpack: tuple[int, int] | None
    """(DLDataTypeCode, bits) with lanes = 1."""
    numpy: str
    """numpy dtype spelling; ``ml_dtypes.X`` for ml_dtypes types."""
    onnx: str | None
    """ONNX TensorProto.DataType enum name, or None for tensorcbor's own codes (>= 128)."""
    block: tuple[int, int] | None = None
    """Block types: (elements per block, bytes per block); None otherwise."""
    gguf: str | None = None
    """GGML/GGUF tensor type name (``GGMLQuantizationType``) with the same element bytes, or None."""
    torch: str | None = None
    """``torch.<name>`` dtype with the same element bytes, or None."""

    @property
    def packed(self) -> bool:
        """Sub-byte types: several elements share a byte on the wire."""
        return 0 < self.bits < 8

    @property
    def is_block(self) -> bool:
        """Block-quantized types (SPEC.md §4.6): the data is a sequence of fixed-size blocks."""
        return self.block is not None

    @property
    def np_dtype(self) -> np.dtype:
        """The numpy dtype; ml_dtypes is imported on first use of one of its types (it costs ~0.8 s)."""
        found = _NP_DTYPES.get(self.code)
        if found is None:
            found = _NP_DTYPES[self.code] = _resolve_numpy(self.numpy)
        return found

    @property
    def from_ml_dtypes(self) -> bool:
        """True when the numpy type comes from the ml_dtypes package (bfloat16, float8, int4, ...)."""
        return self.numpy.startswith("ml_dtypes.")

    def nbytes(self, count: int) -> int:
        """Wire length of `count` elements (not meaningful for strings).

        For block types `count` must be a multiple of the block size (the shape rule
        of SPEC.md §4.6 guarantees it for every decoded shape).
        """
        if self.block is not None:
            return count // self.block[0] * self.block[1]
        return (count * self.bits + 7) // 8


COMPLEX32 = "[('real', '<f2'), ('imag', '<f2')]"
"""numpy has no complex32: a structured dtype of two little-endian float16 (real, imaginary)."""

# code, name, kind, bits, align, rfc8746 tag, safetensors, dlpack, numpy, onnx
_ROWS: tuple[tuple, ...] = (
    (1, "float32", "float", 32, 4, 85, "F32", (2, 32), "float32", "FLOAT"),
    (2, "uint8", "uint", 8, 1, 64, "U8", (1, 8), "uint8", "UINT8"),
    (3, "int8", "int", 8, 1, 72, "I8", (0, 8), "int8", "INT8"),
    (4, "uint16", "uint", 16, 2, 69, "U16", (1, 16), "uint16", "UINT16"),
    (5, "int16", "int", 16, 2, 77, "I16", (0, 16), "int16", "INT16"),
    (6, "int32", "int", 32, 4, 78, "I32", (0, 32), "int32", "INT32"),
    (7, "int64", "int", 64, 8, 79, "I64", (0, 64), "int64", "INT64"),
    (8, "string", "string", 0, 1, None, None, None, "StringDType", "STRING"),
    (9, "bool", "bool", 8, 1, None, "BOOL", (6, 8), "bool", "BOOL"),
    (10, "float16", "float", 16, 2, 84, "F16", (2, 16), "float16", "FLOAT16"),
    (11, "float64", "float", 64, 8, 86, "F64", (2, 64), "float64", "DOUBLE"),
    (12, "uint32", "uint", 32, 4, 70, "U32", (1, 32), "uint32", "UINT32"),
    (13, "uint64", "uint", 64, 8, 71, "U64", (1, 64), "uint64", "UINT64"),
    (14, "complex64", "complex", 64, 4, None, "C64", (5, 64), "complex64", "COMPLEX64"),
    (15, "complex128", "complex", 128, 8, None, None, (5, 128), "complex128", "COMPLEX128"),
    (16, "bfloat16", "float", 16, 2, None, "BF16", (4, 16), "ml_dtypes.bfloat16", "BFLOAT16"),
    (17, "float8_e4m3fn", "float", 8, 1, None, "F8_E4M3", (10, 8), "ml_dtypes.float8_e4m3fn", "FLOAT8E4M3FN"),
    (18, "float8_e4m3fnuz", "float", 8, 1, None, "F8_E4M3FNUZ", (11, 8), "ml_dtypes.float8_e4m3fnuz",
     "FLOAT8E4M3FNUZ"),
    (19, "float8_e5m2", "float", 8, 1, None, "F8_E5M2", (12, 8), "ml_dtypes.float8_e5m2", "FLOAT8E5M2"),
    (20, "float8_e5m2fnuz", "float", 8, 1, None, "F8_E5M2FNUZ", (13, 8), "ml_dtypes.float8_e5m2fnuz",
     "FLOAT8E5M2FNUZ"),
    (21, "uint4", "uint", 4, 1, None, None, (1, 4), "ml_dtypes.uint4", "UINT4"),
    (22, "int4", "int", 4, 1, None, None, (0, 4), "ml_dtypes.int4", "INT4"),
    (23, "float4_e2m1fn", "float", 4, 1, None, "F4", (17, 4), "ml_dtypes.float4_e2m1fn", "FLOAT4E2M1"),
    (24, "float8_e8m0fnu", "float", 8, 1, None, "F8_E8M0", (14, 8), "ml_dtypes.float8_e8m0fnu", "FLOAT8E8M0"),
    (25, "uint2", "uint", 2, 1, None, None, (1, 2), "ml_dtypes.uint2", "UINT2"),
    (26, "int2", "int", 2, 1, None, None, (0, 2), "ml_dtypes.int2", "INT2"),
    (27, "float6_e2m3fn", "float", 6, 1, None, "F6_E2M3", (15, 6), "ml_dtypes.float6_e2m3fn", "FLOAT6E2M3"),
    (28, "float6_e3m2fn", "float", 6, 1, None, "F6_E3M2", (16, 6), "ml_dtypes.float6_e3m2fn", "FLOAT6E3M2"),
    # tensorcbor's own registry (128-1023), SPEC.md §3.
    (128, "float8_e4m3", "float", 8, 1, None, None, (8, 8), "ml_dtypes.float8_e4m3", None),
    (129, "float8_e3m4", "float", 8, 1, None, None, (7, 8), "ml_dtypes.float8_e3m4", None),
    (130, "float8_e4m3b11fnuz", "float", 8, 1, None, None, (9, 8), "ml_dtypes.float8_e4m3b11fnuz", None),
    (131, "complex32", "complex", 32, 2, None, None, (5, 32), COMPLEX32, None),
    # Block-quantized types (SPEC.md §4.6): bits 0, the size is in `block`.
    (160, "mxfp4", "block", 0, 1, None, None, None, "uint8", None),
    (161, "q8_0", "block", 0, 2, None, None, None, "uint8", None),
    (162, "q4_0", "block", 0, 2, None, None, None, "uint8", None),
)

# code -> (block elements, block bytes)
_BLOCKS: dict[int, tuple[int, int]] = {160: (32, 17), 161: (32, 34), 162: (32, 18)}
# code -> GGMLQuantizationType name (GGUF file format, gguf-py 0.19 / ggml.h)
_GGUF: dict[int, str] = {1: "F32", 3: "I8", 5: "I16", 6: "I32", 7: "I64", 10: "F16", 11: "F64", 16: "BF16",
                         160: "MXFP4", 161: "Q8_0", 162: "Q4_0"}
# code -> torch dtype attribute (torch 2.x); ml_dtypes-only formats have none
_TORCH: dict[int, str] = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
                          9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64",
                          15: "complex128", 16: "bfloat16", 17: "float8_e4m3fn", 18: "float8_e4m3fnuz",
                          19: "float8_e5m2", 20: "float8_e5m2fnuz", 24: "float8_e8m0fnu", 131: "complex32"}

# GGMLQuantizationType numbers of the names above (the GGUF tensor-info `type` field)
GGUF_TYPE_NUMBERS: dict[str, int] = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 8, "I8": 24, "I16": 25, "I32": 26,
                                     "I64": 27, "F64": 28, "BF16": 30, "MXFP4": 39}



def _row(code: int, name: str, kind: str, bits: int, align: int, tag: int | None, safetensors: str | None,
         dlpack: tuple[int, int] | None, numpy: str, onnx: str | None) -> DType:
    return DType(code, name, kind, bits, align, tag, safetensors, dlpack, numpy, onnx,
                 block=_BLOCKS.get(code), gguf=_GGUF.get(code), torch=_TORCH.get(code))


TABLE: tuple[DType, ...] = tuple(_row(*row) for row in _ROWS)
BY_CODE: dict[int, DType] = {d.code: d for d in TABLE}
BY_NAME: dict[str, DType] = {d.name: d for d in TABLE}


def _resolve_numpy(spelling: str) -> np.dtype:
    if spelling == COMPLEX32:
        return np.dtype([("real", "<f2"), ("imag", "<f2")])
    if spelling == "StringDType":
        return np.dtype(np.dtypes.StringDType())
    if spelling.startswith("ml_dtypes."):
        return np.dtype(getattr(importlib.import_module("ml_dtypes"), spelling.split(".", 1)[1]))
    return np.dtype(spelling)


# code -> numpy dtype, filled on first use: the plain numpy types now, ml_dtypes ones when first asked for, so
# that `tensorcbor --version`, `inspect` and float32 work never import ml_dtypes.
_NP_DTYPES: dict[int, np.dtype] = {d.code: _resolve_numpy(d.numpy) for d in TABLE if not d.from_ml_dtypes}

# numpy dtype -> DType for encoding. Keys are native-order dtypes; numpy dtype
# equality ignores the instance, so lookups by any equal dtype hit. The ml_dtypes rows join once ml_dtypes has been
# imported (an array of one of its types cannot exist before).
_FROM_NUMPY: dict[np.dtype, DType] = {_NP_DTYPES[d.code]: d for d in TABLE
                                      if d.kind not in ("string", "block") and not d.from_ml_dtypes}
_ML_ROWS_ADDED = False


def _add_ml_rows() -> bool:
    global _ML_ROWS_ADDED
    if _ML_ROWS_ADDED or "ml_dtypes" not in sys.modules:
        return False
    _FROM_NUMPY.update({d.np_dtype: d for d in TABLE if d.from_ml_dtypes})
    _ML_ROWS_ADDED = True
    return True


def from_numpy(dt: np.dtype) -> DType | None:
    """The table row for a numpy dtype (any byte order), or None."""
    found = _FROM_NUMPY.get(dt)
    if found is None and _add_ml_rows():
        found = _FROM_NUMPY.get(dt)
    if found is None and dt.byteorder not in ("=", "|"):
        found = _FROM_NUMPY.get(dt.newbyteorder("="))
    if found is None and dt.kind in ("U", "T"):
        found = BY_CODE[8]
    return found


def markdown_table() -> str:
    """The dtype table exactly as SPEC.md carries it."""
    head = ("| code | name | kind | bits | align | RFC 8746 tag | ONNX DataType | safetensors | DLPack (code, bits) "
            "| numpy / ml_dtypes | GGUF | torch |\n|---:|---|---|---:|---:|---:|---|---|---|---|---|---|\n")
    rows = []
    for d in TABLE:
        bits = "var" if d.kind == "string" else "—" if d.block else str(d.bits)
        tag = str(d.rfc8746_tag) if d.rfc8746_tag is not None else "—"
        dl = f"({d.dlpack[0]}, {d.dlpack[1]})" if d.dlpack else "—"
        onnx = f"{d.onnx} ({d.code})" if d.onnx else "—"
        numpy = "— (`BlockArray`)" if d.block else f"`{d.numpy}`"
        gguf = f"{d.gguf} ({GGUF_TYPE_NUMBERS[d.gguf]})" if d.gguf else "—"
        torch = f"`{d.torch}`" if d.torch else "—"
        rows.append(f"| {d.code} | `{d.name}` | {d.kind} | {bits} | {d.align} | {tag} | {onnx} "
                    f"| {d.safetensors or '—'} | {dl} | {numpy} | {gguf} | {torch} |")
    return head + "\n".join(rows) + "\n"


def markdown_block_table() -> str:
    """The block-type table of SPEC.md §4.6."""
    head = ("| code | name | block elements | block bytes | align | GGUF type (number) |\n"
            "|---:|---|---:|---:|---:|---|\n")
    rows = [f"| {d.code} | `{d.name}` | {d.block[0]} | {d.block[1]} | {d.align} "
            f"| {d.gguf} ({GGUF_TYPE_NUMBERS[d.gguf or '']}) |" for d in TABLE if d.block]
    return head + "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(markdown_table())
