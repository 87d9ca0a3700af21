"""The JavaScript/TypeScript binding (bindings/js): built with npm, run through the conformance runner (core and
stream suites), its node unit tests, its narrow-type decoders against ml_dtypes, and a real headless Chromium.

Without node/npm these tests FAIL (they do not skip): the binding is part of the project's test suite. Only the
browser test skips, when Chromium is not installed (Debian: ``apt-get install -y chromium``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import tensorcbor
from tensorcbor import stream
from tensorcbor.conformance import load_suite
from tensorcbor.conformance.impl import BatchImpl, ProcessImpl
from tensorcbor.conformance.runner import run
from tensorcbor.conformance.values import tensor_json
from tensorcbor.dtypes import BY_NAME
from tensorcbor.ic import Canister, candid

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import canisters  # noqa: E402
from store_client import NAMES  # noqa: E402

PKG = ROOT / "bindings" / "js"
ADAPTER = PKG / "adapter"
SUITE = load_suite()
CORE = [v for v in SUITE.vectors if v.profile == "core"]


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed (or not on PATH): the JavaScript binding in bindings/js cannot be built "
                    "and checked; install Node.js 20 or later")
    return found


@pytest.fixture(scope="module")
def built() -> str:
    """`npm ci` (when node_modules is missing) and `npm run build`; returns the adapter command."""
    npm = _tool("npm")
    steps = [] if (PKG / "node_modules" / "typescript").is_dir() else [[npm, "ci", "--no-audit", "--no-fund"]]
    for step in [*steps, [npm, "run", "--silent", "build"]]:
        done = subprocess.run(step, cwd=PKG, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(step[1:])} in bindings/js failed (status {done.returncode}):\n"
                        f"{done.stdout[-2000:]}{done.stderr[-3000:]}")
    assert (PKG / "dist" / "adapter.js").is_file()
    return str(ADAPTER)


def test_js_adapter_batch_passes_every_core_vector(built: str) -> None:
    assert len(CORE) > 1000
    results = run(BatchImpl(built, timeout=60), CORE)
    assert len(results) == len(CORE)
    failed = {r.vector.id: r.failures for r in results if not r.ok}
    assert not failed, f"{len(failed)} of {len(CORE)} core vectors fail: {failed}"


def test_js_adapter_passes_the_stream_suite(built: str) -> None:
    stream_suite = load_suite("stream")
    assert len(stream_suite.vectors) >= 50
    results = run(BatchImpl(built, timeout=60), stream_suite.vectors)
    failed = {r.vector.id: r.failures for r in results if not r.ok}
    assert not failed, f"{len(failed)} of {len(results)} stream vectors fail: {failed}"


def test_js_adapter_single_shot_on_a_sample(built: str) -> None:
    ids = ("tensor-float32-rank1", "bundle-metadata-all-types", "string-mixed", "packed-int4-n3-all-ones",
           "pad-nonzero", "meta-duplicate-key")
    results = run(ProcessImpl(built, timeout=60), [SUITE.get(i) for i in ids])
    assert all(r.ok for r in results), {r.vector.id: r.failures for r in results if not r.ok}


def test_js_adapter_refuses_compressed_data_as_a_core_decoder(built: str) -> None:
    compressed = [v for v in SUITE.vectors if v.profile == "extended" and v.valid and v.kind == "tensor"][:3]
    assert compressed
    impl = BatchImpl(built, timeout=60)
    try:
        for v in compressed:
            assert impl.decode(v.id, v.data(), v.kind).get("error") == "UNSUPPORTED_COMPRESSION", v.id
    finally:
        impl.close()


def test_node_unit_tests_pass(built: str) -> None:
    node = _tool("node")
    tests = sorted(str(p) for p in (PKG / "test").glob("*.test.mjs"))
    assert len(tests) >= 4
    done = subprocess.run([node, "--test", *tests], cwd=PKG, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout


_NARROW = ("float16", "bfloat16", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz",
           "float8_e8m0fnu", "float8_e4m3", "float8_e3m4", "float8_e4m3b11fnuz", "float6_e2m3fn", "float6_e3m2fn",
           "float4_e2m1fn")

_DUMP = """
import { decodeTensor, DTYPE_ROWS, encodeTensor, packBits, toFloat32, toInt8 } from "./dist/index.js";
const out = {};
for (const name of process.argv.slice(1)) {
  const row = DTYPE_ROWS.find((r) => r.name === name);
  const count = 2 ** row.bits;
  const codes = Array.from({ length: count }, (_, i) => i);
  const data = row.bits < 8 ? packBits(codes, row.bits)
    : row.bits === 8 ? Uint8Array.from(codes) : new Uint16Array(codes);
  const t = decodeTensor(encodeTensor({ dtype: name, shape: [count], data }));
  out[name] = row.kind === "float" ? Array.from(new Uint32Array(toFloat32(t).buffer)) : Array.from(toInt8(t));
}
console.log(JSON.stringify(out));
"""


def test_narrow_type_decoders_match_ml_dtypes_bit_for_bit(built: str) -> None:
    """Every code of every narrow float type to float32 bits (NaNs included), and every packed integer code,
    against ml_dtypes' own conversion."""
    names = [*_NARROW, "int4", "uint4", "int2", "uint2"]
    done = subprocess.run([_tool("node"), "--input-type=module", "-e", _DUMP, *names], cwd=PKG, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout)
    for name in names:
        dt = np.dtype(getattr(ml_dtypes, name, None) or name)
        bits = {"int4": 4, "uint4": 4, "int2": 2, "uint2": 2, "float6_e2m3fn": 6, "float6_e3m2fn": 6,
                "float4_e2m1fn": 4}.get(name, dt.itemsize * 8)
        codes = np.arange(2 ** bits, dtype=np.uint16 if bits == 16 else np.uint8)
        values = codes.view(dt)
        if name in _NARROW:
            want = values.astype(np.float32).view(np.uint32).tolist()
        else:
            want = values.astype(np.int8).tolist()
        mismatch = [(hex(c), w, g) for c, w, g in zip(codes.tolist(), want, got[name], strict=True) if w != g]
        assert not mismatch, f"{name}: {len(mismatch)} codes differ from ml_dtypes, e.g. {mismatch[:5]}"


