"""Implementations under fuzzing: the Python codec in process, or any adapter program in batch mode.

An adapter speaks the batch protocol of conformance/README.md (one JSON request per
line on stdin, one JSON answer per line on stdout, in order). Requests are written
ahead (pipelined) by a writer thread, so the adapter works on a batch while the
Python codec decodes the same inputs in this process. A crash (the process exits), a
hang (no answer within the timeout) or an ADAPTER_ERROR answer is reported for the
input that caused it, found by re-running the rest of the batch.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from .. import accel, compression
from ..conformance.values import decode_json, encode_json
from .streams import STREAM
from .streams import request as stream_request

__all__ = ["Driver", "PythonDriver", "AdapterDriver", "CanisterDriver", "resolve", "repo_root"]

Answer = dict[str, Any]
"""A protocol answer: the decoded value, {"error": CODE, "offset": N}, or {"crash": why} (harness-made)."""


class Driver(Protocol):
    name: str
    profile: str
    """'core' or 'extended' (SPEC.md §11): a Core decoder reports UNSUPPORTED_COMPRESSION for tag 52090."""

    def start(self, batch: list[tuple[str, bytes]]) -> None: ...

    def finish(self) -> list[Answer]: ...

    def close(self) -> None: ...


@contextlib.contextmanager
def _core_only(profile: str) -> Iterator[None]:
    """Run the Python codec as a Core decoder (the Extended profile off) when `profile` is 'core'."""
    saved = compression._zstd
    if profile == "core":
        compression._zstd = None
    try:
        yield
    finally:
        compression._zstd = saved


class PythonDriver:
    """The reference codec in process; any exception other than DecodeError is a crash.

    With `roundtrip`, an accepted Core document must re-encode to exactly its bytes (the
    encoding is deterministic, so a valid document is the only encoding of its value), and
    an accepted compressed one must decode to the same value as its Core re-encoding: a
    failure is reported as a crash of the reference itself.

    With `pure`, the compiled accelerator (tensorcbor.accel) is off while this driver
    decodes, so ``--impl python --impl python-pure`` compares the two bundle paths.
    """

    def __init__(self, profile: str = "extended", roundtrip: bool = True, pure: bool = False) -> None:
        self.profile = profile if compression.available() else "core"
        self.pure = pure
        self.name = f"python-{self.profile}" + ("-pure" if pure else "")
        self.roundtrip = roundtrip
        self._pending: list[tuple[str, bytes]] = []

    def start(self, batch: list[tuple[str, bytes]]) -> None:
        self._pending = batch

    def answer(self, kind: str, data: bytes) -> Answer:
        if kind == STREAM:
            return _stream_answer(data)
        try:
            with _core_only(self.profile):
                out = decode_json(data, kind)
                if self.roundtrip and "error" not in out:
                    again = encode_json(out, kind)
                    if b"\xd9\xcb\x7a" not in data:
                        if again != data:
                            return {"crash": f"re-encoding the accepted document gives other bytes: "
                                             f"{again.hex()[:200]}"}
                    elif decode_json(again, kind) != out:  # compressed: its Core form holds the same tensors
                        return {"crash": "the Core re-encoding of an accepted compressed document decodes otherwise"}
        except RecursionError as exc:
            return {"crash": f"RecursionError: {exc}"}
        except Exception as exc:  # noqa: BLE001 - every other exception is exactly what fuzzing looks for
            return {"crash": f"{type(exc).__name__}: {exc}"[:500]}
        out.pop("message", None)
        return out

    def finish(self) -> list[Answer]:
        batch, self._pending = self._pending, []
        was = accel.use(False) if self.pure else None
        try:
            return [self.answer(kind, data) for kind, data in batch]
        finally:
            if was is not None:
                accel.use(was)

    def close(self) -> None:
        pass


def _stream_answer(data: bytes) -> Answer:
    """The reference receivers' answer to a stream input, through the adapter's own request handler."""
    from ..conformance.adapter import answer as adapter_answer
    try:
        out = adapter_answer({"id": 0, **stream_request(data)})
    except Exception as exc:  # noqa: BLE001
        return {"crash": f"{type(exc).__name__}: {exc}"[:500]}
    out.pop("id", None)
    out.pop("message", None)
    if "error" in out:  # ADAPTER_ERROR, or a reference without the stream protocol
        return {"crash": f"stream request refused: {out['error']}"[:200]}
    return out


class AdapterDriver:
    """A program speaking the batch protocol (``CMD batch``), restarted after a crash or a hang."""

    def __init__(self, command: str, profile: str = "core", name: str | None = None, timeout: float = 30.0) -> None:
        self.argv = shlex.split(command) + ["batch"]
        self.name = name or os.path.basename(self.argv[0])
        self.profile = profile
        self.timeout = timeout
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._batch: list[tuple[str, bytes]] = []
        self._writer: threading.Thread | None = None

    def _spawn(self) -> subprocess.Popen[str]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True, bufsize=1 << 16)
            self.lines = queue.Queue()
            threading.Thread(target=_pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        return self.proc

    def _send(self, batch: list[tuple[str, bytes]], first: int) -> None:
        proc = self._spawn()
        text = "".join(json.dumps({"id": first + i, **_request(kind, data)}) + "\n"
                       for i, (kind, data) in enumerate(batch))

        def write(stream: IO[str] | None) -> None:
            assert stream is not None
            with contextlib.suppress(OSError, ValueError):
                stream.write(text)
                stream.flush()

        self._writer = threading.Thread(target=write, args=(proc.stdin,), daemon=True)
        self._writer.start()

    def start(self, batch: list[tuple[str, bytes]]) -> None:
        self._batch = batch
        self._send(batch, 0)

    def finish(self) -> list[Answer]:
        out: list[Answer] = []
        batch = self._batch
        while len(out) < len(batch):
            got = self._read(len(out))
            if got is not None:
                out.append(got)
                continue
            # The process died or hung at input len(out): confirm it alone, then go on with the rest.
            self.close()
            culprit = len(out)
            self._send(batch[culprit:culprit + 1], culprit)
            alone = self._read(culprit)
            self.close()
            out.append(alone if alone is not None else {"crash": self._why})
            if len(out) < len(batch):
                self._send(batch[len(out):], len(out))
        self._batch = []
        return out

    _why = ""

    def _read(self, expect_id: int) -> Answer | None:
        try:
            line = self.lines.get(timeout=self.timeout)
        except queue.Empty:
            self._why = f"no answer within {self.timeout:g} s (hang)"
            return None
        if line is None:
            status = self.proc.wait() if self.proc is not None else None
            self._why = f"the adapter exited with status {status} (crash)"
            return None
        try:
            answer = json.loads(line)
        except json.JSONDecodeError:
            return {"crash": f"unparsable answer: {line[:200]!r}"}
        if not isinstance(answer, dict) or answer.get("id") != expect_id:
            self._why = f"answer out of order: {line[:200]!r}"
            return None
        answer.pop("id", None)
        answer.pop("message", None)
        if answer.get("error") == "ADAPTER_ERROR":
            return {"crash": "ADAPTER_ERROR"}
        return answer

    def close(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        with contextlib.suppress(OSError):
            if proc.stdin:
                proc.stdin.close()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class CanisterDriver:
    """A canister's ``tensorcbor_conformance`` query (conformance/README.md, "Checking a canister") under the IC
    emulation: each input is one query to the module as deployed, with the IC's instruction limit. A trap, running
    out of instructions or a malformed reply is a crash of that input. An input over the IC's 2 MiB message limit
    (a mutation of the 16 MiB conformance vector) is delivered anyway, with the limits off for that call: no
    deployed canister receives it, but the decoder's verdict is still compared."""

    def __init__(self, wasm: str | Path, profile: str = "core", name: str | None = None) -> None:
        from ..conformance.canister import CanisterImpl
        from ..conformance.impl import ImplUnavailable

        try:
            self.impl = CanisterImpl(Path(wasm), lift_message_limit=True)
        except ImplUnavailable as exc:
            raise RuntimeError(f"{wasm}: {exc}") from None
        self.name = name or f"canister:{Path(wasm).stem}"
        self.profile = profile
        self.ic_instructions = 0
        """IC instructions of every query so far (the calls whose cost is known)."""
        self._batch: list[tuple[str, bytes]] = []

    def start(self, batch: list[tuple[str, bytes]]) -> None:
        self._batch = batch

    def answer(self, kind: str, data: bytes) -> Answer:
        from ..conformance.impl import ImplError

        try:
            if kind == STREAM:
                out = self.impl.stream("input", stream_request(data))
            else:
                out = self.impl.decode("input", data, kind)
        except ImplError as exc:
            return {"crash": str(exc)[:500]}
        out.pop("message", None)
        return out

    def finish(self) -> list[Answer]:
        batch, self._batch = self._batch, []
        out = [self.answer(kind, data) for kind, data in batch]
        self.ic_instructions += sum(c.ic_instructions or 0 for c in self.impl.calls)
        self.impl.calls.clear()
        return out

    def close(self) -> None:
        self.impl.close()


