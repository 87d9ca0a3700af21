"""examples/model-canister for tests and the bench: build its .wasm, make BERT weights with Hugging Face names,
compute the reference embedding off-chain (numpy, float64), and drive the canister over tensorcbor.ic.

The canister uses the tensor-store upload protocol, so the upload goes through store_client.UploadClient.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from store_client import UploadClient
from tensorcbor.ic import Canister, Result, candid

EXAMPLES = Path(__file__).resolve().parent
CRATE = EXAMPLES / "model-canister"
DID = CRATE / "model-canister.did"
NAMES = candid.did_names(DID)
WASM_TARGET = "wasm32-unknown-unknown"
# The canister's own .cargo/config.toml sets this for wasm32; RUSTFLAGS from the environment would replace it.
GETRANDOM_CFG = '--cfg getrandom_backend="custom"'


class BuildError(Exception):
    """The canister could not be built; the message says what to install."""


VARIANTS = ("default", "simd", "scalar")


def build(variant: str = "default") -> Path:
    """`cargo build --release --target wasm32-unknown-unknown` of examples/model-canister; the .wasm path. Cargo
    does nothing when the sources did not change.

    Variants: "default" is what `dfx deploy` builds (candle's gemm kernels use wasm SIMD: candle enables gemm's
    `wasm-simd128-enable`, and those kernels carry `#[target_feature(enable = "simd128")]`); "simd" compiles the
    whole module with `-C target-feature=+simd128` (its own target directory); "scalar" is the benchmark
    baseline with gemm's SIMD kernels switched off (feature `scalar-gemm`; copied out, as it shares the default
    build's target directory)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r} is not one of {VARIANTS}")
    cargo = shutil.which("cargo")
    if cargo is None:
        raise BuildError("cargo is not on PATH: install a Rust toolchain (rustup) and the wasm32 target")
    env = dict(os.environ)
    env.pop("RUSTFLAGS", None)
    env.pop("CARGO_TARGET_DIR", None)
    target_dir = CRATE / "target"
    args = ["nice", cargo, "build", "--release", "--locked", "--quiet", "--target", WASM_TARGET]
    if variant == "simd":
        target_dir = target_dir / "simd"
        env["CARGO_TARGET_DIR"] = str(target_dir)
        env["CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS"] = GETRANDOM_CFG + " -C target-feature=+simd128"
    elif variant == "scalar":
        args += ["--features", "scalar-gemm"]
    proc = subprocess.run(args, cwd=CRATE, capture_output=True, text=True, timeout=3600, env=env)
    if proc.returncode != 0:
        hint = ""
        if "target may not be installed" in proc.stderr or "can't find crate for `core`" in proc.stderr:
            hint = f"\n(install the target: rustup target add {WASM_TARGET})"
        raise BuildError(f"cargo build of examples/model-canister failed ({proc.returncode}):\n"
                         f"{proc.stderr[-4000:]}{hint}")
    wasm = target_dir / WASM_TARGET / "release" / "model_canister.wasm"
    if not wasm.is_file():
        raise BuildError(f"cargo succeeded but {wasm} is missing")
    if variant == "scalar":
        copy = target_dir / "model_canister_scalar_gemm.wasm"
        shutil.copyfile(wasm, copy)
        return copy
    return wasm


@dataclass(frozen=True)
class BertShape:
    """A BERT encoder's sizes (config.json's names)."""
    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12


MINILM = BertShape()


