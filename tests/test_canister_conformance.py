"""A canister checked as deployed (issue 24): `tensorcbor conformance run --canister X.wasm` and the fuzz driver
`canister:X.wasm` call the module's `tensorcbor_conformance` query under the IC emulation.

The example tensor-stores (`STORES`: examples/rust-store built for wasm32 and examples/motoko-store built with the
npm motoko compiler, as the end-to-end test builds them) pass the core and stream suites through the command line.
Small modules written in WAT here stand for broken canisters: one that traps, one that runs out of instructions, one
that rejects, one that replies garbage; each is reported per vector and the run goes on. Without cargo, the wasm32
target, node or the npm motoko compiler the store tests FAIL, not skip.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

from tensorcbor.conformance.canister import (
    ADAPTER_ERROR,
    UNSUPPORTED,
    CallFailed,
    CanisterImpl,
    ConformanceError,
    read_result,
    request,
)
from tensorcbor.conformance.impl import ImplError, ImplUnavailable
from tensorcbor.conformance.plain import encode_input, read_stream_answer, stream_input
from tensorcbor.conformance.runner import _chunk_list, run
from tensorcbor.conformance.streams import stream_answer, stream_request
from tensorcbor.conformance.suite import load_suite
from tensorcbor.fuzz.campaign import run_campaign
from tensorcbor.fuzz.drivers import CanisterDriver, PythonDriver, resolve
from tensorcbor.ic import candid, costs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import canisters  # noqa: E402

RESULT = ("variant", {"ok": "blob", "err": ("record", {"code": "text", "offset": "nat64", "message": "text"})})


def _result(value: bytes | tuple[str, int, str]) -> bytes:
    """A ConformanceResult reply: ok blob, or err (code, offset, message)."""
    if isinstance(value, bytes):
        return candid.encode([(RESULT, ("ok", value))])
    code, offset, message = value
    return candid.encode([(RESULT, ("err", {"code": code, "offset": offset, "message": message}))])


# The example canisters that implement the conformance method, checked through the command line.
STORES = canisters.STORE_BUILDERS


def _build(build: Callable[[], Path]) -> Path:
    try:
        return build()
    except canisters.BuildError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def rust_wasm() -> Path:
    return _build(canisters.build_rust_store)


@pytest.fixture(scope="module", params=sorted(STORES))
def store_wasm(request: pytest.FixtureRequest) -> Path:
    return _build(STORES[request.param])


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tensorcbor", "conformance", "run", *map(str, args)],
                          capture_output=True, text=True, timeout=900, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})


# ------------------------------------------------------------------ the Rust store passes


def test_the_store_passes_the_core_suite_through_the_command_line(store_wasm: Path) -> None:
    done = _cli("--canister", store_wasm, "--profile", "core")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert f"implementation: canister {store_wasm.name} (IC emulation)" in done.stdout
    passed = int(re.search(r"^total\s+(\d+)\s+0$", done.stdout, re.M).group(1))  # type: ignore[union-attr]
    core = [v for v in load_suite().vectors if v.profile == "core"]
    # Every Core vector but the one no IC message can carry (16 MiB + 1 byte), which is skipped, saying so.
    assert passed == len(core) - 1
    assert re.search(r"note: meta-too-large skipped: its request is [\d,]+ bytes, over the IC's 2,097,152-byte",
                     done.stdout)
    total = re.search(r"^IC instructions: ([\d,]+) in (\d+) calls", done.stdout, re.M)
    assert total and int(total.group(1).replace(",", "")) > 0
    valid = sum(v.valid for v in core)
    assert int(total.group(2)) == passed + valid  # a decode call per vector and an encode call per valid one
    listed = re.findall(r"^  (\S+)\s+([\d,]+)  (\S.*)$", done.stdout.split("most expensive vectors", 1)[1], re.M)
    costs_listed = [int(n.replace(",", "")) for _, n, _ in listed]
    assert len(listed) == 10 and costs_listed == sorted(costs_listed, reverse=True)
    assert listed[0][2] == "decode_bundle + encode_bundle"


def test_the_store_passes_the_stream_suite_through_the_command_line(store_wasm: Path) -> None:
    done = _cli("--canister", store_wasm, "--suite", "stream", "--top", "3")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(rf"^total\s+{len(load_suite('stream').vectors)}\s+0$", done.stdout, re.M), done.stdout
    listed = re.findall(r"^  (\S+)\s+[\d,]+  (stream_\w+(?: \+ stream_\w+)?)$", done.stdout, re.M)
    assert len(listed) == 3, done.stdout


def test_an_over_limit_vector_can_be_sent_to_the_emulation_anyway(rust_wasm: Path) -> None:
    done = _cli("--canister", rust_wasm, "--id", "meta-too-large", "--lift-message-limit")
    assert done.returncode == 0 and re.search(r"^total\s+1\s+0$", done.stdout, re.M), done.stdout + done.stderr
    assert "skipped" not in done.stdout


def test_in_process_answers_equal_the_reference(rust_wasm: Path) -> None:
    """The same vectors through CanisterImpl directly (the API the Motoko adapter uses): the stream answers are
    the reference receivers' answers field for field, offsets included."""
    impl = CanisterImpl(rust_wasm)
    suite = load_suite("stream")
    for v in suite.vectors[:12]:
        for kind in ("sequential", "storing"):
            req = stream_request(v.id, v.record, kind, _chunk_list(v))
            assert impl.stream(v.id, req) == stream_answer(req), v.id
    assert all(c.ic_instructions and c.ic_instructions > 0 for c in impl.calls)
    assert {c.op for c in impl.calls} == {"stream_sequential", "stream_storing"}


