"""Implementations under test: the in-process Python codec, or any program speaking the adapter protocol.

Protocol (conformance/README.md has the full text):

- ``CMD decode KIND``: stdin holds a vector's bytes; print one JSON line, the decoded value
  ({"kind": "tensor", "dtype", "shape", "data_hex" | "strings"} or {"kind": "bundle", "metadata",
  "tensors": [...]}) or {"error": "CODE", "offset": N} (the byte offset of SPEC.md §8.1; an implementation
  that reports none leaves it out and is run with --no-offsets).
- ``CMD encode KIND``: stdin holds a vector's "expected" JSON; print the encoded bytes as hex.
- ``CMD stream``: stdin holds one stream request (JSON: "receiver", "expected_digest", "quota", "chunks");
  print {"verdicts": [...], "offsets": [...], "end": ..., "document_sha256": ...} (conformance/README.md,
  "Stream suite"; "offsets" holds each rejected chunk's byte offset, null for an accepted one).
- ``CMD batch``: JSON lines on stdin, {"id", "op": "decode"|"encode", "kind", "hex"|"value"} or
  {"id", "op": "stream", ...}; one JSON line per request on stdout, in order: the decode answer,
  {"hex": ...} or the stream answer, each with the request's "id".

KIND is "tensor" or "bundle". Each answer has a time limit; a crash, a timeout or unparsable output
fails that vector with a message saying which.
"""

from __future__ import annotations

import json
import queue
import shlex
import subprocess
import threading
from typing import IO, Any, Protocol

from .streams import stream_answer
from .values import decode_json, encode_json


class ImplError(Exception):
    """The implementation did not answer usably (crash, timeout, bad output)."""


class ImplUnavailable(ImplError):
    """The implementation cannot run at all (no such program, not executable, dies before any answer):
    the run stops at once instead of failing every vector."""