class _Handler(BaseHTTPRequestHandler):
    """Serves the page, the built package and the conformance suite; takes the page's POST /result."""

    result: list[dict[str, object]] = []
    done = threading.Event()
    routes = {"/dist/": PKG / "dist", "/conformance/": ROOT / "conformance", "/": PKG / "test" / "browser"}
    types = {".mjs": "text/javascript", ".js": "text/javascript", ".json": "application/json", ".html": "text/html"}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?")[0]
        path = "/index.html" if path == "/" else path
        for prefix, base in self.routes.items():
            if path.startswith(prefix):
                target = (base / path[len(prefix):]).resolve()
                if base.resolve() in target.parents and target.is_file():
                    body = target.read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Type", self.types.get(target.suffix, "application/octet-stream"))
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                break
        self.send_error(404)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).result.append(json.loads(body))
        self.send_response(204)
        self.end_headers()
        type(self).done.set()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass


@pytest.fixture
def server(built: str) -> Iterator[str]:
    _Handler.result = []
    _Handler.done = threading.Event()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_headless_chromium_decodes_every_valid_core_vector(server: str, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium)")
    proc = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                             "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", server],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        answered = _Handler.done.wait(timeout=240)
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=30)
    assert answered, f"the page did not report within 240 s; chromium said: {err.decode(errors='replace')[-2000:]}"
    outcome = _Handler.result[0]
    assert "error" not in outcome, outcome
    valid_core = [v for v in CORE if v.valid]
    assert outcome["vectors"] == len(valid_core)
    assert outcome["failures"] == [] and outcome["decoded"] == len(valid_core), outcome["failures"]
    assert outcome["nativeSha256"] is False  # the browser hashed with the portable SHA-256
    assert outcome["streamDigest"] == "33febe60cc6fc01246e877bc11e86c8d57bcb4f048c00d65dacfc083b1595aee"
    assert outcome["zeroCopy"] is True
    assert "Chrome" in str(outcome["userAgent"])