def test_ops_the_canister_does_not_know_and_inputs_it_cannot_read(rust_wasm: Path) -> None:
    impl = CanisterImpl(rust_wasm)
    got = impl.call("transmogrify", b"")
    assert isinstance(got, ConformanceError) and got.code == UNSUPPORTED
    got = impl.call("encode_tensor", b"\x83\x00")
    assert isinstance(got, ConformanceError) and got.code == ADAPTER_ERROR and "input byte 1" in got.message


# ------------------------------------------------------------------ broken canisters


def _module(decode: tuple[str, bytes], encode: tuple[str, bytes], stream: tuple[str, bytes]) -> bytes:
    """A canister whose conformance query does, by the op's first letter (d, e, s), one of: ("reply", bytes),
    ("trap", message), ("reject", message), ("loop", b"") (until the instruction limit)."""
    data, body, at = [], [], 1024
    for letter, (what, payload) in zip(b"des", (decode, encode, stream), strict=True):
        escaped = "".join(f"\\{b:02x}" for b in payload)
        data.append(f'(data (i32.const {at}) "{escaped}")')
        act = {"reply": f"(call $append (i32.const {at}) (i32.const {len(payload)})) (call $reply)",
               "trap": f"(call $trap (i32.const {at}) (i32.const {len(payload)}))",
               "reject": f"(call $reject (i32.const {at}) (i32.const {len(payload)}))",
               "loop": "(loop $l (memory.fill (i32.const 32768) (i32.const 0) (i32.const 16384)) (br $l))"}[what]
        body.append(f"(if (i32.eq (i32.load8_u (i32.const 0)) (i32.const {letter})) (then {act} (return)))")
        at += max(len(payload), 1) + 16
    # The op's first byte is at offset 11 of the argument: DIDL, one table entry (blob), two arguments, the
    # op's length, then the op (tensorcbor.conformance.canister.request).
    wat = f"""(module
      (import "ic0" "msg_arg_data_copy" (func $copy (param i32 i32 i32)))
      (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
      (import "ic0" "msg_reply" (func $reply))
      (import "ic0" "msg_reject" (func $reject (param i32 i32)))
      (import "ic0" "trap" (func $trap (param i32 i32)))
      (memory (export "memory") 1)
      {' '.join(data)}
      (func (export "canister_query tensorcbor_conformance")
        (call $copy (i32.const 0) (i32.const 11) (i32.const 1))
        {' '.join(body)}))"""
    assert request("decode_tensor", b"")[11:12] == b"d"
    return bytes(wasmtime.wat2wasm(wat))


