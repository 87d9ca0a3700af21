"""``tensorcbor convert IN OUT``: lossless conversion between tensorcbor and other tensor formats."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from typing import Any, TextIO

from ..convert import FORMATS, format_for, read, write

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


def _epilog() -> str:
    rows = [f"  {f.name:<18} {' '.join(f.extensions):<30} {f.keeps}" for f in FORMATS.values()]
    return ("formats (by extension, else by the file's first bytes; --from/--to override) and the metadata each "
            "keeps:\n" + "\n".join(rows) + "\n\nFormats that cannot keep some metadata refuse to drop it silently: "
            "pass --drop-metadata.\nOUT may be - (standard output, with --to) for single-file formats.")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "convert", help="convert between .tcb and safetensors (also sharded), ONNX, msgpack-numpy, .npy/.npz, torch",
        description="Convert IN to OUT losslessly (tensor bytes are copied, never re-encoded). Writing .onnx puts "
        "the tensors back as the initializers of --model's graph.",
        epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="IN", help="file to read (model.safetensors.index.json reads every shard)")
    p.add_argument("output", metavar="OUT", help="file to write, or - for standard output (needs --to)")
    p.add_argument("--from", dest="src_format", choices=sorted(FORMATS), help="format of IN")
    p.add_argument("--to", dest="dst_format", choices=sorted(FORMATS), help="format of OUT")
    p.add_argument("--model", metavar="MODEL.onnx", help="for OUT in .onnx: the model whose graph receives the "
                   "tensors as initializers")
    p.add_argument("--drop-metadata", action="store_true",
                   help="write the tensors without IN's metadata (needed for .npy, .npz and torch when IN has some)")
    p.add_argument("--max-shard-size", type=_size, metavar="BYTES", default=None,
                   help="for OUT ending in .safetensors.index.json: largest shard (default 5GB; suffixes KB MB GB "
                   "KiB MiB GiB); without it, a bundle read from an index gets its recorded shards back")
    p.add_argument("--force", action="store_true",
                   help="let the files written next to OUT (shards of an index, an ONNX model's .data) replace "
                   "existing ones; OUT itself is always replaced")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="always show a progress bar on stderr")
    bar.add_argument("--no-progress", dest="progress", action="store_false",
                     help=f"never show one (default: on a terminal, for inputs over {PROGRESS_THRESHOLD >> 20} MiB)")
    p.set_defaults(func=_convert)


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30}


def _size(text: str) -> int:
    """A byte count such as 5GB or 500MiB (argparse type)."""
    number = text.rstrip("BbKkMmGgIi")
    unit = text[len(number):].upper()
    try:
        value = int(float(number) * _UNITS[unit])
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 500MB or 5GiB") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("the shard size must be positive")
    return value


def _convert(args: argparse.Namespace) -> int:
    if args.output == "-":
        return _convert_to_stdout(args)
    if os.path.abspath(args.input) == os.path.abspath(args.output):
        print("tensorcbor: error: IN and OUT are the same file", file=sys.stderr)
        return 1
    format_for(args.output, args.dst_format)  # an unknown OUT format fails before any reading
    size = os.path.getsize(args.input)
    tensors = read(args.input, args.src_format)
    if args.drop_metadata:
        tensors.metadata = {}
    show = args.progress if args.progress is not None else size >= PROGRESS_THRESHOLD and sys.stderr.isatty()
    bar = ProgressBar(sum(a.nbytes for a in tensors.arrays.values()), "converting") if show else None
    written = write(tensors, args.output, args.dst_format, model=args.model, progress=bar,
                    max_shard_size=args.max_shard_size, force=args.force)
    if bar is not None:
        bar.close()
    for path in written:  # every file this command wrote, so nothing changes unseen
        print(f"wrote {path} ({os.path.getsize(path):,} bytes)")
    return 0


_STREAMABLE = ("tcb", "safetensors", "msgpack", "npy", "npz", "onnx-tensor", "torch")


def _convert_to_stdout(args: argparse.Namespace) -> int:
    """Write OUT to standard output: the file is built in a private directory and copied out."""
    if not args.dst_format:
        print("tensorcbor: error: OUT is - (standard output): say the format with --to "
              f"({', '.join(_STREAMABLE)})", file=sys.stderr)
        return 2
    if args.dst_format not in _STREAMABLE:
        print(f"tensorcbor: error: {args.dst_format} output is more than one file; give OUT a file name",
              file=sys.stderr)
        return 2
    if sys.stdout.isatty():
        print("tensorcbor: error: refusing to write binary data to a terminal; redirect standard output "
              "(> file or | program)", file=sys.stderr)
        return 2
    tensors = read(args.input, args.src_format)
    if args.drop_metadata:
        tensors.metadata = {}
    with tempfile.TemporaryDirectory(prefix="tensorcbor-") as tmp:
        target = os.path.join(tmp, "out")
        write(tensors, target, args.dst_format, model=args.model)
        with open(target, "rb") as f:
            shutil.copyfileobj(f, sys.stdout.buffer, 1 << 20)
    sys.stdout.buffer.flush()
    return 0
