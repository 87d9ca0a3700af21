"""Running a suite against an implementation and reporting by profile and dtype (or error code)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..cbor import Reader
from ..errors import DecodeError
from .compare import decoded_diffs, first_byte_difference
from .impl import Impl, ImplError, ImplUnavailable
from .streams import answer_diffs, stream_request
from .suite import Vector


@dataclass
class Result:
    vector: Vector
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def check_stream_vector(impl: Impl, v: Vector, offsets: bool = True) -> Result:
    """Feed a stream vector's chunks to each receiver kind it applies to; compare every verdict (and offset)."""
    res = Result(v)
    chunks = _chunk_list(v)
    receiver = v.record["receiver"]
    for kind in ("sequential", "storing") if receiver == "both" else (receiver,):
        try:
            got = impl.stream(v.id, stream_request(v.id, v.record, kind, chunks))
        except ImplError as exc:
            res.failures.append(str(exc))
            continue
        res.failures += [f"{kind} receiver: {d}" for d in answer_diffs(v.record, got, offsets)]
    return res


def _chunk_list(v: Vector) -> list[bytes]:
    """A stream vector's file: one CBOR array of byte strings (read with the package's own strict reader)."""
    data = v.data()
    r = Reader(data)
    chunks = []
    try:
        for _ in range(r.expect(4, "the chunk array")):  # each chunk needs a head byte: bounded by the file
            n = r.expect(2, "a chunk")
            start = r.take(n, "a chunk")
            chunks.append(bytes(data[start:start + n]))
    except DecodeError as exc:
        raise ValueError(f"vector {v.id}: {v.record['file']} is not a CBOR array of byte strings: {exc}") from None
    if r.pos != len(data):
        raise ValueError(f"vector {v.id}: {v.record['file']} has bytes after its chunk array")
    return chunks


def check_vector(impl: Impl, v: Vector, encode: bool = True, offsets: bool = True) -> Result:
    """Decode every vector; for a valid one that must re-encode identically, also encode and compare bytes.

    With `offsets`, an invalid vector must also be rejected at its byte offset (SPEC.md §8.1).
    """
    if v.kind == "stream":
        return check_stream_vector(impl, v, offsets)
    res = Result(v)
    data = v.data()
    try:
        got = impl.decode(v.id, data, v.kind)
        if v.valid:
            res.failures += [f"decode: {d}" for d in decoded_diffs(v.kind, v.expected, got)]
        elif got.get("error") != v.error:
            found = f"error {got['error']}" if "error" in got else "no error (accepted an invalid vector)"
            res.failures.append(f"decode: expected error {v.error}, got {found}")
        elif offsets and got.get("offset") != v.offset:
            res.failures.append(f"decode: {v.error} expected at byte {v.offset}, reported at {got.get('offset')} "
                                "(--no-offsets skips this check for an implementation that reports no offsets)")
    except ImplUnavailable:
        raise
    except ImplError as exc:
        res.failures.append(str(exc))
    if v.valid and encode and v.reencode_identical:
        try:
            produced = impl.encode(v.id, v.expected, v.kind)
            diff = first_byte_difference(data, produced)
            if diff:
                res.failures.append(f"encode: {diff}")
        except ImplUnavailable:
            raise
        except ImplError as exc:
            res.failures.append(str(exc))
        except Exception as exc:  # the in-process codec raising is a failure of that vector, not of the run
            res.failures.append(f"encode: raised {type(exc).__name__}: {exc}")
    return res


def run(impl: Impl, vectors: Iterable[Vector], encode: bool = True,
        progress: Callable[[Result], None] | None = None, offsets: bool = True) -> list[Result]:
    results = []
    try:
        for v in vectors:
            r = check_vector(impl, v, encode, offsets)
            results.append(r)
            if progress:
                progress(r)
    finally:
        impl.close()
    return results


def table(results: list[Result]) -> str:
    """Pass/fail counts by profile and group (dtype, "bundle", or invalid:CODE)."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        counts[(r.vector.profile, r.vector.group)][0 if r.ok else 1] += 1
    rows = sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1].startswith("invalid:"), kv[0][1]))
    width = max([len(g) for (_, g) in counts] + [5])
    lines = [f"{'profile':8} {'group':{width}} {'pass':>5} {'fail':>5}"]
    for (profile, group), (ok, bad) in rows:
        lines.append(f"{profile:8} {group:{width}} {ok:5d} {bad:5d}{'  FAIL' if bad else ''}")
    total_bad = sum(not r.ok for r in results)
    lines.append(f"{'total':8} {'':{width}} {len(results) - total_bad:5d} {total_bad:5d}")
    return "\n".join(lines)
