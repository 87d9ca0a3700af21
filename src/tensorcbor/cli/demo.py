"""``tensorcbor demo``: the whole product in one run, on real data, in a few seconds.

Encodes a tensor and shows its bytes, converts a real ONNX model's weights to a
bundle and on to safetensors and back, chunks the bundle into IC-message-sized
pieces and reassembles it tensor by tensor (rejecting a tampered chunk), and runs
the conformance suite against the reference codec.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import tempfile
import time
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from .. import decode, decode_bundle, encode, encode_bundle, stream
from ..errors import DecodeError


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="encode, convert, stream and validate real tensors; print what happens")
    p.add_argument("--no-conformance", action="store_true", help="skip running the conformance suite")
    p.set_defaults(func=run)


def _title(text: str) -> None:
    print(f"\n== {text}")


def _size(n: int) -> str:
    return f"{n:,} B" if n < 10_000 else f"{n / 1024:,.1f} KiB" if n < 10 << 20 else f"{n / (1 << 20):,.1f} MiB"


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    _one_tensor()
    with tempfile.TemporaryDirectory() as tmp:
        weights = _real_model(Path(tmp))
        _every_dtype()
        _streaming(weights)
    if not args.no_conformance:
        if _conformance() != 0:
            return 1
    print(f"\ndone in {time.perf_counter() - started:.1f} s")
    return 0


def _one_tensor() -> None:
    _title("1. One tensor, byte by byte")
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    blob = encode(arr)
    framing = len(blob) - arr.nbytes
    buf = io.BytesIO()
    np.save(buf, arr)
    print(f"float32 {list(arr.shape)}: {len(blob)} bytes = {framing} bytes of framing + {arr.nbytes} of data "
          f"(.npy: {len(buf.getvalue()) - arr.nbytes} bytes of framing)")
    print(f"  magic d9d9f7 d9cb74 | header {blob[6:framing].hex(' ')} | data at offset {framing} "
          f"(aligned to 4)")
    view = decode(blob)
    assert isinstance(view, np.ndarray)
    print(f"  decoded without copying: {view.base is not None and not view.flags.owndata}, "
          f"read-only: {not view.flags.writeable}, equal: {np.array_equal(view, arr)}")
    print(f"  SHA-256 {hashlib.sha256(blob).hexdigest()[:16]}…: every conforming encoder produces these "
          "exact bytes, because there is exactly one valid encoding")


def _real_model(tmp: Path) -> dict[str, np.ndarray]:
    """Weights of a real ONNX model shipped with the onnx package (or a synthetic set without onnx)."""
    _title("2. A real model's weights: ONNX -> tensorcbor -> safetensors -> tensorcbor -> ONNX")
    try:
        import onnx
    except ImportError:
        print("onnx is not installed (pip install 'tensorcbor[onnx]'): using synthetic weights")
        rng = np.random.default_rng(0)
        return {f"layer{i}.weight": rng.standard_normal((64, 64), np.float32) for i in range(8)}
    from ..convert import read, write
    model = Path(onnx.__file__).parent / "backend/test/data/light/light_densenet121.onnx"
    weights = read(model)
    tcb, st, back, onnx_out = tmp / "w.tcb", tmp / "w.safetensors", tmp / "back.tcb", tmp / "m.onnx"
    write(weights, tcb)
    write(read(tcb), st)
    write(read(st), back)
    write(read(back), onnx_out, model=str(model))
    total = sum(a.nbytes for a in weights.arrays.values())
    print(f"{model.name}: {len(weights.arrays)} initializers, {_size(total)} of weights")
    print(f"  .tcb {_size(tcb.stat().st_size)}   .safetensors {_size(st.stat().st_size)}   "
          f".onnx {_size(model.stat().st_size)}")
    same = tcb.read_bytes() == back.read_bytes()
    a, b = onnx.load(str(model)), onnx.load(str(onnx_out))
    inits_equal = len(a.graph.initializer) == len(b.graph.initializer) and all(
        np.array_equal(onnx.numpy_helper.to_array(x), onnx.numpy_helper.to_array(y))
        for x, y in zip(a.graph.initializer, b.graph.initializer, strict=True))
    print(f"  safetensors round trip gives the same .tcb bytes: {same}; "
          f"rebuilt ONNX graph equal: {a.graph.node == b.graph.node and inits_equal}")
    bundle = decode_bundle(tcb.read_bytes())
    print(f"  {'name':<28} {'dtype':<9} {'shape':<16} {'bytes':>7} {'offset':>7}")
    for name in list(bundle)[:6]:
        info = bundle.info(name)
        print(f"  {name:<28} {info.dtype.name:<9} {str(list(info.shape)):<16} {info.nbytes:>7} {info.offset:>7}")
    print(f"  … {len(bundle) - 6} more; every data offset is a multiple of its element size")
    return dict(bundle)


def _every_dtype() -> None:
    _title("3. Every ML dtype, bit-exact")
    tensors = {
        "bf16": np.array([1.0, -0.0, np.inf, np.nan], ml_dtypes.bfloat16),
        "fp8": np.array([448, -0.001953125, np.nan], ml_dtypes.float8_e4m3fn),
        "int4": np.array([-8, 7, 1], ml_dtypes.int4),
        "fp4": np.array([[6.0, -0.5], [1.0, 0.0]], ml_dtypes.float4_e2m1fn),
        "c64": np.array([1 + 2j], np.complex64),
        "vocab": np.array(["<pad>", "tensor", "Grüße ✓"], dtype=np.dtypes.StringDType()),
        "scalar": np.array(3.25),
        "empty": np.zeros((0, 4), np.int16),
    }
    blob = encode_bundle(tensors, {"source": "demo", "step": 1200, "lr": 0.25, "nested": {"ok": [True, None]}})
    back = decode_bundle(blob)
    exact = all(_bits(back[k]) == _bits(v) for k, v in tensors.items())
    print(f"{len(tensors)} tensors ({', '.join(b.info(k).dtype.name for b in [back] for k in back)}) "
          f"in {len(blob)} bytes; bit-exact round trip: {exact}; re-encoding identical: "
          f"{encode_bundle(dict(back), back.metadata) == blob}")
    print(f"  int4 [-8, 7, 1] packs to {back.info('int4').nbytes} bytes, the same bytes as ONNX raw_data")


def _bits(arr: np.ndarray) -> Any:
    """What "bit-exact" compares: the raw element bytes (NaN payloads included), or the strings."""
    return arr.tolist() if arr.dtype.kind in "TU" else (arr.shape, arr.reshape(-1).view(np.uint8).tobytes())


def _streaming(weights: dict[str, np.ndarray]) -> None:
    _title("4. Streaming in Internet Computer message-sized chunks")
    blob = encode_bundle(weights)
    max_size = 16 * 1024  # small, so the demo shows several chunks; the default is 1,900,000 bytes
    pieces = list(stream.chunks(blob, max_size=max_size))
    digest = stream.stream_digest(pieces[0])
    print(f"{_size(len(blob))} bundle -> manifest + {len(pieces) - 1} chunks of at most {_size(max_size)}; "
          f"stream digest {digest.hex()[:16]}…")
    asm = stream.Assembler(digest)
    per_chunk = [len(asm.feed(piece)) for piece in pieces]
    asm.finish()
    print(f"  receiver verified every chunk on arrival and yielded tensors as they completed: "
          f"{' + '.join(map(str, per_chunk[1:]))} = {sum(per_chunk)} tensors, chunk by chunk")
    tampered = bytearray(pieces[3])
    tampered[-1] ^= 1
    asm = stream.Assembler(digest)
    try:
        for piece in pieces[:3] + [bytes(tampered)]:
            asm.feed(piece)
        print("  tampered chunk accepted: this is a bug")
    except DecodeError as exc:
        print(f"  a chunk with one flipped bit is rejected at once: {exc.code}")


def _conformance() -> int:
    _title("5. Conformance suite against the reference codec")
    try:
        from ..conformance.impl import PythonImpl
        from ..conformance.runner import run as run_suite
        from ..conformance.suite import load_suite
        suite = load_suite()
    except FileNotFoundError as exc:
        print(f"skipped: {exc}")
        return 0
    results = run_suite(PythonImpl(), suite.vectors)
    failed = [r for r in results if not r.ok]
    valid = sum(1 for r in results if r.vector.valid)
    print(f"{len(results) - len(failed)}/{len(results)} vectors pass ({valid} valid, {len(results) - valid} "
          f"invalid, each with its expected error code)")
    for r in failed[:5]:
        print(f"  FAIL {r.vector.id}: {'; '.join(r.failures)}")
    return 1 if failed else 0
