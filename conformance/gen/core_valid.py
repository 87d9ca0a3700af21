"""Core profile, valid vectors: every dtype, shape class, special value, alignment and bundle form.

Each vector's bytes come from builder.py (SPEC.md rules restated independently);
generate.py then asserts that tensorcbor's encoder produces the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import ml_dtypes
import numpy as np

from .builder import BY_NAME, DTYPES, Dt, F, M, TensorSpec, bundle_doc, pack_bits, tensor_doc
from .common import Vector, bundle_expected, bundle_source, tensor_expected, to_numpy

PROFILE = "core"

STRINGS = ["", "a", "tensor", "Grüße ✓", "日本語", "🦀 rust", "x" * 23, "y" * 24, "motoko", "\u0000nul", "é", "end"]


def tensor_vector(vid: str, desc: str, t: TensorSpec, flags: list[str]) -> Vector:
    return Vector(vid, desc, "tensor", tensor_doc(t), flags, expected=tensor_expected(t), source=to_numpy(t))


def bundle_vector(vid: str, desc: str, metadata: M, tensors: list[tuple[str, TensorSpec]],
                  flags: list[str]) -> Vector:
    return Vector(vid, desc, "bundle", bundle_doc(metadata, tensors), flags,
                  expected=bundle_expected(metadata, tensors), source=bundle_source(metadata, tensors))


def sample(dt: Dt, shape: tuple[int, ...], seed: int = 0) -> TensorSpec:
    """A deterministic tensor of `shape` whose element bytes come from numpy/ml_dtypes conversions."""
    n = math.prod(shape)
    idx = np.arange(n, dtype=np.int64) + seed
    if dt.kind == "string":
        return TensorSpec(dt, shape, strings=[STRINGS[int(i) % len(STRINGS)] for i in idx])
    if dt.kind == "bool":
        return TensorSpec(dt, shape, bytes(int(i % 3 == 0) for i in idx))
    if dt.kind in ("uint", "int"):
        lo = -(1 << (dt.bits - 1)) if dt.kind == "int" else 0
        vals = [lo + (int(i) * 37 + 5) % (1 << dt.bits) for i in idx]
        if dt.packed:
            return TensorSpec(dt, shape, pack_bits(vals, dt.bits))
        return TensorSpec(dt, shape, b"".join(v.to_bytes(dt.bits // 8, "little", signed=dt.kind == "int")
                                              for v in vals))
    if dt.name == "float8_e8m0fnu":
        f = np.exp2((idx % 7) - 3.0)
    else:
        f = ((idx * 7) % 11 - 5) * 0.25
    if dt.kind == "complex":
        part = np.dtype("<f4" if dt.bits == 64 else "<f8")
        pairs = np.stack([f, -f / 2 + 0.125], axis=-1).astype(part)
        return TensorSpec(dt, shape, pairs.tobytes())
    arr = f.astype(dt.np_dtype)
    if dt.packed:
        return TensorSpec(dt, shape, pack_bits([int(x) for x in arr.view(np.uint8)], dt.bits))
    return TensorSpec(dt, shape, arr.astype(arr.dtype.newbyteorder("<")).tobytes())


SHAPES = {"rank0": (), "rank1": (5,), "rank3": (2, 3, 2), "zero-dim": (3, 0, 2)}


def shape_vectors() -> Iterator[Vector]:
    for dt in DTYPES:
        for label, shape in SHAPES.items():
            t = sample(dt, shape)
            yield tensor_vector(f"tensor-{dt.name}-{label}", f"{dt.name} tensor of shape {list(shape)}", t,
                                ["dtype", label] + (["packed"] if dt.packed else []))


# ---------------------------------------------------------------- special float values

def float_specials(dt: Dt) -> dict[str, int]:
    """Bit patterns of special values, derived from the format's layout; checked with ml_dtypes below."""
    b = dt.bits
    sign = 1 << (b - 1)
    one = int(np.array([1.0]).astype(dt.np_dtype).view(np.uint8 if b <= 8 else f"<u{b // 8}")[0])
    if dt.name == "float8_e8m0fnu":
        return {"nan": 0xFF, "smallest": 0x00, "largest-finite": 0xFE, "one": one}
    e, m = {"float16": (5, 10), "float32": (8, 23), "float64": (11, 52), "bfloat16": (8, 7),
            "float8_e5m2": (5, 2), "float8_e4m3fn": (4, 3), "float8_e4m3fnuz": (4, 3),
            "float8_e5m2fnuz": (5, 2), "float6_e2m3fn": (2, 3), "float6_e3m2fn": (3, 2),
            "float4_e2m1fn": (2, 1)}[dt.name]
    emax = ((1 << e) - 1) << m
    payload = (0x2AAAAAAAAAAAAAA5 & ((1 << (m - 1)) - 1)) or 1  # a non-trivial quiet-NaN payload
    out = {"zero": 0, "one": one, "min-subnormal": 1, "neg-min-subnormal": sign | 1, "min-normal": 1 << m}
    if dt.name.endswith("fnuz"):
        out.update({"nan": sign, "max-finite": sign - 1, "neg-max-finite": (1 << b) - 1})
        return out
    out["neg-zero"] = sign
    if dt.name.endswith("fn"):
        out.update({"max-finite": sign - 1, "neg-max-finite": (1 << b) - 1})
        if dt.name == "float8_e4m3fn":
            out.update({"nan": 0x7F, "neg-nan": 0xFF, "max-finite": 0x7E, "neg-max-finite": 0xFE})
        return out
    out.update({"inf": emax, "neg-inf": sign | emax, "quiet-nan": emax | 1 << (m - 1),
                "signalling-nan": emax | 1, "nan-payload": emax | 1 << (m - 1) | payload,
                "neg-quiet-nan": sign | emax | 1 << (m - 1), "max-finite": emax - 1,
                "neg-max-finite": sign | (emax - 1)})
    return out