class Impl(Protocol):
    name: str

    def decode(self, vid: str, data: bytes, kind: str) -> dict[str, Any]: ...

    def encode(self, vid: str, value: dict[str, Any], kind: str) -> bytes: ...

    def stream(self, vid: str, request: dict[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


class PythonImpl:
    """The reference codec, called in process (the same functions the adapter uses)."""

    name = "tensorcbor (Python, in process)"

    def decode(self, vid: str, data: bytes, kind: str) -> dict[str, Any]:
        return decode_json(data, kind)

    def encode(self, vid: str, value: dict[str, Any], kind: str) -> bytes:
        return encode_json(value, kind)

    def stream(self, vid: str, request: dict[str, Any]) -> dict[str, Any]:
        return stream_answer(request)

    def close(self) -> None:
        pass


def _parse_json_line(line: str, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ImplError(f"{what}: output is not JSON ({exc}): {line[:200]!r}") from None
    if not isinstance(obj, dict):
        raise ImplError(f"{what}: output is not a JSON object: {line[:200]!r}")
    return obj


def _parse_hex(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text.strip())
    except ValueError:
        raise ImplError(f"{what}: output is not hex: {text.strip()[:200]!r}") from None


class ProcessImpl:
    """One process per request: ``CMD decode KIND`` / ``CMD encode KIND``."""

    def __init__(self, command: str, timeout: float) -> None:
        self.argv = shlex.split(command)
        self.name = command
        self.timeout = timeout

    def _run(self, args: list[str], stdin: bytes, what: str) -> str:
        try:
            done = subprocess.run(self.argv + args, input=stdin, capture_output=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise ImplError(f"{what}: no answer within {self.timeout:g} s (timeout)") from None
        except OSError as exc:
            raise ImplUnavailable(f"cannot start {self.argv[0]!r}: {exc.strerror or exc}") from None
        out = done.stdout.decode("utf-8", "replace").strip()
        if done.returncode != 0 and not out:
            err = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise ImplError(f"{what}: exited with status {done.returncode} and no output (crash?): {err}")
        return out

    def decode(self, vid: str, data: bytes, kind: str) -> dict[str, Any]:
        what = f"decode {vid}"
        lines = self._run(["decode", kind], data, what).splitlines()
        if not lines:
            raise ImplError(f"{what}: no output")
        return _parse_json_line(lines[-1], what)

    def encode(self, vid: str, value: dict[str, Any], kind: str) -> bytes:
        what = f"encode {vid}"
        return _parse_hex(self._run(["encode", kind], json.dumps(value).encode(), what), what)

    def stream(self, vid: str, request: dict[str, Any]) -> dict[str, Any]:
        what = f"stream {vid} ({request['receiver']})"
        body = {k: v for k, v in request.items() if k not in ("id", "op")}
        lines = self._run(["stream"], json.dumps(body).encode(), what).splitlines()
        if not lines:
            raise ImplError(f"{what}: no output")
        return _parse_json_line(lines[-1], what)

    def close(self) -> None:
        pass


class BatchImpl:
    """One long-running ``CMD batch`` process fed JSON lines; restarted after a crash or timeout."""

    def __init__(self, command: str, timeout: float) -> None:
        self.argv = shlex.split(command) + ["batch"]
        self.name = f"{command} (batch)"
        self.timeout = timeout
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.answered = 0

    def _start(self) -> subprocess.Popen[str]:
        if self.proc is None or self.proc.poll() is not None:
            try:
                self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.DEVNULL, text=True, bufsize=1)
            except OSError as exc:
                raise ImplUnavailable(f"cannot start {self.argv[0]!r}: {exc.strerror or exc}") from None
            self.lines = queue.Queue()
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        return self.proc

    @staticmethod
    def _pump(stream: IO[str] | None, sink: queue.Queue[str | None]) -> None:
        assert stream is not None
        for line in stream:
            sink.put(line)
        sink.put(None)

    def _ask(self, request: dict[str, Any], what: str) -> dict[str, Any]:
        if self.proc is not None and self.proc.poll() is not None:
            # It died after its last answer: say so here rather than restart it silently (whether the write
            # below or this check sees the exit first is only a matter of timing).
            status, self.proc = self.proc.returncode, None
            raise ImplError(f"{what}: batch process exited with status {status} after its last answer (crash?); "
                            "restarted for the next")
        proc = self._start()
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            line = self.lines.get(timeout=self.timeout)
        except queue.Empty:
            self.close()
            raise ImplError(f"{what}: no answer within {self.timeout:g} s (timeout); batch process restarted") from None
        except (BrokenPipeError, OSError):
            line = None
        if line is None:
            status = proc.wait()
            self.proc = None
            if not self.answered:
                raise ImplUnavailable(f"{' '.join(self.argv)} exited with status {status} before answering "
                                      "anything; check the command (it must speak the adapter protocol)")
            raise ImplError(f"{what}: batch process exited with status {status} (crash?); restarted for the next")
        answer = _parse_json_line(line, what)
        self.answered += 1
        if answer.get("id") != request["id"]:
            self.close()
            raise ImplError(f"{what}: answer for id {answer.get('id')!r}, expected {request['id']!r}")
        return answer

    def decode(self, vid: str, data: bytes, kind: str) -> dict[str, Any]:
        answer = self._ask({"id": vid, "op": "decode", "kind": kind, "hex": data.hex()}, f"decode {vid}")
        answer.pop("id", None)
        return answer

    def encode(self, vid: str, value: dict[str, Any], kind: str) -> bytes:
        what = f"encode {vid}"
        answer = self._ask({"id": vid, "op": "encode", "kind": kind, "value": value}, what)
        if "error" in answer:
            raise ImplError(f"{what}: the encoder refused: {answer['error']}")
        return _parse_hex(str(answer.get("hex", "")), what)

    def stream(self, vid: str, request: dict[str, Any]) -> dict[str, Any]:
        answer = self._ask(request, f"stream {vid} ({request['receiver']})")
        answer.pop("id", None)
        return answer

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.stdin:
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
