"""A seeded differential campaign: generate, decode everywhere, compare, minimise, report.

Two answers disagree when their verdicts differ (accepted / rejected), their codes
differ, both report a byte offset for the same code and the offsets differ, or both
accept and the decoded content differs. Crashes (an exception other than a typed
rejection, a process exit, a hang, an ADAPTER_ERROR) are findings of their own.
Each distinct finding is minimised by delta debugging on bytes and written to the
findings directory as JSON with a hex reproducer.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..conformance.compare import decoded_diffs
from . import streams
from .corpus import Seed, build_corpus
from .drivers import Answer, Driver, PythonDriver
from .mutate import encode_head, mutate, scan
from .streams import STREAM

__all__ = ["Finding", "Report", "run_campaign", "classify", "minimize", "generate"]

Signature = tuple[str, ...]


@dataclass
class Finding:
    signature: Signature
    kind: str
    data: bytes
    original: bytes
    answers: dict[str, Answer]
    mutations: list[str]
    index: int

    def to_json(self) -> dict[str, Any]:
        return {"signature": list(self.signature), "kind": self.kind, "hex": self.data.hex(),
                "original_hex": self.original.hex(), "answers": self.answers, "mutations": self.mutations,
                "input_index": self.index}


@dataclass
class Report:
    seed: int
    impls: list[str]
    inputs: int = 0
    disagreements: int = 0
    crashes: int = 0
    seconds: float = 0.0
    signatures: Counter[Signature] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    """What the first implementation answered, by code ('valid' for accepted inputs): the coverage reached."""

    def summary(self) -> dict[str, Any]:
        return {"seed": self.seed, "impls": self.impls, "inputs": self.inputs, "disagreements": self.disagreements,
                "crashes": self.crashes, "seconds": round(self.seconds, 1),
                "inputs_per_second": round(self.inputs / self.seconds) if self.seconds else None,
                "distinct_findings": {" ".join(k): v for k, v in self.signatures.most_common()},
                "verdicts": dict(self.codes.most_common())}


def classify(kind: str, answers: Sequence[tuple[str, Answer]]) -> Signature | None:
    """The signature of a disagreement or crash among `answers` (name, answer), or None when all agree."""
    for name, a in answers:
        if "crash" in a:
            return ("crash", name, kind, str(a["crash"])[:60])
    (ref_name, ref), rest = answers[0], answers[1:]
    if kind == STREAM:
        for name, a in rest:
            where = streams.same_answer(ref, a)
            if where is not None:
                return ("stream", ref_name, name, where.split(": ", 1)[-1])
        return None
    for name, a in rest:
        if ("error" in ref) != ("error" in a):
            return ("verdict", kind, ref_name, _verdict(ref), name, _verdict(a))
        if "error" in ref:
            if ref["error"] != a["error"]:
                return ("code", kind, ref_name, str(ref["error"]), name, str(a["error"]))
            ro, ao = ref.get("offset"), a.get("offset")
            if ro is not None and ao is not None and ro != ao:
                return ("offset", kind, str(ref["error"]), ref_name, name)
        elif decoded_diffs(kind, ref, a):
            return ("content", kind, ref_name, name)
    return None


def _verdict(a: Answer) -> str:
    return str(a["error"]) if "error" in a else "valid"


def _ask(drivers: Sequence[Driver], batch: list[tuple[str, bytes]]) -> list[list[tuple[str, Answer]]]:
    """Every driver's answers for `batch`: adapters first (they work while Python decodes)."""
    ordered = sorted(drivers, key=lambda d: isinstance(d, PythonDriver))
    for d in ordered:
        d.start(batch)
    got = {d.name: d.finish() for d in ordered}
    return [[(d.name, got[d.name][i]) for d in drivers] for i in range(len(batch))]


