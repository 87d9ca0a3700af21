"""``tensorcbor convert IN OUT``: lossless conversion between tensorcbor and other tensor formats."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, TextIO

from ..convert import FORMATS, read, write

__all__ = ["register", "ProgressBar"]

PROGRESS_THRESHOLD = 64 << 20


class ProgressBar:
    """A one-line progress bar on stderr (no tqdm): bytes written out of a total, redrawn at most 10x/s."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.start = time.monotonic()
        self._last = 0.0

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= 0.1:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        frac = min(self.done / self.total, 1.0)
        filled = int(frac * self.width)
        rate = self.done / max(now - self.start, 1e-9) / 2**20
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {frac:4.0%} "
                          f"{self.done / 2**20:,.0f}/{self.total / 2**20:,.0f} MiB {rate:,.0f} MiB/s")
        self.stream.flush()

    def close(self) -> None:
        self._draw(time.monotonic())
        self.stream.write("\n")
        self.stream.flush()


def register(subparsers: Any) -> None:
    names = ", ".join(f"{f.name} ({' '.join(f.extensions)})" for f in FORMATS.values())
    p = subparsers.add_parser(
        "convert", help="convert between .tcb and safetensors, ONNX, msgpack-numpy, .npy/.npz, torch",
        description=f"Convert IN to OUT losslessly; formats come from the extensions or --from/--to: {names}. "
        "Writing .onnx puts the tensors back as the initializers of --model's graph.")
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--from", dest="src_format", choices=sorted(FORMATS), help="format of IN")
    p.add_argument("--to", dest="dst_format", choices=sorted(FORMATS), help="format of OUT")
    p.add_argument("--model", metavar="MODEL.onnx", help="for OUT in .onnx: the model whose graph receives the "
                   "tensors as initializers")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="always show a progress bar on stderr")
    bar.add_argument("--no-progress", dest="progress", action="store_false",
                     help=f"never show one (default: shown for inputs over {PROGRESS_THRESHOLD >> 20} MiB)")
    p.set_defaults(func=_convert)


def _convert(args: argparse.Namespace) -> int:
    if os.path.abspath(args.input) == os.path.abspath(args.output):
        print("tensorcbor: error: IN and OUT are the same file", file=sys.stderr)
        return 1
    size = os.path.getsize(args.input)
    tensors = read(args.input, args.src_format)
    show = args.progress if args.progress is not None else size >= PROGRESS_THRESHOLD
    bar = ProgressBar(sum(a.nbytes for a in tensors.arrays.values()), "converting") if show else None
    write(tensors, args.output, args.dst_format, model=args.model, progress=bar)
    if bar is not None:
        bar.close()
    return 0