def _request(kind: str, data: bytes) -> dict[str, Any]:
    if kind == STREAM:
        return stream_request(data)
    return {"op": "decode", "kind": kind, "hex": data.hex()}


def _pump(stream: IO[str] | None, sink: queue.Queue[str | None]) -> None:
    assert stream is not None
    with contextlib.suppress(OSError, ValueError):
        for line in stream:
            sink.put(line)
    sink.put(None)


def repo_root() -> Path | None:
    """The source checkout this package runs from (or the current directory's), if any."""
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for parent in (start, *start.parents):
            if (parent / "bindings" / "rust" / "Cargo.toml").is_file():
                return parent
    return None


def rust_adapter(build: bool = True) -> str:
    """Path of the Rust adapter binary, built with cargo (release) if asked."""
    root = repo_root()
    if root is None:
        raise RuntimeError("the Rust adapter needs a source checkout (bindings/rust); pass cmd:PATH instead")
    crate = root / "bindings" / "rust"
    binary = crate / "target" / "release" / "tensorcbor-adapter"
    if build:
        cargo = shutil.which("cargo")
        if cargo is None:
            raise RuntimeError("cargo is not installed: cannot build the Rust adapter")
        done = subprocess.run([cargo, "build", "--release", "--locked", "--quiet", "--manifest-path",
                               str(crate / "Cargo.toml"), "--features", "adapter", "--bin", "tensorcbor-adapter"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"cargo build of the Rust adapter failed:\n{done.stderr[-3000:]}")
    if not binary.is_file():
        raise RuntimeError(f"{binary} is missing")
    return str(binary)


def js_adapter(build: bool = True) -> str:
    """Path of the JavaScript binding's adapter (bindings/js/adapter), built with npm (tsc) if asked."""
    root = repo_root()
    if root is None:
        raise RuntimeError("the JavaScript adapter needs a source checkout (bindings/js); pass cmd:PATH instead")
    pkg = root / "bindings" / "js"
    if build:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not installed: cannot build the JavaScript adapter")
        steps = ([] if (pkg / "node_modules" / "typescript").is_dir() else [[npm, "ci", "--no-audit", "--no-fund"]])
        for step in [*steps, [npm, "run", "--silent", "build"]]:
            done = subprocess.run(step, cwd=pkg, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(step[1:])} of the JavaScript adapter failed:\n{done.stderr[-3000:]}")
    if not (pkg / "dist" / "adapter.js").is_file():
        raise RuntimeError(f"{pkg / 'dist' / 'adapter.js'} is missing: run npm ci && npm run build in {pkg}")
    return str(pkg / "adapter")


def motoko_adapter(build: bool = True) -> str:
    """The Motoko binding's conformance canister (bindings/motoko/build/Adapter.wasm), compiled with the npm
    compiler when a source is newer (bindings/motoko/harness/build.py) if asked."""
    root = repo_root()
    if root is None:
        raise RuntimeError("the Motoko canister needs a source checkout (bindings/motoko); pass canister:MODULE.wasm")
    pkg = root / "bindings" / "motoko"
    wasm = pkg / "build" / "Adapter.wasm"
    if build:
        done = subprocess.run([sys.executable, str(pkg / "harness" / "build.py")], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"compiling the Motoko adapter canister failed (did `npm install --prefix "
                               f"bindings/motoko` run?):\n{done.stderr[-3000:]}")
    if not wasm.is_file():
        raise RuntimeError(f"{wasm} is missing: run python3 {pkg / 'harness' / 'build.py'}")
    return str(wasm)


def resolve(spec: str, *, build: bool = True, timeout: float = 30.0) -> Driver:
    """An implementation from a command-line spec.

    ``python`` (Extended when zstandard is installed; through the compiled accelerator when installed),
    ``python-core``, either with ``-pure`` (the accelerator off), ``rust`` (built with
    cargo; Core profile), ``js`` (bindings/js built with npm; Core), ``motoko`` (the Motoko binding's
    conformance canister, bindings/motoko/harness/Adapter.mo, compiled with npm; Core: canister:Adapter.wasm), or
    ``cmd:COMMAND[@core|@extended]`` for any adapter program, or ``canister:MODULE.wasm[@core|@extended]`` for a
    canister implementing the conformance method (run under the IC emulation).
    """
    if spec in ("python", "python-pure", "python-core", "python-core-pure"):
        return PythonDriver("core" if "core" in spec else "extended", pure=spec.endswith("-pure"))
    if spec == "rust":
        return AdapterDriver(rust_adapter(build), "core", "rust", timeout)
    if spec == "js":
        return AdapterDriver(js_adapter(build), "core", "js", timeout)
    if spec == "motoko":
        return CanisterDriver(motoko_adapter(build), "core", "motoko")
    if spec.startswith(("cmd:", "canister:")):
        scheme, _, rest = spec.partition(":")
        target, _, profile = rest.rpartition("@") if "@" in rest else (rest, "", "core")
        if profile not in ("core", "extended"):
            raise ValueError(f"profile must be core or extended, not {profile!r}")
        if scheme == "cmd":
            return AdapterDriver(target, profile, None, timeout)
        if not Path(target).is_file():
            raise RuntimeError(f"no canister module {target}: build the .wasm first")
        return CanisterDriver(target, profile)
    raise ValueError(f"unknown implementation {spec!r}: use python, python-core (either with -pure), rust, js, motoko, "
                     "cmd:COMMAND or canister:MODULE.wasm")
