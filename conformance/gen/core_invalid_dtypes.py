"""Core profile, invalid vectors of the dtype registry (SPEC.md §3, §4.6): block shape rule, block data length,
the order of the block check within F2-F6, and the forever-reserved dtype codes.

Kept apart from core_invalid.py so the dtype rows and the structural rules can evolve independently.
"""

from __future__ import annotations

from collections.abc import Iterator

from .builder import BY_NAME, MAGIC_TENSOR, Dt, array, bstr, head, uint
from .common import Vector

PROFILE = "core"


def _doc(dt_code: int, shape: tuple[int, ...], data: bytes, pad: bytes | None = None, tag: int | None = None) -> bytes:
    """A tensor document with the given fields, laid out literally (no padding rule applied)."""
    fields = [uint(1), uint(dt_code), array([uint(d) for d in shape])]
    if pad is not None:
        fields.append(pad)
    body = bstr(data)
    fields.append((head(6, tag) if tag is not None else b"") + body)
    return MAGIC_TENSOR + array(fields)


def _aligned(dt: Dt, shape: tuple[int, ...], data: bytes) -> bytes:
    """The document with the padding rule of §4.3 applied (so only the tested defect is wrong)."""
    plain = _doc(dt.code, shape, data)
    p = len(plain) - len(data)
    s = (-p) % dt.align
    if not s:
        return plain
    return _doc(dt.code, shape, data, pad=bstr(bytes(s - 1)))


def T(vid: str, desc: str, data: bytes, error: str, flags: list[str]) -> Vector:
    return Vector(vid, desc, "tensor", data, flags, error=error)


def block_vectors() -> Iterator[Vector]:
    for name in ("mxfp4", "q8_0", "q4_0"):
        dt = BY_NAME[name]
        assert dt.block is not None
        size, nbytes = dt.block
        yield T(f"block-{name}-rank0", f"{name} with rank 0 (a block type needs rank >= 1)",
                _aligned(dt, (), bytes(nbytes)), "SHAPE_MISMATCH", ["block", "shape-rule", "rank0"])
        for label, shape, nblocks in (("last-31", (31,), 1), ("last-33", (33,), 1), ("last-16-of-2", (2, 16), 1),
                                      ("last-1", (32, 1), 1), ("last-48", (1, 48), 2)):
            yield T(f"block-{name}-{label}", f"{name} of shape {list(shape)}: last dimension not a multiple of {size}",
                    _aligned(dt, shape, bytes(nblocks * nbytes)), "SHAPE_MISMATCH", ["block", "shape-rule"])
        for label, length in (("short", nbytes - 1), ("long", nbytes + 1), ("two-blocks", 2 * nbytes),
                              ("element-count", size), ("empty", 0)):
            yield T(f"block-{name}-data-{label}", f"{name} of shape [32] with {length} data bytes (needs {nbytes})",
                    _aligned(dt, (32,), bytes(length)), "SHAPE_MISMATCH", ["block", "data-length"])
        # The shape rule is checked in F2, before the padding (F3), the data tag (F5) and the length (F6).
        yield T(f"block-{name}-shape-before-padding", f"{name} [31] with a non-zero padding byte: the shape rule "
                "comes first", _doc(dt.code, (31,), bytes(nbytes), pad=bstr(b"\x01")), "SHAPE_MISMATCH",
                ["block", "shape-rule", "check-order"])
        yield T(f"block-{name}-shape-before-tag", f"{name} [16] with tagged data: the shape rule comes first",
                _doc(dt.code, (16,), bytes(nbytes), tag=64), "SHAPE_MISMATCH", ["block", "shape-rule", "check-order"])
        yield T(f"block-{name}-shape-before-truncation", f"{name} [8] cut inside its data: the shape rule comes first",
                _aligned(dt, (8,), bytes(nbytes))[:-3], "SHAPE_MISMATCH", ["block", "shape-rule", "check-order"])
        yield T(f"block-{name}-tagged", f"{name} data wrapped in RFC 8746 tag 64 (block types have no tag)",
                _doc(dt.code, (32,), bytes(nbytes), tag=64), "UNEXPECTED_TAG",
                ["block", "tag"])
    q8 = BY_NAME["q8_0"]
    good = _aligned(q8, (32,), bytes(34))
    assert good != _doc(q8.code, (32,), bytes(34))  # the rule needs a pad here
    yield T("block-q8_0-pad-missing", "q8_0 data at an odd offset (alignment 2)", _doc(q8.code, (32,), bytes(34)),
            "BAD_PADDING", ["block", "alignment"])


def reserved_code_vectors() -> Iterator[Vector]:
    """SPEC.md §3: codes that stay unknown forever (0, 65536, 2^32, 2^64 - 1)."""
    for code in (0, 1 << 16, 1 << 32, (1 << 64) - 1):
        yield T(f"dtypes-reserved-{code}", f"dtype code {code} is reserved forever",
                _doc(code, (1,), b"\x00"), "UNKNOWN_DTYPE", ["dtype", "reserved-code"])


def vectors() -> Iterator[Vector]:
    yield from block_vectors()
    yield from reserved_code_vectors()