def test_a_trap_a_wrong_answer_and_garbage_fail_their_vectors_and_the_run_goes_on(tmp_path: Path) -> None:
    """Decode answers TRUNCATED at offset 0 for everything, encode traps, streams reply garbage: the TRUNCATED
    vector passes (codes only), the valid vector fails twice with the reasons, the stream vector fails."""
    wasm = tmp_path / "broken.wasm"
    wasm.write_bytes(_module(("reply", _result(("TRUNCATED", 0, "short"))), ("trap", b"boom in the encoder"),
                             ("reply", b"not candid at all")))
    suite = load_suite()
    valid = next(v for v in suite.vectors if v.valid and v.reencode_identical and v.kind == "tensor")
    truncated = next(v for v in suite.vectors if v.error == "TRUNCATED")
    done = _cli("--canister", wasm, "--id", valid.id, "--id", truncated.id, "--no-offsets")
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"^total\s+1\s+1$", done.stdout, re.M), done.stdout
    fails = [line for line in done.stdout.splitlines() if line.startswith(f"FAIL {valid.id}: ")]
    assert any("decode: rejected a valid vector with TRUNCATED" in f for f in fails), fails
    assert any(re.search(r"encode_tensor .*: the canister trapped \(canister\) after [\d,]+ IC instructions: "
                         r".*boom in the encoder", f) for f in fails), fails
    assert "IC instructions:" in done.stdout and "Traceback" not in done.stderr
    streamed = _cli("--canister", wasm, "--suite", "stream", "--id", "stream.bundle.one-chunk")
    assert streamed.returncode == 1 and "Traceback" not in streamed.stderr
    assert re.search(r"FAIL stream\.bundle\.one-chunk: stream_sequential .*: the reply is not a ConformanceResult "
                     r"\(no Candid magic DIDL\)", streamed.stdout), streamed.stdout
    assert "stream_storing" in streamed.stdout, "the second receiver kind is still asked after the first failed"


def test_out_of_instructions_and_a_reject_are_reported_with_their_costs() -> None:
    impl = CanisterImpl(_module(("loop", b""), ("reject", b"not today"), ("trap", b"x")))
    suite = load_suite()
    vectors = [v for v in suite.vectors if v.valid and v.reencode_identical and v.kind == "tensor"][:2]
    results = run(impl, vectors)
    for r in results:
        assert any("ran out of instructions (the IC's query limit is 5,000,000,000)" in f for f in r.failures)
        assert any("the canister rejected the call: not today" in f for f in r.failures)
    spent = [c.ic_instructions for c in impl.calls if c.op == "decode_tensor"]
    assert len(spent) == 2 and all(n is not None and n >= costs.QUERY_LIMIT for n in spent)


def test_a_decode_answer_that_is_not_a_document_is_a_failure_not_a_verdict() -> None:
    impl = CanisterImpl(_module(("reply", _result(b"\xd9\xd9\xf7garbage")), ("trap", b"x"), ("trap", b"x")))
    with pytest.raises(ImplError, match="accepted the document but its answer .* is not a valid tensor document"):
        impl.decode("v", b"\x00", "tensor")


def test_a_module_without_the_method_or_with_an_update_stops_the_run_at_once() -> None:
    plain = bytes(wasmtime.wat2wasm('(module (memory (export "memory") 1))'))
    with pytest.raises(ImplUnavailable, match="exports no query method 'tensorcbor_conformance'"):
        CanisterImpl(plain)
    update = bytes(wasmtime.wat2wasm('(module (memory (export "memory") 1) '
                                     '(func (export "canister_update tensorcbor_conformance")))'))
    with pytest.raises(ImplUnavailable, match="it is an update method: declare it `query`"):
        CanisterImpl(update)


def test_a_request_over_the_message_limit_is_refused_unless_lifted() -> None:
    impl = CanisterImpl(_module(("reply", _result(b"")), ("trap", b"x"), ("trap", b"x")))
    with pytest.raises(CallFailed, match="over the IC's 2,097,152-byte message limit"):
        impl.call("decode_tensor", bytes(costs.MAX_MESSAGE))
    lifted = CanisterImpl(_module(("reply", _result(b"")), ("trap", b"x"), ("trap", b"x")), lift_message_limit=True)
    assert lifted.call("decode_tensor", bytes(costs.MAX_MESSAGE)) == b""
    assert lifted.transport.canister.limits  # type: ignore[attr-defined]  # the limits are back on after the call