def minimize(drivers: Sequence[Driver], kind: str, data: bytes, signature: Signature,
             budget: int = 4000) -> bytes:
    """The smallest input (by delta debugging on bytes, within `budget` evaluations) with the same signature."""
    def key(sig: Signature | None) -> Signature | None:
        # Offsets and crash texts move as bytes go: keep the category and the codes only.
        if sig is None:
            return None
        return sig[:3] if sig[0] == "crash" else sig

    want = key(signature)
    spent = 0

    def first_hit(cands: list[bytes]) -> bytes | None:
        nonlocal spent
        spent += len(cands)
        results = _ask(drivers, [(kind, c) for c in cands])
        return next((c for c, r in zip(cands, results, strict=True) if key(classify(kind, r)) == want), None)

    if kind == STREAM:
        while spent < budget:
            hit = first_hit(streams.shrink_candidates(data))
            if hit is None:
                break
            data = hit
        return data
    while spent < budget:
        before = data
        n = 2
        while len(data) >= 2 and spent < budget:  # ddmin: drop chunks of shrinking size
            chunk = max(1, -(-len(data) // n))
            hit = first_hit([data[:i] + data[i + chunk:] for i in range(0, len(data), chunk)])
            if hit is not None:
                data = hit
                n = max(n - 1, 2)
            elif chunk == 1:
                break
            else:
                n = min(n * 2, len(data))
        while spent < budget:  # structural steps that keep lengths consistent (what byte deletion cannot)
            hit = first_hit(_shrink_items(data))
            if hit is None:
                break
            data = hit
        if data == before:
            return data
    return data


def _shrink_items(data: bytes) -> list[bytes]:
    """Smaller variants of `data` that keep every head consistent: shorter strings, fewer array/map members."""
    out = []
    items = scan(data)
    for it in items[:256]:
        if it.major in (2, 3) and it.end > it.head_end:
            body = data[it.head_end:it.end]
            for keep in (b"", body[:len(body) // 2]):
                out.append(data[:it.start] + encode_head(it.major, len(keep)) + keep + data[it.end:])
        elif it.major in (4, 5) and it.children:
            step = 2 if it.major == 5 else 1
            last = items[it.children[-step]].start
            out.append(data[:it.start] + encode_head(it.major, it.arg - 1) + data[it.head_end:last] + data[it.end:])
        elif it.major == 0 and it.arg > 1:
            out.append(data[:it.start] + encode_head(0, it.arg // 2) + data[it.head_end:])
    return [c for c in out if len(c) < len(data)]


def generate(corpus: list[Seed], rng: random.Random, stream_seeds: list[list[bytes]] | None = None,
             stream_share: float = 0.0) -> tuple[str, bytes, bytes, list[str]]:
    """One fuzz input: (kind, bytes, the seed it came from, the edits applied)."""
    if stream_seeds and rng.random() < stream_share:
        data, names = streams.mutate_stream(stream_seeds, rng)
        return STREAM, data, b"", names
    kind, base = corpus[rng.randrange(len(corpus))]
    roll = rng.random()
    if roll < 0.03:
        return kind, base, base, []
    if roll < 0.05:  # the other decoder: BAD_MAGIC paths, and bundles read as tensors
        kind = "bundle" if kind == "tensor" else "tensor"
    other = corpus[rng.randrange(len(corpus))][1]
    rounds = 1 if roll < 0.6 else 2 if roll < 0.85 else rng.randint(3, 6)
    data, names = mutate(base, rng, other, rounds)
    return kind, data, base, names


def run_campaign(drivers: Sequence[Driver], count: int, seed: int = 0, *, batch_size: int = 2000,
                 findings_dir: str | Path | None = None, minimize_findings: bool = True,
                 max_minimized: int = 50, corpus_size: int = 400, stream_share: float = 0.0,
                 progress: Callable[[Report], None] | None = None) -> Report:
    """Run `count` inputs through every driver; the first driver is the reference the others are compared to.

    `stream_share` of the inputs are chunk sequences for the stream adapter protocol (0 by default: every
    driver must implement op "stream" for them).
    """
    core = any(d.profile == "core" for d in drivers)
    for d in drivers:  # compare like with like: the reference acts as a Core decoder next to Core bindings
        if isinstance(d, PythonDriver) and core and d.profile != "core":
            d.profile, d.name = "core", d.name.replace("-extended", "-core")
    report = Report(seed, [d.name for d in drivers])
    started = time.monotonic()
    corpus = build_corpus(seed, corpus_size, extended=True)
    rng = random.Random(seed)
    chunked = streams.stream_seeds(corpus, random.Random(seed + 1)) if stream_share > 0 else None
    out = Path(findings_dir) if findings_dir is not None else None
    done = 0
    while done < count:
        n = min(batch_size, count - done)
        inputs = [generate(corpus, rng, chunked, stream_share) for _ in range(n)]
        results = _ask(drivers, [(k, b) for k, b, _, _ in inputs])
        for i, ((kind, data, _base, names), answers) in enumerate(zip(inputs, results, strict=True)):
            report.codes[_verdict(answers[0][1]) if kind != STREAM else "stream:" + str(answers[0][1].get("end"))] += 1
            sig = classify(kind, answers)
            if sig is None:
                continue
            if sig[0] == "crash":
                report.crashes += 1
            else:
                report.disagreements += 1
            report.signatures[sig] += 1
            if report.signatures[sig] == 1 and len(report.findings) < max_minimized:
                small = minimize(drivers, kind, data, sig) if minimize_findings else data
                final = _ask(drivers, [(kind, small)])[0]
                finding = Finding(sig, kind, small, data, dict(final), names, done + i)
                report.findings.append(finding)
                if out is not None:
                    _write(out, finding)
        done += n
        report.inputs = done
        report.seconds = time.monotonic() - started
        if out is not None:  # kept current, so a long campaign can be watched (and survives an interruption)
            _summary(out, report)
        if progress is not None:
            progress(report)
    report.seconds = time.monotonic() - started
    if out is not None:
        _summary(out, report)
    return report


def _summary(out: Path, report: Report) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(report.summary(), indent=2) + "\n", encoding="utf-8")


def _write(out: Path, finding: Finding) -> None:
    out.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(finding.data).hexdigest()[:12]
    name = f"{finding.signature[0]}-{finding.kind}-{digest}"
    (out / f"{name}.json").write_text(json.dumps(finding.to_json(), indent=2) + "\n", encoding="utf-8")
    (out / f"{name}.hex").write_text(finding.data.hex() + "\n", encoding="utf-8")
