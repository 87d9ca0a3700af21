"""Block-quantized tensors (SPEC.md §4.6): `BlockArray` and the numpy dequantizers.

numpy has no dtype for a 17- or 34-byte block of 32 elements, so a block tensor is
its raw block bytes plus its logical element shape. Decoding hands out the bytes as
a read-only view of the document (zero copy); `dequantize` turns them into float32
with the value formulas of the spec, and `quantize` borrows the quantizers of the
PyPI ``gguf`` package, whose byte layouts these types share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .dtypes import BY_NAME, DType
from .errors import EncodeError

__all__ = ["BlockArray", "shape_error", "BLOCK_DTYPES"]

BLOCK_DTYPES: tuple[str, ...] = tuple(name for name, d in BY_NAME.items() if d.block)

# float4_e2m1fn values of the 16 nibbles (OCP MX 1.0 FP4 E2M1), as float32 (nibble 8 is -0.0).
_FP4 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0],
                np.float32)


def shape_error(dt: DType, shape: tuple[int, ...]) -> str | None:
    """Why `shape` is not a valid logical shape for block dtype `dt` (None if it is)."""
    assert dt.block is not None
    size = dt.block[0]
    if not shape:
        return f"a {dt.name} tensor needs rank >= 1 (its last dimension is cut into blocks of {size})"
    if shape[-1] % size:
        return f"the last dimension of a {dt.name} tensor must be a multiple of {size}, found {shape[-1]}"
    return None


def _block_dtype(name: str) -> DType:
    dt = BY_NAME.get(name)
    if dt is None or dt.block is None:
        raise EncodeError(f"{name!r} is not a block dtype; choose one of {', '.join(BLOCK_DTYPES)}")
    return dt


class BlockArray:
    """A block-quantized tensor: dtype name, logical element shape and the raw block bytes.

    `data` is a read-only 1-D uint8 array of exactly ``n / block_elements * block_bytes``
    bytes (n = product of `shape`), in row-major order of the elements the blocks cover.
    Construction validates the dtype, the shape rule and the length; bytes-like input is
    viewed, not copied (a decoded BlockArray views the document). Immutable.
    """

    __slots__ = ("_dtype", "_shape", "_data")

    def __init__(self, dtype: str, shape: Sequence[int], data: bytes | bytearray | memoryview | np.ndarray) -> None:
        dt = _block_dtype(dtype)
        dims = tuple(int(d) for d in shape)
        if any(d < 0 for d in dims):
            raise EncodeError(f"negative dimension in shape {list(dims)}")
        problem = shape_error(dt, dims)
        if problem:
            raise EncodeError(problem)
        if isinstance(data, np.ndarray):
            if data.dtype != np.uint8:
                raise EncodeError(f"BlockArray data must be uint8 bytes, got an array of {data.dtype}")
            view = np.ascontiguousarray(data).reshape(-1)
        else:
            view = np.frombuffer(data, np.uint8)
        expected = dt.nbytes(_count(dims))
        if view.size != expected:
            assert dt.block is not None
            raise EncodeError(f"shape {list(dims)} of {dt.name} needs {expected} bytes ({dt.block[1]} per block "
                              f"of {dt.block[0]} elements), got {view.size}")
        if view.flags.writeable:
            view = view.view()
            view.flags.writeable = False
        self._dtype = dt.name
        self._shape = dims
        self._data = view

    @property
    def dtype(self) -> str:
        """The block dtype's name (``"q8_0"``, ``"q4_0"``, ``"mxfp4"``)."""
        return self._dtype

    @property
    def shape(self) -> tuple[int, ...]:
        """The logical element shape (its last dimension is a multiple of the block size)."""
        return self._shape

    @property
    def data(self) -> np.ndarray:
        """The block bytes: read-only, 1-D uint8."""
        return self._data

    # ------------------------------------------------------------ properties

    @property
    def dtype_info(self) -> DType:
        return BY_NAME[self.dtype]

    @property
    def size(self) -> int:
        """Number of logical elements."""
        return _count(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return int(self.data.size)

    @property
    def blocks(self) -> np.ndarray:
        """The data as a (number of blocks, block bytes) uint8 view."""
        assert self.dtype_info.block is not None
        return self.data.reshape(-1, self.dtype_info.block[1])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BlockArray):
            return NotImplemented
        return (self.dtype == other.dtype and self.shape == other.shape
                and bool(np.array_equal(self.data, other.data)))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"BlockArray(dtype={self.dtype!r}, shape={self.shape}, nbytes={self.nbytes})"

    # ------------------------------------------------------------ values

    def dequantize(self) -> np.ndarray:
        """float32 values of shape `shape` (SPEC.md §4.6 formulas; exact, except float32 overflow to ±inf)."""
        with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf scales are valid data
            out = _DEQUANTIZE[self.dtype](self.blocks)
        return out.reshape(self.shape)

    @classmethod
    def quantize(cls, array: Any, dtype: str) -> BlockArray:
        """Quantize a float array with gguf-py's quantizer (the same bytes as llama.cpp's reference code).

        Needs the optional dependency ``gguf`` (``pip install 'tensorcbor[gguf]'``).
        """
        dt = _block_dtype(dtype)
        arr = np.asarray(array, dtype=np.float32)
        problem = shape_error(dt, arr.shape)
        if problem:
            raise EncodeError(problem)
        try:
            from gguf import GGMLQuantizationType, quants
        except ImportError as exc:
            raise ImportError("BlockArray.quantize needs the 'gguf' package: pip install 'tensorcbor[gguf]'") from exc
        assert dt.gguf is not None
        if arr.size == 0:
            return cls(dtype, arr.shape, np.empty(0, np.uint8))
        raw = quants.quantize(np.ascontiguousarray(arr), GGMLQuantizationType[dt.gguf])
        return cls(dtype, arr.shape, np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1))


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _scale_f16(blocks: np.ndarray) -> np.ndarray:
    """The little-endian float16 scale at the start of each block, as a float32 column."""
    return blocks[:, :2].copy().view("<f2").astype(np.float32)


