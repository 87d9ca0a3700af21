"""``tensorcbor chunk`` and ``tensorcbor join``: chunked streams on disk (SPEC.md §10).

Chunk files are named ``chunk-NNNNNN.cbor`` by their index; ``chunk-000000.cbor`` is
the manifest. The names are a convention of this tool, not part of the format.
"""

from __future__ import annotations

import argparse
import mmap
import os
import re
import sys
from pathlib import Path
from typing import Any

from ..codec import decode
from ..errors import DecodeError
from ..files import atomic_write, load_file, write_bytes
from ..stream import DEFAULT_MAX_SIZE, Verifier, chunks, stream_digest
from .convert import ProgressBar

CHUNK_NAME = "chunk-{:06d}.cbor"
_CHUNK_RE = re.compile(r"chunk-(\d{6,})\.cbor")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("chunk", help="split a .tcb document into a verifiable chunk stream",
                              description="Write FILE as a chunked stream (manifest + data chunks) into OUTDIR "
                              "and print the stream digest (SHA-256 of the manifest chunk).")
    p.add_argument("file", metavar="FILE", help="a tensor or bundle document (.tcb)")
    p.add_argument("outdir", metavar="OUTDIR", help="directory for chunk-NNNNNN.cbor files (created)")
    p.add_argument("--max-size", type=int, default=DEFAULT_MAX_SIZE, metavar="BYTES",
                   help=f"largest chunk in bytes (default {DEFAULT_MAX_SIZE}: one ICP ingress message "
                   "with room for the envelope and Candid)")
    p.set_defaults(func=_chunk)
    j = subparsers.add_parser("join", help="verify a chunk stream and reassemble the document",
                              description="Verify every chunk in CHUNKDIR (manifest first) and write the "
                              "reassembled document to OUT; the first bad chunk is named.")
    j.add_argument("indir", metavar="CHUNKDIR", help="directory of chunk-NNNNNN.cbor files written by "
                   "'tensorcbor chunk'")
    j.add_argument("out", metavar="OUT", help="file to write the document to")
    j.add_argument("--digest", metavar="HEX", type=_digest, help="expected stream digest (64 hex digits, as "
                   "'tensorcbor chunk' prints it)")
    j.add_argument("--quota", type=int, metavar="BYTES", help="refuse a stream whose manifest declares a longer "
                   "document (QUOTA_EXCEEDED), before any data chunk is read")
    for q in (p, j):
        bar = q.add_mutually_exclusive_group()
        bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                         help="always show a progress bar on stderr")
        bar.add_argument("--no-progress", dest="progress", action="store_false",
                         help="never show one (default: shown when stderr is a terminal)")
    j.set_defaults(func=_join)


def _digest(text: str) -> bytes:
    """argparse type of --digest: exactly 64 hexadecimal digits (a SHA-256)."""
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text.strip()):
        raise argparse.ArgumentTypeError(f"{text[:80]!r} is not a stream digest: it must be 64 hexadecimal digits "
                                         "(the SHA-256 'tensorcbor chunk' prints)")
    return bytes.fromhex(text.strip())


def _bar(args: argparse.Namespace, total: int, label: str) -> ProgressBar | None:
    """A progress bar on a terminal (or with --progress); nothing when stderr is a pipe or a file."""
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    return ProgressBar(total, label) if show else None


def _chunk(args: argparse.Namespace) -> int:
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    stale = [p for p in outdir.iterdir() if _CHUNK_RE.fullmatch(p.name)]
    if stale:
        print(f"tensorcbor: error: {outdir} already holds chunk files ({stale[0].name}...); "
              "use an empty directory", file=sys.stderr)
        return 1
    with open(args.file, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data: Any = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        digest = b""
        count = 0
        bar = _bar(args, size, "chunking")
        for index, chunk in enumerate(chunks(memoryview(data) if size else data, args.max_size)):
            if index == 0:
                digest = stream_digest(chunk)
            elif bar is not None:
                bar(len(chunk))
            write_bytes(outdir / CHUNK_NAME.format(index), chunk)
            count = index
        if bar is not None:
            bar.close()
    print(f"{digest.hex()}  {count} data chunks + manifest, {size} bytes, max {args.max_size} bytes per chunk")
    return 0


def _join(args: argparse.Namespace) -> int:
    indir = Path(args.indir)
    files = sorted((int(m.group(1)), p) for p in indir.iterdir() if (m := _CHUNK_RE.fullmatch(p.name)))
    if not files or files[0][0] != 0:
        print(f"tensorcbor: error: MISSING_CHUNK: {indir} has no {CHUNK_NAME.format(0)} (the manifest)",
              file=sys.stderr)
        return 1
    expected = args.digest
    current = files[0][1]
    try:
        verifier = Verifier(current.read_bytes(), expected, quota=args.quota)
        manifest = verifier.manifest
        assert manifest is not None
        bar = _bar(args, manifest.doc_length, "joining")
        with atomic_write(args.out) as out:
            for number, path in files[1:]:
                current = path
                if number > verifier.next_index and verifier.next_index <= manifest.count:
                    current = indir / CHUNK_NAME.format(verifier.next_index)
                    raise DecodeError("MISSING_CHUNK", f"chunk {verifier.next_index} ({current.name}) is missing")
                payload = verifier.verify(path.read_bytes())
                out.write(payload)
                if bar is not None:
                    bar(len(payload))
            current = indir / CHUNK_NAME.format(verifier.next_index)
            verifier.finish()
            if bar is not None:
                bar.close()
            out.flush()
            current = Path(args.out)  # errors in the document name the output, never the temporary file
            _check_document(out.name)
    except DecodeError as exc:
        print(f"tensorcbor: error: {current.name}: {exc}", file=sys.stderr)
        return 1
    print(f"{manifest.stream_digest.hex()}  {manifest.count} chunks verified, "
          f"{manifest.doc_length} bytes written to {args.out}")
    return 0


def _check_document(path: str) -> None:
    """The reassembled bytes are a valid document (strict decoding, elements included)."""
    with open(path, "rb") as f:
        head = f.read(6)
    if head[3:6] == b"\xd9\xcb\x74":
        with open(path, "rb") as f:
            decode(f.read())
    else:
        bundle = load_file(path)
        for name in bundle:
            bundle[name]