def _check_special(dt: Dt, name: str, pattern: int) -> None:
    store = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}[max(8, dt.bits)]
    x = np.array([pattern], store).view(dt.np_dtype)[0]
    with np.errstate(invalid="ignore"):
        fx = float(x.astype(np.float64))
    if "nan" in name:
        assert math.isnan(fx), (dt.name, name)
    elif "inf" in name:
        assert math.isinf(fx), (dt.name, name)
    elif name in ("zero", "neg-zero"):
        assert fx == 0 and (math.copysign(1, fx) < 0) == (name == "neg-zero"), (dt.name, name)
    elif name == "one":
        assert fx == 1.0
    else:
        info = ml_dtypes.finfo(dt.np_dtype)
        want = {"min-subnormal": info.smallest_subnormal, "min-normal": info.smallest_normal,
                "max-finite": info.max, "smallest": info.smallest_normal, "largest-finite": info.max}
        key = name.removeprefix("neg-")
        assert abs(fx) == float(want[key]), (dt.name, name, fx, want[key])
        assert (fx < 0) == name.startswith("neg-"), (dt.name, name)


def _elem_bytes(dt: Dt, patterns: list[int]) -> bytes:
    if dt.packed:
        return pack_bits(patterns, dt.bits)
    return b"".join(p.to_bytes(dt.bits // 8, "little") for p in patterns)


def special_vectors() -> Iterator[Vector]:
    for dt in DTYPES:
        if dt.kind != "float":
            continue
        specials = float_specials(dt)
        used: set[int] = set()
        for name, pattern in specials.items():
            _check_special(dt, name, pattern)
            if pattern in used:  # e.g. float4_e2m1fn: the smallest normal is 1.0
                continue
            used.add(pattern)
            t = TensorSpec(dt, (1,), _elem_bytes(dt, [pattern]))
            flags = ["special-value", name] + (["nan"] if "nan" in name else [])
            yield tensor_vector(f"special-{dt.name}-{name}", f"{dt.name} {name} (bits 0x{pattern:x}) kept bit-exact",
                                t, flags)
        pats = list(specials.values())
        t = TensorSpec(dt, (len(pats),), _elem_bytes(dt, pats))
        yield tensor_vector(f"special-{dt.name}-all", f"{dt.name}: all special values in one tensor", t,
                            ["special-value"])
    for dt, part in ((BY_NAME["complex64"], BY_NAME["float32"]), (BY_NAME["complex128"], BY_NAME["float64"])):
        s = float_specials(part)
        combos = {"nan-negzero": ("quiet-nan", "neg-zero"), "inf-neginf": ("inf", "neg-inf"),
                  "subnormal-max": ("min-subnormal", "neg-max-finite"), "snan-payload": ("signalling-nan",
                                                                                         "nan-payload")}
        for label, (re_, im) in combos.items():
            t = TensorSpec(dt, (1,), _elem_bytes(part, [s[re_], s[im]]))
            yield tensor_vector(f"special-{dt.name}-{label}", f"{dt.name} element ({re_}, {im}) kept bit-exact",
                                t, ["special-value", "complex"])


def int_extreme_vectors() -> Iterator[Vector]:
    for dt in DTYPES:
        if dt.kind not in ("uint", "int"):
            continue
        lo, hi = (-(1 << (dt.bits - 1)), (1 << (dt.bits - 1)) - 1) if dt.kind == "int" else (0, (1 << dt.bits) - 1)

        def enc(vals: list[int], dt: Dt = dt) -> bytes:
            if dt.packed:
                return pack_bits(vals, dt.bits)
            return b"".join(v.to_bytes(dt.bits // 8, "little", signed=dt.kind == "int") for v in vals)

        yield tensor_vector(f"int-{dt.name}-min-max", f"{dt.name} minimum {lo} and maximum {hi}",
                            TensorSpec(dt, (2,), enc([lo, hi])), ["int-extremes"])
        yield tensor_vector(f"int-{dt.name}-scalar-min", f"{dt.name} scalar {lo}", TensorSpec(dt, (), enc([lo])),
                            ["int-extremes", "rank0"])
        yield tensor_vector(f"int-{dt.name}-scalar-max", f"{dt.name} scalar {hi}", TensorSpec(dt, (), enc([hi])),
                            ["int-extremes", "rank0"])
        mixed = [hi, lo, 0, hi, 1 if dt.kind == "uint" else -1]
        yield tensor_vector(f"int-{dt.name}-mixed", f"{dt.name} values {mixed}", TensorSpec(dt, (5,), enc(mixed)),
                            ["int-extremes"])


def packed_vectors() -> Iterator[Vector]:
    for dt in DTYPES:
        if not dt.packed:
            continue
        ones = (1 << dt.bits) - 1
        for n in range(2, 11):  # n = 1 is special-*-neg-max-finite / int-*-mixed territory
            t = TensorSpec(dt, (n,), pack_bits([ones] * n, dt.bits))
            yield tensor_vector(f"packed-{dt.name}-n{n}-all-ones", f"{dt.name}: {n} elements with every bit set; "
                                f"{(-n * dt.bits) % 8} zero tail bits", t, ["packed", "tail-bits"])
        pattern = [i % (1 << dt.bits) for i in range(1, 8)]
        t = TensorSpec(dt, (7,), pack_bits(pattern, dt.bits))
        yield tensor_vector(f"packed-{dt.name}-ramp7", f"{dt.name}: element bit patterns {pattern}", t,
                            ["packed", "bit-order"])
        t = TensorSpec(dt, (3, 3), pack_bits([(i * 5) % (1 << dt.bits) for i in range(9)], dt.bits))
        yield tensor_vector(f"packed-{dt.name}-3x3", f"{dt.name}: rank 2, 9 elements packed across bytes", t,
                            ["packed"])


def string_vectors() -> Iterator[Vector]:
    st = BY_NAME["string"]
    cases = {
        "empty-string": [""], "ascii": ["hello"], "non-ascii": ["Grüße ✓"], "cjk": ["日本語テキスト"],
        "astral": ["🦀🐍"], "nul-char": ["a\u0000b"], "len23": ["z" * 23], "len24": ["z" * 24],
        "len255": ["w" * 255], "len256": ["w" * 256], "mixed": ["", "tensor", "Grüße ✓"],
        "many-empty": [""] * 30,
    }
    for label, strings in cases.items():
        yield tensor_vector(f"string-{label}", f"string tensor {label}: {len(strings)} element(s)",
                            TensorSpec(st, (len(strings),), strings=strings), ["string"])
    yield tensor_vector("string-rank0", "string scalar", TensorSpec(st, (), strings=["scalar ✓"]), ["string", "rank0"])
    yield tensor_vector("string-2x2", "string tensor of shape [2, 2]",
                        TensorSpec(st, (2, 2), strings=["a", "é", "", "🦀"]), ["string"])
    yield tensor_vector("string-zero", "string tensor with no elements",
                        TensorSpec(st, (0,), strings=[]), ["string", "zero-dim"])


def alignment_vectors() -> Iterator[Vector]:
    """Every padding length for every alignment, by moving the data head with the rank."""
    for dt in DTYPES:
        if dt.align == 1:
            continue
        seen: dict[int, tuple[int, ...]] = {}
        for rank in range(12):
            shape = (1,) * rank
            doc = tensor_doc(sample(dt, shape))
            s = doc[6] - 0x84  # 1 when the pad item is present
            pad = doc[9 + rank + 1] - 0x40 + 1 if s else 0
            seen.setdefault(pad, shape)
        assert sorted(seen) == list(range(dt.align)), (dt.name, seen)
        for pad, shape in sorted(seen.items()):
            yield tensor_vector(f"align-{dt.name}-pad{pad}", f"{dt.name} rank {len(shape)}: {pad} padding byte(s) "
                                f"align the data to {dt.align}", sample(dt, shape, 1), ["alignment", f"pad{pad}"])
    f64 = BY_NAME["float64"]
    for n, label in ((3, "1-byte"), (4, "2-byte"), (40, "3-byte")):
        yield tensor_vector(f"align-float64-len-head-{label}", f"float64 [{n}]: {label} byte-string head moves "
                            "the data", sample(f64, (n,)), ["alignment", "length-head"])
    for k in range(1, 9):
        name = "n" * k
        yield bundle_vector(f"bundle-align-name-len{k}", f"bundle: a float64 tensor named with {k} byte(s); "
                            "padding counted from the document start", M(), [(name, sample(f64, (2,)))],
                            ["bundle", "alignment"])


def dims_vectors() -> Iterator[Vector]:
    u8, f32 = BY_NAME["uint8"], BY_NAME["float32"]
    big = (1 << 53) - 1  # the largest product of non-zero dimensions (SPEC.md §4.2)
    c128 = BY_NAME["complex128"]
    cases = {
        "huge-then-zero": (u8, (big, 0)), "zero-then-huge": (u8, (0, big)), "max-float32": (f32, (0, big)),
        "max-complex128": (c128, (big, 0)), "dim-heads": (u8, (24, 256, 65536, 0)), "dim-head-9": (u8, (1 << 32, 0)),
        "two-huge-one-zero": (u8, (1 << 26, (1 << 27) - 1, 0)),
        "rank32-ones": (f32, (1,) * 32), "rank32-zero": (u8, (1,) * 31 + (0,)),
        "rank2-24x1": (u8, (24, 1)),
    }
    for label, (dt, shape) in cases.items():
        yield tensor_vector(f"dims-{label}", f"{dt.name} shape {list(shape)}: head sizes and limits of §4.2",
                            sample(dt, shape), ["shape", "limits"])
    yield tensor_vector("dims-uint8-300", "uint8 [300]: two-byte byte-string length head",
                        sample(u8, (300,)), ["shape", "length-head"])


# ---------------------------------------------------------------- bundles and metadata

INTS = [0, 1, 23, 24, 255, 256, 65535, 65536, (1 << 32) - 1, 1 << 32, (1 << 64) - 1,
        -1, -24, -25, -256, -257, -65537, -(1 << 32) - 1, -(1 << 64)]
FLOATS = [0.0, -0.0, 1.0, -2.5, 0.1, 65504.0, 65520.0, 5.960464477539063e-08, 1e-7, 3.4028234663852886e38,
          1e300, 5e-324, float("inf"), float("-inf"), float("nan"), 1.5, 100000.0, 0.333251953125]


def nested(depth: int, leaf: object) -> object:
    """A value `depth` containers deep, alternating arrays and maps."""
    v = leaf
    for i in range(depth):
        v = [v] if i % 2 == 0 else M([("k", v)])
    return v


def meta_bytes(meta: M) -> bytes:
    from .builder import enc_value
    return enc_value(meta)


def _one_entry(name: str) -> bytes:
    """The directory of one float64 [1] tensor: array head, then [name, 11, [1], offset, 8]."""
    from .builder import array, text, uint
    return b"\x81" + array([text(name), uint(11), array([uint(1)]), uint(0), uint(8)])


def bundle_vectors() -> Iterator[Vector]:
    f32, i8 = BY_NAME["float32"], BY_NAME["int8"]
    yield bundle_vector("bundle-empty", "bundle with no metadata and no tensors", M(), [], ["bundle"])
    yield bundle_vector("bundle-one-tensor", "bundle with one float32 tensor", M(), [("w", sample(f32, (2, 2)))],
                        ["bundle"])
    yield bundle_vector("bundle-metadata-only", "bundle with metadata and no tensors",
                        M([("name", "empty model")]), [], ["bundle", "metadata"])
    # Every length 0..7 of the pad before the tensors (SPEC.md §5.2): metadata {"m": "x" * j} moves B.
    seen = set()
    for j in range(16):
        meta = M([("m", "x" * j)])
        prefix_len = 6 + 2 + len(meta_bytes(meta)) + len(_one_entry("w"))
        k = (-(prefix_len + 1)) % 8
        if k in seen:
            continue
        seen.add(k)
        yield bundle_vector(f"bundle-pad-{k}", f"bundle whose pad before the tensors is {k} zero bytes "
                            f"(metadata {{\"m\": {j} x}})", meta, [("w", sample(BY_NAME["float64"], (1,)))],
                            ["bundle", "padding", "alignment"])
    assert seen == set(range(8)), seen
    yield bundle_vector("bundle-mixed-layout", "bundle of a string tensor between aligned tensors: the layout "
                        "rule for strings (offset = item start + 1) and the padding after them",
                        M(), [("a", sample(BY_NAME["float64"], (3,))), ("b", TensorSpec(BY_NAME["string"], (2,),
                                                                                       strings=["é", "xyz"])),
                              ("c", sample(BY_NAME["complex128"], (1,))), ("d", sample(BY_NAME["bool"], (5,)))],
                        ["bundle", "string", "alignment"])
    yield bundle_vector("bundle-every-dtype", "bundle with one tensor of every dtype (names sort bytewise)",
                        M([("dtypes", len(DTYPES))]), [(dt.name, sample(dt, (3,), dt.code)) for dt in DTYPES],
                        ["bundle", "many-tensors", "dtype"])
    yield bundle_vector("bundle-every-dtype-rank0", "bundle with a scalar of every dtype",
                        M(), [(f"s{dt.code:02d}", sample(dt, ())) for dt in DTYPES],
                        ["bundle", "many-tensors", "rank0"])
    names = ["b", "aa", "a", "ab", "é", "z" * 24, "B", "_", "0", "🦀"]
    yield bundle_vector("bundle-name-order", "names sort by encoded bytes: shorter first (\"b\" before \"aa\")",
                        M(), [(n, sample(i8, (1,), i)) for i, n in enumerate(names)], ["bundle", "key-order"])
    yield bundle_vector("bundle-name-4096", "tensor name of exactly 4096 bytes (the maximum)", M(),
                        [("n" * 4096, sample(i8, (2,)))], ["bundle", "name-length", "limits"])
    yield bundle_vector("bundle-name-4096-utf8", "tensor name of 4096 bytes of 2-byte UTF-8 characters", M(),
                        [("é" * 2048, sample(i8, (2,)))], ["bundle", "name-length", "limits"])
    yield bundle_vector("bundle-name-23-24", "names of 23 and 24 bytes (text head grows by one byte)", M(),
                        [("q" * 23, sample(f32, (1,))), ("q" * 24, sample(f32, (1,)))], ["bundle", "name-length"])
    yield bundle_vector("bundle-zero-size", "bundle with empty and scalar tensors", M(),
                        [("empty", sample(f32, (0, 4))), ("str", sample(BY_NAME["string"], (0,))),
                         ("scalar", sample(BY_NAME["float64"], ()))], ["bundle", "zero-dim", "rank0"])
    yield bundle_vector("bundle-many-tensors", "bundle with 40 float16 tensors", M([("n", 40)]),
                        [(f"layer.{i}.weight", sample(BY_NAME["float16"], (i % 4 + 1,), i)) for i in range(40)],
                        ["bundle", "many-tensors", "alignment"])
    for i, v in enumerate(INTS):
        yield bundle_vector(f"meta-int-{i:02d}", f"metadata integer {v}", M([("v", v)]), [], ["metadata", "int"])
    for i, x in enumerate(FLOATS):
        yield bundle_vector(f"meta-float-{i:02d}", f"metadata float {x!r} in its shortest exact width",
                            M([("v", F(x))]), [], ["metadata", "float"])
    simple: dict[str, object] = {
        "text-empty": "", "text": "hello", "text-utf8": "Grüße ✓ 🦀", "bytes-empty": b"", "bytes": b"\x00\xff\x10",
        "bytes-24": bytes(range(24)), "true": True, "false": False, "null": None, "array-empty": [],
        "map-empty": M(), "array-mixed": [1, F(1.0), "1", b"1", None, True, [], M()],
        "map-nested": M([("inner", M([("x", 1), ("y", [F(-0.0), F(float("nan"))])]))]),
        "key-empty": M([("", 1)]),
    }
    for label, v in simple.items():
        meta = v if label == "key-empty" else M([("v", v)])
        assert isinstance(meta, M)
        yield bundle_vector(f"meta-{label}", f"metadata value: {label}", meta, [], ["metadata", label.split("-")[0]])
    keys = M([(k, i) for i, k in enumerate(["b", "aa", "a", "ab", "é", "B", "", "zzzzzzzzzzzzzzzzzzzzzzzz", "~"])])
    yield bundle_vector("meta-key-order", "metadata keys sorted by encoded bytes (shorter first)", keys, [],
                        ["metadata", "key-order"])
    yield bundle_vector("meta-nesting-32", "metadata nested exactly 32 levels (the limit, map is level 1)",
                        M([("deep", nested(31, 1))]), [], ["metadata", "nesting", "limits"])
    yield bundle_vector("meta-nesting-32-empty", "metadata with an empty array at level 32",
                        M([("deep", nested(30, []))]), [], ["metadata", "nesting", "limits"])
    everything = M([("int", -5), ("big", (1 << 64) - 1), ("float", F(0.25)), ("nan", F(float("nan"))),
                    ("negzero", F(-0.0)), ("text", "ü"), ("bytes", b"\x01\x02"), ("t", True), ("f", False),
                    ("none", None), ("list", [1, [2, [3]]]), ("cfg", M([("lr", F(0.001)), ("layers", [4, 8])]))])
    yield bundle_vector("bundle-metadata-all-types", "metadata holding every allowed CBOR type, with two tensors",
                        everything, [("bias", sample(BY_NAME["float16"], (1,))), ("w", sample(f32, (2, 2)))],
                        ["bundle", "metadata"])


MODULES = [shape_vectors, special_vectors, int_extreme_vectors, packed_vectors, string_vectors,
           alignment_vectors, dims_vectors, bundle_vectors]


def vectors() -> Iterator[Vector]:
    for make in MODULES:
        yield from make()