def bert_weights(shape: BertShape, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 weights with the tensor names of Hugging Face's `BertModel.state_dict()` (as in
    all-MiniLM-L6-v2's model.safetensors), BERT's initialization (normal, std 0.02) with layer norms near 1
    and non-zero biases so every term of the forward pass matters; plus the pooler and the int64 position_ids
    buffer a checkpoint carries (the embedder ignores both)."""
    rng = np.random.default_rng(seed)
    h, i = shape.hidden_size, shape.intermediate_size

    def normal(*dims: int, std: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(dims) * std).astype(np.float32)

    def norm(prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.weight": (1 + normal(h, std=0.1)), f"{prefix}.bias": normal(h, std=0.05)}

    w: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": normal(shape.vocab_size, h),
        "embeddings.position_embeddings.weight": normal(shape.max_position_embeddings, h),
        "embeddings.token_type_embeddings.weight": normal(shape.type_vocab_size, h),
        "embeddings.position_ids": np.arange(shape.max_position_embeddings, dtype=np.int64)[None, :],
        **norm("embeddings.LayerNorm"),
        "pooler.dense.weight": normal(h, h),
        "pooler.dense.bias": normal(h),
    }
    for n in range(shape.num_hidden_layers):
        p = f"encoder.layer.{n}"
        for name, (out, inp) in {"attention.self.query": (h, h), "attention.self.key": (h, h),
                                 "attention.self.value": (h, h), "attention.output.dense": (h, h),
                                 "intermediate.dense": (i, h), "output.dense": (h, i)}.items():
            w[f"{p}.{name}.weight"] = normal(out, inp)
            w[f"{p}.{name}.bias"] = normal(out)
        w.update(norm(f"{p}.attention.output.LayerNorm"))
        w.update(norm(f"{p}.output.LayerNorm"))
    return w


_erf = np.frompyfunc(math.erf, 1, 1)


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def reference_embedding(weights: dict[str, np.ndarray], ids: list[int], shape: BertShape) -> np.ndarray:
    """The sentence embedding in float64, written from Hugging Face's BertModel (eval mode, token type 0, no
    padding) and sentence-transformers' mean pooling + Normalize: the independent reference."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    n, h, heads = len(ids), shape.hidden_size, shape.num_attention_heads
    d = h // heads
    eps = shape.layer_norm_eps
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)

    def linear(name: str, v: np.ndarray) -> np.ndarray:
        return v @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    for layer in range(shape.num_hidden_layers):
        p = f"encoder.layer.{layer}"
        q, k, v = (linear(f"{p}.attention.self.{m}", x).reshape(n, heads, d).transpose(1, 0, 2)
                   for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        ctx = (scores / scores.sum(-1, keepdims=True)) @ v
        ctx = ctx.transpose(1, 0, 2).reshape(n, h)
        x = _layer_norm(linear(f"{p}.attention.output.dense", ctx) + x,
                        w[f"{p}.attention.output.LayerNorm.weight"], w[f"{p}.attention.output.LayerNorm.bias"], eps)
        inter = linear(f"{p}.intermediate.dense", x)
        inter = 0.5 * inter * (1 + np.asarray(_erf(inter / math.sqrt(2)), dtype=np.float64))
        x = _layer_norm(linear(f"{p}.output.dense", inter) + x,
                        w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"], eps)
    mean = x.mean(0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


def max_rel_err(got: np.ndarray, want: np.ndarray) -> float:
    """max |got - want| over max |want|: relative to the vector's scale (an L2-normalized embedding has
    components near zero, where an element-wise relative error means nothing)."""
    return float(np.max(np.abs(got.astype(np.float64) - want)) / np.max(np.abs(want)))


def settings_arg(shape: BertShape) -> bytes:
    """The install argument `opt Settings`."""
    t = ("opt", ("record", {"num_attention_heads": "nat32", "layer_norm_eps": "float64"}))
    return candid.encode([(t, {"num_attention_heads": shape.num_attention_heads,
                               "layer_norm_eps": shape.layer_norm_eps})])


class ModelClient(UploadClient):
    """model-canister.did's methods; each returns (decoded reply, tensorcbor.ic.Result). The upload methods
    (begin_upload, put_chunk, finish, clear, upload) are the tensor-store protocol's."""

    def __init__(self, canister: Canister) -> None:
        super().__init__(canister, names=NAMES)

    def embed(self, ids: list[int]) -> tuple[Any, Result]:
        return self._query("embed", [(("vec", "nat32"), ids)])

    def status(self) -> tuple[Any, Result]:
        return self._query("status", [])


def expect_ok(value: Any, what: str) -> Any:
    tag, inner = value
    if tag != "Ok":
        raise AssertionError(f"{what}: {inner}")
    return inner
