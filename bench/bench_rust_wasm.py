"""The Rust crate on wasm32: module size and the IC instructions and fuel of its operations (issue 13 §4).

Builds bindings/rust/wasm-probe (a no_std wasm32 module over the crate, profile `wasm`: LTO, opt-level z,
panic=abort) twice: with the crate, and with every tensorcbor call left out (feature `baseline`, same
exports). The crate's share is the difference after `wasm-opt -Oz`.

Each operation is measured in IC instructions (the module instrumented as the replica instruments canisters,
tensorcbor.ic.meter; keys ending `_ic_instructions...`) and in wasmtime fuel of the original module (about one
per Wasm operator; the keys without the suffix, comparable with older figures).

Imported by bench/bench_canister.py (the driver); `Probe` is also the harness of tests/test_rust_wasm.py.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import tensorcbor
from tensorcbor.ic.meter import Metered

ROOT = Path(__file__).resolve().parent.parent
CRATE = ROOT / "bindings" / "rust"
TARGET = "wasm32-unknown-unknown"
WASM_OPT_FLAGS = ["--enable-bulk-memory", "--enable-sign-ext", "--enable-mutable-globals",
                  "--enable-nontrapping-float-to-int", "--enable-multivalue", "--enable-reference-types"]


def build_probe(baseline: bool = False, stream: bool = False) -> Path:
    """cargo-build the probe module (release profile `wasm`); returns the .wasm path."""
    target_dir = CRATE / "target" / ("probe-baseline" if baseline else "probe-stream" if stream else "probe")
    cmd = ["cargo", "build", "--quiet", "--locked", "--profile", "wasm", "--target", TARGET,
           "--manifest-path", str(CRATE / "Cargo.toml"), "-p", "tensorcbor-wasm-probe",
           "--target-dir", str(target_dir)]
    # scripts/wasm32-toolchain.sh's fallback (no rustup target) builds core and alloc from source.
    cmd += os.environ.get("TENSORCBOR_WASM32_CARGO_FLAGS", "").split()
    if baseline:
        cmd += ["--features", "baseline"]
    if stream:
        cmd += ["--features", "stream"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"building the wasm probe failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return target_dir / TARGET / "wasm" / "tensorcbor_wasm_probe.wasm"


def wasm_opt(path: Path) -> Path | None:
    """`wasm-opt -Oz` of `path` (None if binaryen's wasm-opt is not installed)."""
    tool = shutil.which("wasm-opt")
    if tool is None:
        return None
    out = path.with_suffix(".oz.wasm")
    subprocess.run([tool, "-Oz", *WASM_OPT_FLAGS, str(path), "-o", str(out)], check=True, timeout=300)
    return out


class Probe:
    """The probe module, metered (tensorcbor.ic.meter); each call reports (result, fuel used) and leaves its IC
    instructions in `ic` (a stream's data chunks: their sum)."""

    def __init__(self, wasm: Path) -> None:
        self.metered = Metered(wasm)
        self.store = self.metered.store
        assert self.metered.memory is not None
        self.memory = self.metered.memory
        self.ic = 0

    def _call(self, name: str, *args: int) -> tuple[Any, int]:
        result, self.ic, fuel = self.metered.call(name, *args)
        return result, fuel

    def _put(self, data: bytes, reset: bool = True) -> int:
        if reset:  # forgets every allocation: not while a stream receiver lives in the module's heap
            self._call("reset")
        ptr, _ = self._call("alloc", len(data))
        self.memory.write(self.store, data, ptr)
        return int(ptr)

    def decode_view(self, doc: bytes) -> tuple[int, int]:
        """(offset of the element bytes, or -(1 + registry index) on rejection; fuel)."""
        ptr = self._put(doc)
        return self._call("decode_view", ptr, len(doc))

    def sum_f32(self, doc: bytes) -> tuple[float, int]:
        ptr = self._put(doc)
        return self._call("sum_f32", ptr, len(doc))

    def bundle_tensor_count(self, doc: bytes) -> tuple[int, int]:
        ptr = self._put(doc)
        return self._call("bundle_tensor_count", ptr, len(doc))

    def encode(self, data: bytes, dtype_code: int, n: int) -> tuple[bytes | int, int]:
        """(the rank-1 tensor document, or a negative error; fuel)."""
        ptr = self._put(data)
        out, fuel = self._call("encode", ptr, len(data), dtype_code, n)
        if out < 0:
            return int(out), fuel
        ic = self.ic
        length, _ = self._call("out_len")
        self.ic = ic
        return bytes(self.memory.read(self.store, out, out + length)), fuel


    def stream_accept(self, chunks: list[bytes]) -> tuple[list[int], int]:
        """Feed a whole stream to a fresh sequential receiver: (result per chunk, fuel of the data chunks)."""
        self._call("reset")
        self._call("stream_reset")
        results, fuel, ic = [], 0, 0
        for i, chunk in enumerate(chunks):
            ptr = self._put(chunk, reset=False)
            out, used = self._call("stream_accept", ptr, len(chunk))
            results.append(int(out))
            fuel += used if i else 0
            ic += self.ic if i else 0
        self.ic = ic
        return results, fuel


def registry_code(result: int) -> str | None:
    """The registry code of a negative probe result (None for a success)."""
    from tensorcbor.errors import REGISTRY

    return REGISTRY[-1 - result][0] if result < 0 else None


@functools.cache
def probe() -> Probe:
    return Probe(build_probe())


def float32_doc(n_bytes: int) -> bytes:
    return tensorcbor.encode(np.arange(n_bytes // 4, dtype=np.float32))


def lib_wasm_bytes() -> dict[str, Any]:
    full, base = build_probe(), build_probe(baseline=True)
    full_oz, base_oz = wasm_opt(full), wasm_opt(base)
    if full_oz is None or base_oz is None:
        return {"rust_lib_wasm_bytes": full.stat().st_size - base.stat().st_size,
                "rust_lib_wasm_opt": "wasm-opt not installed: sizes WITHOUT wasm-opt -Oz"}
    version = subprocess.run(["wasm-opt", "--version"], capture_output=True, text=True).stdout.strip()
    return {"rust_lib_wasm_bytes": full_oz.stat().st_size - base_oz.stat().st_size,
            "rust_lib_wasm_module_bytes": full_oz.stat().st_size,
            "rust_lib_wasm_baseline_bytes": base_oz.stat().st_size,
            "rust_lib_wasm_opt": version}


def decode_view_1mib() -> dict[str, Any]:
    p = probe()
    out, fuel = p.decode_view(float32_doc(1 << 20))
    ic = p.ic
    assert out >= 0, registry_code(out)
    big, fuel_16 = p.decode_view(float32_doc(16 << 20))
    assert big >= 0, registry_code(big)
    return {"rust_decode_view_1mib_ic_instructions": ic, "rust_decode_view_1mib": fuel,
            "rust_decode_view_16mib_ic_instructions": p.ic, "rust_decode_view_16mib": fuel_16}


def sum_f32_per_element() -> dict[str, Any]:
    p = probe()
    doc = float32_doc(1 << 20)
    _, view = p.decode_view(doc)
    view_ic = p.ic
    total, fuel = p.sum_f32(doc)
    assert total == float(np.arange(1 << 18, dtype=np.float64).sum())
    return {"rust_sum_f32_per_element_ic_instructions": round((p.ic - view_ic) / (1 << 18), 2),
            "rust_sum_f32_per_element": round((fuel - view) / (1 << 18), 2)}


def bundle_per_tensor() -> dict[str, Any]:
    p = probe()
    weights = {f"layer.{i:03d}.weight": np.full((4, 4), i, dtype=np.float32) for i in range(300)}
    count, fuel = p.bundle_tensor_count(tensorcbor.encode_bundle(weights, {"model": "bench"}))
    ic = p.ic
    assert count == 300, registry_code(count)
    none, fuel_0 = p.bundle_tensor_count(tensorcbor.encode_bundle({}, {"model": "bench"}))
    assert none == 0, registry_code(none)
    return {"rust_bundle_per_tensor_ic_instructions": round((ic - p.ic) / 300, 1),
            "rust_bundle_per_tensor": round((fuel - fuel_0) / 300, 1)}


def encode_per_byte() -> dict[str, Any]:
    p = probe()
    data = np.arange(1 << 18, dtype=np.float32).tobytes()
    doc, fuel = p.encode(data, 1, 1 << 18)
    ic = p.ic
    assert doc == tensorcbor.encode(np.frombuffer(data, dtype=np.float32))
    return {"rust_encode_ic_instructions_per_byte": round(ic / len(data), 3),
            "rust_encode_per_byte": round(fuel / len(data), 3)}


def stream_verify_per_byte() -> dict[str, Any]:
    from tensorcbor import stream

    p = Probe(build_probe(stream=True))
    doc = float32_doc(8 << 20)
    chunks = list(stream.chunks(doc))
    results, fuel = p.stream_accept(chunks)
    assert results == list(range(len(chunks))), [registry_code(r) for r in results]
    return {"rust_stream_verify_ic_instructions_per_byte": round(p.ic / len(doc), 2),
            "rust_stream_verify_per_byte": round(fuel / len(doc), 2)}


MEASUREMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "rust_lib_wasm_bytes": lib_wasm_bytes,
    "rust_decode_view_1mib": decode_view_1mib,
    "rust_sum_f32_per_element": sum_f32_per_element,
    "rust_bundle_per_tensor": bundle_per_tensor,
    "rust_encode_per_byte": encode_per_byte,
    "rust_stream_verify_per_byte": stream_verify_per_byte,
}
"""Key -> function returning that key (and related detail keys); bench_canister.py runs them."""
