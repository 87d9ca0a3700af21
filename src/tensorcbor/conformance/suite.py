"""Finding and loading a conformance suite (a directory with manifest.json and vectors/)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_VAR = "TENSORCBOR_CONFORMANCE_SUITE"
PACKAGED = Path(__file__).resolve().parent.parent / "suites"
"""Where a wheel keeps its copy of the suites (written by setup.py's build step; absent in a checkout)."""
STREAM_SUITE = "tensorcbor-conformance-stream"
SUITE_NAMES = {"core": "v1", "stream": "stream-v1"}
"""Short names for the suites of the source checkout (``--suite stream``)."""


@dataclass(frozen=True)
class Vector:
    """One manifest entry; `record` is the raw JSON object."""

    record: dict[str, Any]
    root: Path

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def kind(self) -> str:
        """The decoder to call (tensor, bundle), or "stream" for a stream vector."""
        return str(self.record.get("kind", "stream"))

    @property
    def profile(self) -> str:
        return str(self.record["profile"])

    @property
    def valid(self) -> bool:
        return self.record["verdict"] == "valid"

    @property
    def error(self) -> str | None:
        return self.record.get("error")

    @property
    def offset(self) -> int | None:
        """Invalid document vectors: the byte offset the error is reported at (SPEC.md §8.1)."""
        found = self.record.get("offset")
        return None if found is None else int(found)

    @property
    def reencode_identical(self) -> bool:
        """Whether encoding `expected` must give the vector's bytes (False for decoder-only vectors)."""
        return bool(self.record.get("reencode_identical", False))

    @property
    def expected(self) -> dict[str, Any]:
        return dict(self.record["expected"])

    @property
    def group(self) -> str:
        """Row of the report table: the dtype of a valid tensor, "bundle", or the expected error code."""
        if not self.valid:
            return f"invalid:{self.error}"
        if self.kind == "stream":
            return f"valid:{self.record['receiver']}"
        if self.kind == "bundle":
            return "bundle"
        return str(self.record["expected"]["dtype"])

    def data(self) -> bytes:
        path = self.root / self.record["file"]
        if not path.exists() and path.with_name(path.name + ".gz").exists():  # large vectors in a wheel
            with gzip.open(path.with_name(path.name + ".gz"), "rb") as f:
                blob = f.read(int(self.record.get("size", 1 << 26)) + 1)
        else:
            blob = path.read_bytes()
        if hashlib.sha256(blob).hexdigest() != self.record["sha256"]:
            raise ValueError(f"vector {self.id}: {self.record['file']} does not match its sha256 in the manifest")
        return blob


@dataclass(frozen=True)
class Suite:
    root: Path
    manifest: dict[str, Any]
    vectors: tuple[Vector, ...]

    @property
    def is_stream(self) -> bool:
        """The stream suite (chunk sequences) rather than the document suite."""
        return self.manifest.get("suite") == STREAM_SUITE

    def get(self, vector_id: str) -> Vector:
        for v in self.vectors:
            if v.id == vector_id:
                return v
        raise LookupError(f"no vector {vector_id!r} in the suite at {self.root} (`tensorcbor conformance list` "
                          "prints the ids)")


def find_suite(explicit: str | os.PathLike[str] | None = None, name: str = "v1") -> Path:
    """The suite directory: `explicit`, else $TENSORCBOR_CONFORMANCE_SUITE, else the copy inside the installed
    package, else the source checkout's conformance/<name> (`name` is "v1" or "stream-v1")."""
    candidates: list[Path] = []
    if explicit and str(explicit) in SUITE_NAMES and not Path(explicit).is_dir():
        here = Path(__file__).resolve()
        sub = SUITE_NAMES[str(explicit)]
        candidates.append(PACKAGED / sub)
        candidates += [parent / "conformance" / sub for parent in here.parents[:5]]
        candidates.append(Path.cwd() / "conformance" / sub)
    elif explicit:
        candidates.append(Path(explicit))
    elif os.environ.get(ENV_VAR) and name == "v1":
        candidates.append(Path(os.environ[ENV_VAR]))
    else:
        candidates.append(PACKAGED / name)
        here = Path(__file__).resolve()
        candidates += [parent / "conformance" / name for parent in here.parents[1:4]]
        candidates.append(Path.cwd() / "conformance" / name)
    for c in candidates:
        if (c / "manifest.json").is_file():
            return c
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"no conformance suite (manifest.json) found; tried {tried}. Pass --suite DIR or set "
                            f"{ENV_VAR} to a copy of the repository's conformance/{name} directory")


def load_suite(explicit: str | os.PathLike[str] | None = None, name: str = "v1") -> Suite:
    root = find_suite(explicit, name)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    vectors = tuple(Vector(rec, root) for rec in manifest["vectors"])
    return Suite(root, manifest, vectors)
