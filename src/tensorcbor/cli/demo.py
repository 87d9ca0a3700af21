"""``tensorcbor demo``: the whole product in one run, on a real-sized model, in a few seconds.

Builds locally (no download) a model with the exact tensor names and shapes of the sentence-transformer
all-MiniLM-L6-v2 (22.7M parameters; matrices in bfloat16, vectors in float32), then shows what a person
deciding on a format wants to see: file sizes and write/read times next to safetensors and .npy for the same
weights, a lazy load of one layer, the chunked upload plan for 2 MiB Internet Computer messages, every ML
dtype round-tripping bit for bit, and the conformance suite.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import accel, decode, decode_bundle, encode, encode_bundle, load_file, save_file, stream
from ..errors import DecodeError

LAYER = "encoder.layer.3.attention.self.query.weight"


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="a real-sized model through tensorcbor: sizes, times, lazy load, upload plan")
    p.add_argument("--no-conformance", action="store_true", help="skip running the conformance suite")
    p.set_defaults(func=run)


def _title(text: str) -> None:
    print(f"\n== {text}")


def _size(n: float) -> str:
    return f"{n:,.0f} B" if n < 10_000 else f"{n / 1024:,.1f} KiB" if n < 10 << 20 else f"{n / (1 << 20):,.1f} MiB"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs" if seconds < 1e-3 else f"{seconds * 1e3:,.1f} ms"


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    _one_tensor()
    with tempfile.TemporaryDirectory(prefix="tensorcbor-demo-") as tmp:
        model = minilm_weights()
        path = _formats(model, Path(tmp))
        _lazy(path)
        _upload_plan(path)
    _every_dtype()
    if not args.no_conformance and _conformance() != 0:
        return 1
    print(f"\ndone in {time.perf_counter() - started:.1f} s")
    return 0


def minilm_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """all-MiniLM-L6-v2's state dict layout (BERT, 6 layers, hidden 384, FFN 1536, vocab 30522) with random
    values: matrices bfloat16, biases and LayerNorms float32, as a mixed-precision checkpoint stores them."""
    import ml_dtypes  # imported where needed: it adds ~0.8 s to every command's start

    rng = np.random.default_rng(seed)
    hidden, ffn = 384, 1536
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (30522, hidden),
        "embeddings.position_embeddings.weight": (512, hidden),
        "embeddings.token_type_embeddings.weight": (2, hidden),
        "embeddings.LayerNorm.weight": (hidden,), "embeddings.LayerNorm.bias": (hidden,),
    }
    for i in range(6):
        p = f"encoder.layer.{i}."
        for part in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes[f"{p}{part}.weight"] = (hidden, hidden)
            shapes[f"{p}{part}.bias"] = (hidden,)
        shapes[f"{p}intermediate.dense.weight"] = (ffn, hidden)
        shapes[f"{p}intermediate.dense.bias"] = (ffn,)
        shapes[f"{p}output.dense.weight"] = (hidden, ffn)
        shapes[f"{p}output.dense.bias"] = (hidden,)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"{p}{norm}.weight"] = (hidden,)
            shapes[f"{p}{norm}.bias"] = (hidden,)
    shapes["pooler.dense.weight"] = (hidden, hidden)
    shapes["pooler.dense.bias"] = (hidden,)
    out = {}
    for name, shape in shapes.items():
        values = rng.standard_normal(shape, np.float32) * np.float32(0.02)
        out[name] = values.astype(ml_dtypes.bfloat16) if len(shape) == 2 else values
    return out


def _one_tensor() -> None:
    _title("1. One tensor, byte by byte")
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    blob = encode(arr)
    framing = len(blob) - arr.nbytes
    buf = io.BytesIO()
    np.save(buf, arr)
    print(f"float32 {list(arr.shape)}: {len(blob)} bytes = {framing} bytes of framing + {arr.nbytes} of data "
          f"(.npy: {len(buf.getvalue()) - arr.nbytes} bytes of framing)")
    print(f"  magic d9d9f7 d9cb74 | header {blob[6:framing].hex(' ')} | data at offset {framing} (aligned to 4)")
    view = decode(blob)
    assert isinstance(view, np.ndarray)
    print(f"  decoded without copying: {view.base is not None and not view.flags.owndata}, "
          f"read-only: {not view.flags.writeable}, equal: {np.array_equal(view, arr)}")
    print(f"  SHA-256 {hashlib.sha256(blob).hexdigest()[:16]}…: every conforming encoder produces these "
          "exact bytes, because there is exactly one valid encoding")


def _formats(model: dict[str, np.ndarray], tmp: Path) -> Path:
    """Write and read the same weights as .tcb, safetensors and .npy; returns the .tcb path."""
    import ml_dtypes

    params = sum(a.size for a in model.values())
    total = sum(a.nbytes for a in model.values())
    kinds = sorted({a.dtype.name for a in model.values()})
    _title(f"2. A real-sized model: all-MiniLM-L6-v2's {len(model)} tensors, {params / 1e6:.1f}M parameters "
           f"({' + '.join(kinds)}), {_size(total)}")
    tcb = tmp / "minilm.tcb"
    rows: list[tuple[str, int, float, float, str]] = []
    _, w = _timed(lambda: save_file(model, tcb, metadata={"format": "pt", "model": "all-MiniLM-L6-v2"}))

    def read_tcb() -> int:
        with load_file(tcb) as bundle:
            return sum(bundle[n].size for n in bundle)
    _, r = _timed(read_tcb)
    rows.append((".tcb (tensorcbor)", tcb.stat().st_size, w, r, "memory-mapped views, no copy"))

    st = tmp / "minilm.safetensors"
    try:
        from safetensors import safe_open
        from safetensors.numpy import save_file as st_save
    except ImportError:
        print("  (safetensors is not installed: pip install 'tensorcbor[safetensors]' to compare with it)")
    else:
        _, w = _timed(lambda: st_save(model, str(st), metadata={"format": "pt"}))

        def read_st() -> int:
            with safe_open(str(st), framework="numpy") as f:
                return sum(f.get_tensor(n).size for n in f.keys())  # noqa: SIM118 - safe_open has no __iter__
        _, r = _timed(read_st)
        rows.append((".safetensors", st.stat().st_size, w, r, "copies each tensor out"))

    npy_dir = tmp / "npy"
    npy_dir.mkdir()

    def write_npy() -> None:
        for n, a in model.items():  # numpy has no .npy spelling of bfloat16: its bits as uint16
            np.save(npy_dir / f"{n}.npy", a.view(np.uint16) if a.dtype == ml_dtypes.bfloat16 else a)
    _, w = _timed(write_npy)
    _, r = _timed(lambda: sum(np.load(p).size for p in npy_dir.iterdir()))
    rows.append((f".npy ({len(model)} files)", sum(p.stat().st_size for p in npy_dir.iterdir()), w, r,
                 "bfloat16 lost: stored as uint16"))

    print(f"  {'format':<20} {'size':>10} {'write':>9} {'read all':>9}")
    for name, size, w, r, note in rows:
        print(f"  {name:<20} {_size(size):>10} {_ms(w):>9} {_ms(r):>9}   {note}")
    if st.exists():
        from ..convert import read, write
        back_tcb, back_st = tmp / "from-st.tcb", tmp / "back.safetensors"
        write(read(st), back_tcb)
        write(read(back_tcb), back_st)
        print(f"  safetensors -> .tcb -> safetensors byte-identical: {back_st.read_bytes() == st.read_bytes()} "
              f"(metadata {read(back_tcb).metadata} kept as native safetensors metadata)")
    return tcb


def _lazy(path: Path) -> None:
    _title("3. Lazy load: one layer out of the file")

    def one() -> tuple[Any, float]:
        with load_file(path) as bundle:
            info = bundle.info(LAYER)
            layer = np.array(bundle[LAYER], dtype=np.float32)
            return info, float(np.abs(layer).mean())
    (info, mean), took = _timed(one)
    print(f"load_file + bundle[{LAYER!r}]: {_ms(took)}")
    print(f"  {info.dtype.name} {list(info.shape)}, {_size(info.nbytes)} at byte offset {info.offset} of a "
          f"{_size(path.stat().st_size)} file; only those pages are read (mean |w| = {mean:.4f})")
    print(f"  bundle reader: {accel.status()}")


def _upload_plan(path: Path) -> None:
    _title("4. Upload plan: Internet Computer ingress messages (2 MiB each)")
    doc = path.read_bytes()
    pieces, took = _timed(lambda: list(stream.chunks(doc)))
    digest = stream.stream_digest(pieces[0])
    print(f"{_size(len(doc))} bundle -> manifest ({_size(len(pieces[0]))}) + {len(pieces) - 1} chunks of at most "
          f"{stream.DEFAULT_MAX_SIZE:,} bytes (room for the message envelope); planned in {_ms(took)}")
    print(f"  stream digest {digest.hex()[:32]}… (the canister needs only this to verify everything)")
    asm = stream.Assembler(digest)
    done_per_chunk: list[list[str]] = []
    _, took = _timed(lambda: done_per_chunk.extend([name for name, _ in asm.feed(p)] for p in pieces))
    asm.finish()
    for index in [1, 2, len(pieces) - 1]:
        names = done_per_chunk[index]
        shown = ", ".join(names[:2]) + (f" + {len(names) - 2} more" if len(names) > 2 else "") or "(inside a tensor)"
        print(f"  chunk {index:>2}: {len(pieces[index]):>9,} bytes, completes {shown}")
    print(f"  receiver: every chunk verified on arrival, tensors usable as they complete; {_ms(took)} in all")
    tampered = bytearray(pieces[3])
    tampered[-1] ^= 1
    asm = stream.Assembler(digest)
    try:
        for piece in pieces[:3] + [bytes(tampered)]:
            asm.feed(piece)
        print("  tampered chunk accepted: this is a bug")
    except DecodeError as exc:
        print(f"  a chunk with one flipped bit is rejected at once: {exc.code}")


def _every_dtype() -> None:
    import ml_dtypes

    _title("5. Every ML dtype, bit-exact")
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
    print(f"{len(tensors)} tensors ({', '.join(back.info(k).dtype.name for k in back)}) in {len(blob)} bytes; "
          f"bit-exact round trip: {exact}; re-encoding identical: {encode_bundle(dict(back), back.metadata) == blob}")
    print(f"  int4 [-8, 7, 1] packs to {back.info('int4').nbytes} bytes, the same bytes as ONNX raw_data")


def _bits(arr: np.ndarray) -> Any:
    """What "bit-exact" compares: the raw element bytes (NaN payloads included), or the strings."""
    return arr.tolist() if arr.dtype.kind in "TU" else (arr.shape, arr.reshape(-1).view(np.uint8).tobytes())


def _conformance() -> int:
    _title("6. Conformance suite against the reference codec")
    try:
        from ..conformance.impl import PythonImpl
        from ..conformance.runner import run as run_suite
        from ..conformance.suite import load_suite
        suite = load_suite()
    except FileNotFoundError as exc:
        print(f"skipped: {exc}")
        return 0
    results, took = _timed(lambda: run_suite(PythonImpl(), suite.vectors))
    failed = [r for r in results if not r.ok]
    valid = sum(1 for r in results if r.vector.valid)
    print(f"{len(results) - len(failed)}/{len(results)} vectors pass ({valid} valid, {len(results) - valid} "
          f"invalid, each with its expected error code) in {took:.1f} s; check your own implementation with "
          "`tensorcbor conformance run --impl CMD`")
    for r in failed[:5]:
        print(f"  FAIL {r.vector.id}: {'; '.join(r.failures)}")
    return 1 if failed else 0