def _nibbles(qs: np.ndarray) -> np.ndarray:
    """16 bytes -> 32 nibbles per block: element j is the low nibble of qs[j], element j+16 the high one."""
    return np.concatenate([qs & np.uint8(0x0F), qs >> np.uint8(4)], axis=1)


def _dequantize_q8_0(blocks: np.ndarray) -> np.ndarray:
    return blocks[:, 2:].view(np.int8).astype(np.float32) * _scale_f16(blocks)


def _dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    q = _nibbles(blocks[:, 2:]).astype(np.int8) - np.int8(8)
    return q.astype(np.float32) * _scale_f16(blocks)


def _dequantize_mxfp4(blocks: np.ndarray) -> np.ndarray:
    # 2^(e-127) as float32 bits: e << 23 for e = 1..254, the subnormal 2^-127 for e = 0, NaN for e = 0xFF.
    # fp4 values have at most 2 significant bits and every product is >= 2^-128, so the float32 product is
    # the exact value rounded (only overflow to +-inf rounds), with no ldexp needed.
    e = blocks[:, :1].astype(np.uint32)
    bits = np.where(e == 0, np.uint32(0x00400000), np.where(e == 0xFF, np.uint32(0x7FC00000), e << np.uint32(23)))
    return _FP4[_nibbles(blocks[:, 1:])] * bits.view(np.float32)


_DEQUANTIZE = {"q8_0": _dequantize_q8_0, "q4_0": _dequantize_q4_0, "mxfp4": _dequantize_mxfp4}


def check_decoded_shape(r: Any, dt: DType, shape: tuple[int, ...], start: int) -> None:
    """F2's block rule for the decoder's Reader `r`: SHAPE_MISMATCH at the shape, before any data is read."""
    problem = shape_error(dt, shape)
    if problem:
        raise r.fail("SHAPE_MISMATCH", problem, start)