def _store_cli(*args: str) -> Any:
    done = subprocess.run([_tool("node"), str(PKG / "examples" / "store-cli.mjs"), *args], cwd=PKG,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_js_upload_calls_and_get_replies_against_the_emulated_tensor_store(built: str, tmp_path: Path) -> None:
    """examples/tensor-store.mjs through @icp-sdk/core's Candid: the JS cuts a .tcb into begin_upload / put_chunk /
    finish argument bytes, which are replayed into the real tensor-store canister (examples/rust-store) under the
    IC emulation (tensorcbor.ic, as ingress: inspect_message first); then the canister's `get` replies are decoded
    by the JS. (The agent's HTTP transport needs a replica and is not exercised.)"""
    try:
        wasm = canisters.build_rust_store()
    except canisters.BuildError as exc:
        pytest.fail(str(exc))
    model = canisters.synthetic_model(400_000)
    model["extra.mask"] = np.arange(13) % 3 == 0
    model["extra.int4"] = (np.arange(9) - 4).astype(ml_dtypes.int4)
    doc = tensorcbor.encode_bundle(model, {"model": "js-upload"})
    (tmp_path / "model.tcb").write_bytes(doc)
    max_size = 65_536
    calls = _store_cli("plan", str(tmp_path / "model.tcb"), str(max_size))
    want = list(stream.chunks(doc, max_size))
    assert [c["method"] for c in calls] == ["begin_upload"] + ["put_chunk"] * (len(want) - 1) + ["finish"]
    assert len(want) > 5
    # The argument bytes carry exactly the reference's chunks (and the stream digest with the manifest).
    manifest, digest = candid.decode(bytes.fromhex(calls[0]["arg"]))
    assert (manifest, digest) == (want[0], stream.stream_digest(want[0]))
    assert [candid.decode(bytes.fromhex(c["arg"]))[0] for c in calls[1:-1]] == want[1:]

    canister = Canister(wasm, controllers=[b"\x01"])
    canister.install()
    for c in calls:
        (value,) = candid.decode(canister.update(c["method"], bytes.fromhex(c["arg"])).ok(), NAMES)
        assert value[0] == "Ok", (c["method"], value)
    for name in ["head.dense.bias", "vocab", "extra.int4", "extra.mask", "embed.weight"]:
        (tmp_path / "reply.bin").write_bytes(canister.query("get", candid.encode([("text", name)])).ok())
        got = _store_cli("get", str(tmp_path / "reply.bin"))
        arr = model[name]
        dt = BY_NAME["string" if arr.dtype.kind == "U" else str(arr.dtype)]
        assert got == tensor_json(arr, dt), name
    (tmp_path / "reply.bin").write_bytes(canister.query("get", candid.encode([("text", "no.such.tensor")])).ok())
    done = subprocess.run([_tool("node"), str(PKG / "examples" / "store-cli.mjs"), "get", str(tmp_path / "reply.bin")],
                          cwd=PKG,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "NotFound" in done.stderr


_DIGESTS = """
import { readFileSync } from "node:fs";
import { chunks } from "./dist/index.js";
const [list, ...sizes] = process.argv.slice(1);
const out = {};
for (const path of readFileSync(list, "utf8").split("\\n").filter(Boolean)) {
  const doc = new Uint8Array(readFileSync(path));
  out[path] = sizes.map((m) => {
    try {
      const s = chunks(doc, Number(m));
      return [Buffer.from(s.streamDigest).toString("hex"), s.chunks.length];
    } catch (e) {
      if (e.code === "CHUNK_TOO_LARGE") return null;
      throw e;
    }
  });
}
console.log(JSON.stringify(out));
"""


def test_js_chunker_cuts_every_valid_document_as_the_reference(built: str, tmp_path: Path) -> None:
    """Equal stream digests for every valid core document at several chunk limits: the cut of SPEC.md §10.3 (which
    never splits a tensor header that fits) is the reference's, byte for byte."""
    valid = [v for v in CORE if v.valid]
    paths = [str(v.root / v.record["file"]) for v in valid]
    (tmp_path / "list.txt").write_text("\n".join(paths))
    sizes = (128, 200, 1000, 1 << 20)
    done = subprocess.run([_tool("node"), "--input-type=module", "-e", _DIGESTS, str(tmp_path / "list.txt"),
                           *map(str, sizes)], cwd=PKG, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout)
    compared = 0
    for v, path in zip(valid, paths, strict=True):
        for m, answer in zip(sizes, got[path], strict=True):
            try:
                cut = list(stream.chunks(v.data(), m))
                want = [stream.stream_digest(cut[0]).hex(), len(cut)]
            except tensorcbor.EncodeError:
                want = None
            assert answer == want, (v.id, m)
            compared += want is not None
    assert compared > 3 * len(valid)


def test_short_differential_campaign_python_vs_js_agrees(built: str, tmp_path: Path) -> None:
    """`--impl js` in CI: a seeded campaign (document and stream inputs) against the reference finds nothing; the
    long campaigns are in bindings/js/README.md."""
    from tensorcbor.fuzz import PythonDriver, resolve, run_campaign

    js = resolve("js", build=False)
    assert js.name == "js" and js.profile == "core"
    try:
        report = run_campaign([PythonDriver("core"), js], 10_000, 20261206, corpus_size=150, findings_dir=tmp_path,
                              stream_share=0.05)
    finally:
        js.close()
    found = [f"{' '.join(f.signature)}: {f.kind} {f.data.hex()}" for f in report.findings]
    assert report.inputs == 10_000 and report.crashes == 0 and report.disagreements == 0, found
    assert report.codes["valid"] > 100 and len(report.codes) >= 20, report.codes