@pytest.mark.parametrize("reply, why", [
    (b"DIDL\x00\x01\x71\x02hi", "expected a variant"),
    (candid.encode([(("variant", {"ok": "blob", "err": "text"}), ("ok", b"x"))]), "expected a record"),
    (candid.encode([(("variant", {"ok": "text", "err": RESULT[1]["err"]}), ("ok", "x"))]), "ok is not a blob"),
    (_result(b"abc")[:-1], "truncated"),
    (_result(b"abc") + b"\x00", "1 bytes after the value"),
    (_result(b"abc").replace(b"\x03abc", b"\xff\xff\xff\xff\x0fabc"), "truncated"),  # a claimed 4 GiB blob
    (b"DIDL\x01\x6b\xff\xff\xff\xff\x0f", "more fields than the reply has bytes"),
])
def test_malformed_replies_say_what_is_wrong(reply: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        read_result(reply)


def test_replies_and_plain_inputs_round_trip() -> None:
    assert read_result(_result(b"\x01\x02")) == b"\x01\x02"
    assert read_result(_result(("TRUNCATED", 7, "é"))) == ConformanceError("TRUNCATED", 7, "é")
    suite = load_suite("stream")
    v = next(v for v in suite.vectors if v.record["expected_digest"] and v.record["quota"] is not None)
    req = stream_request(v.id, v.record, "storing", _chunk_list(v))
    blob = stream_input(req)
    assert blob[:2] == b"\x83\x58" and bytes.fromhex(req["expected_digest"]) in blob
    # The answer form: [verdicts, end, sha256]
    ans = read_stream_answer(b"\x83\x82\xf6\x82\x69TRUNCATED\x03\xf6\xf6")
    assert ans == {"verdicts": ["ok", "TRUNCATED"], "offsets": [None, 3], "end": "ok", "document_sha256": None}
    for bad in (b"\x83\x80\xf6", b"\x82\x80\xf6", b"\x83\x81\x01\xf6\xf6", b"\x83\x80\xf6\x41\x00"):
        with pytest.raises(ValueError):
            read_stream_answer(bad)
    meta = {"map": [["a", {"float": "0.5"}], ["b", {"array": [None, True, {"int": "-3"}, {"bytes": "00"}]}]]}
    # Map entries in reverse order, floats as binary64: the canister's encoder must sort and shorten.
    assert encode_input({"metadata": meta, "tensors": []}, "bundle") == (
        b"\x82\xa2\x61b\x84\xf6\xf5\x22\x41\x00\x61a\xfb" + bytes.fromhex("3fe0000000000000") + b"\x80")


# ------------------------------------------------------------------ fuzzing a canister


def test_a_small_campaign_finds_no_disagreement_between_python_and_the_rust_store(rust_wasm: Path) -> None:
    canister = resolve(f"canister:{rust_wasm}")
    assert isinstance(canister, CanisterDriver) and canister.profile == "core"
    report = run_campaign([PythonDriver(), canister], 400, seed=3, batch_size=200, stream_share=0.2,
                          minimize_findings=False)
    assert report.inputs == 400
    assert (report.disagreements, report.crashes) == (0, 0), report.summary()
    assert any(k.startswith("stream:") for k in report.codes) and report.codes["valid"] > 0
    assert canister.ic_instructions > 0


def test_a_trapping_canister_is_a_crash_of_each_input(tmp_path: Path) -> None:
    wasm = tmp_path / "trap.wasm"
    wasm.write_bytes(_module(("trap", b"decoder exploded"), ("trap", b"x"), ("reply", b"junk")))
    report = run_campaign([PythonDriver(), resolve(f"canister:{wasm}")], 30, seed=1, batch_size=30,
                          stream_share=0.3, minimize_findings=False)
    assert report.crashes == 30 and report.disagreements == 0
    reasons = {f.answers["canister:trap"]["crash"].split(": ", 1)[1][:40] for f in report.findings}
    assert any("trapped (canister)" in r for r in reasons) and any("not a ConformanceResult" in r for r in reasons)


def test_fuzz_command_line_takes_a_canister(rust_wasm: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "tensorcbor.fuzz", "--impl", "python", "--impl",
                           f"canister:{rust_wasm}", "--count", "150", "--streams", "0.1", "--quiet", "--findings",
                           str(tmp_path / "f")], capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert '"canister:tensor_store"' in done.stdout and '"disagreements": 0' in done.stdout


def test_the_testing_module_shows_how_to_point_the_strategies_at_a_canister(rust_wasm: Path) -> None:
    """The example of tensorcbor.testing's docstring, run against the Rust store (fewer examples)."""
    from hypothesis import given, settings

    import tensorcbor.testing as testing

    doc = testing.__doc__ or ""
    code = doc.split("the IC's limits (a trap or running out of instructions raises `ImplError`)::", 1)[1]
    code = "\n".join(line[4:] for line in code.split("\n``canister.calls", 1)[0].splitlines())
    code = code.replace("target/wasm32-unknown-unknown/release/my_canister.wasm", str(rust_wasm))
    scope: dict[str, object] = {"given": lambda s: lambda f: settings(max_examples=40, deadline=None)(given(s)(f))}
    exec(compile(code, "tensorcbor.testing", "exec"), scope)
    tests = [f for name, f in scope.items() if name.startswith("test_")]
    assert len(tests) == 3
    for test in tests:
        test()  # type: ignore[operator]
    assert scope["canister"].calls[-1].ic_instructions > 0  # type: ignore[attr-defined]


# ------------------------------------------------------------------ a deployed canister (through a stand-in tool)

_FAKE_TOOL = """#!{python}
# A stand-in for icp-cli / dfx: logs its command line, then answers the query from the module under the emulation
# (what the real tool would get from the deployed canister), printing the reply as hex.
import os, sys
from pathlib import Path
sys.path.insert(0, {src!r})
from tensorcbor.conformance.canister import EmulatedCanister
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join([Path(sys.argv[0]).name, *args]) + "\\n")
if os.environ.get("FAKE_FAIL"):
    sys.stderr.write("Error: the replica returned a reject: canister trapped\\n")
    sys.exit(1)
if Path(sys.argv[0]).name == "icp":
    method, arg = args[3], Path(args[args.index("--args-file") + 1]).read_bytes()
else:
    method, arg = args[-1], bytes.fromhex(Path(args[args.index("--argument-file") + 1]).read_text())
reply, _ = EmulatedCanister(os.environ["FAKE_WASM"]).query(method, arg)
print(reply.hex())
"""


@pytest.mark.parametrize("tool", ["icp", "dfx"])
def test_a_deployed_canister_is_called_through_the_tool(tool: str, rust_wasm: Path, tmp_path: Path) -> None:
    """--canister-id ID --network URL sends each query through icp-cli or dfx. No replica or tool runs here, so a
    stand-in takes their place: it checks the command line the runner builds and answers from the module."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / tool
    fake.write_text(_FAKE_TOOL.format(python=sys.executable, src=str(ROOT / "src")))
    fake.chmod(0o755)
    log = tmp_path / "calls.log"
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": f"{bindir}:/usr/bin:/bin", "FAKE_LOG": str(log),
           "FAKE_WASM": str(rust_wasm)}
    ids = ["bundle-empty", "trailing-f32-zero"]
    suite = load_suite()
    assert all(suite.get(i) for i in ids)
    cmd = [sys.executable, "-m", "tensorcbor", "conformance", "run", "--canister-id", "aaaaa-aa", "--network",
           "https://icp-api.io", "--via", tool, "--timeout", "600", *(a for i in ids for a in ("--id", i))]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"implementation: canister aaaaa-aa on https://icp-api.io (through {tool})" in done.stdout
    assert re.search(r"^total\s+2\s+0$", done.stdout, re.M) and "IC instructions: not known" in done.stdout
    calls = log.read_text().splitlines()
    assert len(calls) == 3  # two decodes, one encode
    if tool == "icp":
        assert all(re.fullmatch(r"icp canister call aaaaa-aa tensorcbor_conformance --query --args-file \S+ "
                                r"--args-format bin --output hex --network https://icp-api.io --root-key mainnet", c)
                   for c in calls), calls
    else:
        assert all(re.fullmatch(r"dfx canister call --network https://icp-api.io --query --type raw --argument-file "
                                r"\S+ --output raw aaaaa-aa tensorcbor_conformance", c) for c in calls), calls
    env["FAKE_FAIL"] = "1"
    failed = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert failed.returncode == 1 and re.search(r"^total\s+0\s+2$", failed.stdout, re.M), failed.stdout
    assert f"{tool} exited with status 1 (a trap, a reject or no connection): Error: the replica returned a reject" \
        in failed.stdout


def test_a_missing_tool_stops_the_run_with_what_to_install() -> None:
    done = subprocess.run([sys.executable, "-m", "tensorcbor", "conformance", "run", "--canister-id", "aaaaa-aa",
                           "--network", "http://127.0.0.1:4943"], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/nonexistent"})
    assert done.returncode == 2 and "icp (npm i -g @icp-sdk/icp-cli) or dfx is not on PATH" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_module_the_replica_would_refuse_stops_both_commands(tmp_path: Path) -> None:
    bad = tmp_path / "not.wasm"
    bad.write_bytes(b"hello")
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    for cmd in (["-m", "tensorcbor", "conformance", "run", "--canister", str(bad)],
                ["-m", "tensorcbor.fuzz", "--impl", "python", "--impl", f"canister:{bad}", "--count", "5"]):
        done = subprocess.run([sys.executable, *cmd], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                              env=env)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "the replica would refuse this module at install: DECODE: not a Wasm module" in done.stderr
