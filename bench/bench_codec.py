"""tensorcbor against other tensor serializations, in one process, on float32 tensors.

    python3 bench/bench_codec.py            # full run, writes bench/RESULTS-codec.md
    python3 bench/bench_codec.py --quick    # a few seconds, prints only

Each cell is the minimum over repeats of the mean time per call (timeit-style).
"Decode" means bytes -> numpy array; tensorcbor returns a view, the others copy.
The plain-copy column is bytes(memoryview(arr)) / arr.copy().
"""

from __future__ import annotations

import argparse
import io
import pickle
import platform
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import msgpack_numpy
import numpy as np
import onnx
import safetensors.numpy
from onnx import numpy_helper

import tensorcbor
import tensorcbor.codec

SIZES = {"64 B": 16, "1 MiB": 256 * 1024, "64 MiB": 16 * 1024 * 1024}


def _npy_encode(a: np.ndarray) -> bytes:
    f = io.BytesIO()
    np.save(f, a, allow_pickle=False)
    return f.getvalue()


def _onnx_decode(b: bytes) -> np.ndarray:
    t = onnx.TensorProto()
    t.ParseFromString(b)
    return numpy_helper.to_array(t)


# name -> (encode, decode)
CODECS: dict[str, tuple[Callable[[np.ndarray], Any], Callable[[Any], Any]]] = {
    "tensorcbor": (tensorcbor.encode, tensorcbor.decode),
    "safetensors": (lambda a: safetensors.numpy.save({"t": a}), lambda b: safetensors.numpy.load(b)["t"]),
    "npy": (_npy_encode, lambda b: np.load(io.BytesIO(b), allow_pickle=False)),
    "pickle5": (lambda a: pickle.dumps(a, protocol=5), pickle.loads),
    "msgpack-numpy": (lambda a: msgpack.packb(a, default=msgpack_numpy.encode),
                      lambda b: msgpack.unpackb(b, object_hook=msgpack_numpy.decode)),
    "onnx": (lambda a: numpy_helper.from_array(a).SerializeToString(), _onnx_decode),
    "copy": (lambda a: bytes(memoryview(a)), None),
}


def best_time(fn: Callable[[], Any], budget: float, repeat: int) -> float:
    """Seconds per call: calibrate the loop count to `budget` seconds, take the minimum of `repeat` runs."""
    timer = timeit.Timer(fn)
    number = 1
    while True:
        t = timer.timeit(number)
        if t >= budget or number >= 1 << 20:
            break
        number *= 2 if t == 0 else max(2, min(10, int(budget / t) + 1))
    return min(timer.repeat(repeat=repeat, number=number)) / number


def fmt(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def run(quick: bool) -> str:
    budget, repeat = (0.005, 3) if quick else (0.05, 7)
    rows = []
    results: dict[tuple[str, str, str], float] = {}
    for label, n in SIZES.items():
        arr = np.random.default_rng(0).standard_normal(n).astype(np.float32)
        for name, (enc, dec) in CODECS.items():
            results[label, "encode", name] = best_time(lambda enc=enc, arr=arr: enc(arr), budget, repeat)
            if name == "copy":
                results[label, "decode", name] = best_time(arr.copy, budget, repeat)
                continue
            blob = enc(arr)
            out = dec(blob)
            assert np.array_equal(np.asarray(out), arr), name  # every codec round-trips
            results[label, "decode", name] = best_time(lambda dec=dec, blob=blob: dec(blob), budget, repeat)
    names = list(CODECS)
    head = "| size | op | " + " | ".join(names) + " |"
    rows = [head, "|---|---|" + "---:|" * len(names)]
    for label in SIZES:
        for op in ("encode", "decode"):
            base = results[label, op, "tensorcbor"]
            cells = [fmt(base)]
            for name in names[1:]:
                t = results[label, op, name]
                cells.append(f"{fmt(t)} (×{t / base:.2g})")
            rows.append(f"| {label} | {op} | " + " | ".join(cells) + " |")
    big_enc = results["64 MiB", "encode", "tensorcbor"] / results["64 MiB", "encode", "copy"]
    small = tensorcbor.encode(np.zeros(16, np.float32))
    seen = tensorcbor.codec._SEEN  # the decoder's memo of valid layouts: measure a first-seen layout too
    cold = best_time(lambda: (seen.clear(), tensorcbor.decode(small)), budget, repeat)
    ratios = {op: results["64 B", op, "tensorcbor"] / results["64 B", op, "msgpack-numpy"]
              for op in ("encode", "decode")}
    met = "met" if max(ratios.values()) <= 0.5 else "**missed**"
    notes = [
        "",
        "(×r) = that codec's time / tensorcbor's time: above 1 means tensorcbor is faster.",
        f"Target (issue #18): 64 B encode and decode each at most 0.5× msgpack-numpy's time: encode "
        f"{ratios['encode']:.2f}×, decode {ratios['decode']:.2f}× ({met}).",
        f"64 MiB encode: tensorcbor takes {big_enc:.2f}× the time of a plain copy "
        f"(speed = {1 / big_enc:.0%} of a plain copy).",
        f"Decode (view) time, 64 B vs 64 MiB: {fmt(results['64 B', 'decode', 'tensorcbor'])} vs "
        f"{fmt(results['64 MiB', 'decode', 'tensorcbor'])}. The decoder remembers the last valid header per "
        f"document length; 64 B decode of a layout not seen before (memo cleared each call): {fmt(cold)}.",
    ]
    return "\n".join(rows + notes) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short run; print only, do not write the results file")
    args = parser.parse_args()
    table = run(args.quick)
    print(table)
    if not args.quick:
        env = (f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
               f"{platform.processor() or 'cpu'}, tensorcbor {tensorcbor.__version__} as installed by default "
               f"(bundle reader: {tensorcbor.accel.status()}; the tensor codec is the same on every install)")
        text = (f"# Codec benchmark\n\nCommand: `python3 bench/bench_codec.py`\n\n{env}\n\n"
                "float32 tensors of 64 B (16 elements), 1 MiB and 64 MiB; minimum over repeats of the mean "
                "time per call. tensorcbor decodes to a read-only view; the others copy.\n\n" + table)
        (Path(__file__).parent / "RESULTS-codec.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
