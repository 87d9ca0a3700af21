"""Sub-byte packing (SPEC.md §4.4): a little-endian bit stream, as ONNX packs int4/int2/float4/float6.

Element i occupies stream bits [i*b, (i+1)*b), and stream bit k is bit (k mod 8)
of byte k div 8. numpy/ml_dtypes hold one element per byte (low bits), so
encoding packs and decoding unpacks: these tensors cannot be zero-copy views.
"""

from __future__ import annotations

import numpy as np


def pack(values: np.ndarray, bits: int) -> bytes:
    """Pack the low `bits` of each uint8 in the flat array `values`."""
    v = np.bitwise_and(values.reshape(-1), (1 << bits) - 1, dtype=np.uint8)
    per_byte = 8 // bits if 8 % bits == 0 else 0
    if per_byte:
        pad = (-v.size) % per_byte
        if pad:
            v = np.concatenate([v, np.zeros(pad, np.uint8)])
        lanes = v.reshape(-1, per_byte)
        out = lanes[:, 0].copy()
        for j in range(1, per_byte):
            out |= lanes[:, j] << np.uint8(j * bits)
        return out.tobytes()
    # General case (6-bit): through an explicit bit matrix.
    stream = np.unpackbits(v[:, None], axis=1, bitorder="little")[:, :bits]
    return np.packbits(stream.reshape(-1), bitorder="little").tobytes()


def unpack(raw: np.ndarray, bits: int, count: int) -> tuple[np.ndarray, bool]:
    """Unpack `count` elements from uint8 `raw`; also report whether the unused tail bits are zero."""
    total_bits = count * bits
    tail_ok = True
    if total_bits % 8 and raw.size:
        tail_ok = (int(raw[-1]) >> (total_bits % 8)) == 0
    per_byte = 8 // bits if 8 % bits == 0 else 0
    mask = np.uint8((1 << bits) - 1)
    if per_byte:
        lanes = np.empty((raw.size, per_byte), np.uint8)
        for j in range(per_byte):
            np.bitwise_and(raw >> np.uint8(j * bits), mask, out=lanes[:, j])
        return lanes.reshape(-1)[:count], tail_ok
    stream = np.unpackbits(raw, bitorder="little")[:total_bits].reshape(count, bits)
    return np.packbits(stream, axis=1, bitorder="little").reshape(-1), tail_ok
