"""The conformance runner: Python codec, the --impl protocol (single and batch), failures, `check`, Candid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tensorcbor.cli import main
from tensorcbor.conformance import load_suite
from tensorcbor.conformance.candid import parse_blob_literal, parse_candid, read_output
from tensorcbor.conformance.impl import BatchImpl, ImplUnavailable, ProcessImpl, PythonImpl
from tensorcbor.conformance.runner import run

ADAPTER = f"{sys.executable} -m tensorcbor.conformance.adapter"
SUITE = load_suite()


def test_python_codec_passes_every_vector() -> None:
    results = run(PythonImpl(), SUITE.vectors)
    failed = {r.vector.id: r.failures for r in results if not r.ok}
    assert not failed, failed


def test_adapter_batch_mode_passes_every_vector() -> None:
    results = run(BatchImpl(ADAPTER, timeout=30), SUITE.vectors)
    failed = {r.vector.id: r.failures for r in results if not r.ok}
    assert not failed, failed


def test_adapter_single_mode_on_a_sample() -> None:
    sample = [SUITE.get(i) for i in ("tensor-float32-rank1", "bundle-metadata-all-types", "string-mixed",
                                     "packed-int4-n3-all-ones", "pad-nonzero", "meta-duplicate-key")]
    results = run(ProcessImpl(ADAPTER, timeout=30), sample)
    assert all(r.ok for r in results), [r.failures for r in results]


def test_wrong_answers_crashes_and_timeouts_fail_with_a_message() -> None:
    v = [SUITE.get("tensor-float32-rank1"), SUITE.get("pad-nonzero")]
    liar = f"{sys.executable} -c \"print('{{\\\"error\\\": \\\"TRUNCATED\\\"}}')\""
    results = run(ProcessImpl(liar, timeout=30), v, encode=False)
    assert "rejected a valid vector with TRUNCATED" in results[0].failures[0]
    assert "expected error BAD_PADDING, got error TRUNCATED" in results[1].failures[0]
    crash = f"{sys.executable} -c \"import sys; sys.exit(3)\""
    results = run(ProcessImpl(crash, timeout=30), v[:1])
    assert "exited with status 3" in results[0].failures[0]
    slow = f"{sys.executable} -c \"import time; time.sleep(30)\""
    results = run(BatchImpl(slow, timeout=0.5), v, encode=False)
    assert all("timeout" in r.failures[0] for r in results)
    with pytest.raises(ImplUnavailable, match="exited with status 3 before answering anything"):
        run(BatchImpl(crash, timeout=10), v[:1], encode=False)  # cannot start: the run stops at once
    once = (f"{sys.executable} -c \"import sys, json; r = json.loads(sys.stdin.readline()); "
            "print(json.dumps({'id': r['id'], 'error': 'TRUNCATED'}), flush=True); sys.exit(3)\"")
    # answered once, then crashed: that vector fails (60 s: a child's start-up on a loaded machine must not time out)
    results = run(BatchImpl(once, timeout=60), v, encode=False)
    assert "exited with status 3" in results[1].failures[0] and "crash" in results[1].failures[0]


class _OffByOne(PythonImpl):
    """The reference codec, except that every rejection is reported one byte late."""

    def decode(self, vid: str, data: bytes, kind: str) -> dict[str, Any]:
        got = super().decode(vid, data, kind)
        if "offset" in got:
            got["offset"] += 1
        return got


def test_offsets_are_checked_unless_switched_off() -> None:
    invalid = [v for v in SUITE.vectors if not v.valid]
    assert invalid and all(isinstance(v.offset, int) for v in invalid)
    results = run(_OffByOne(), invalid)
    assert all(not r.ok for r in results)
    assert f"expected at byte {invalid[0].offset}, reported at {invalid[0].offset + 1}" in results[0].failures[0]
    assert all(r.ok for r in run(_OffByOne(), invalid, offsets=False))
    codes_only = f"{sys.executable} -c \"print('{{\\\"error\\\": \\\"BAD_PADDING\\\"}}')\""
    assert main(["conformance", "run", "--impl", codes_only, "--id", "pad-nonzero", "--decode-only"]) == 1
    assert main(["conformance", "run", "--impl", codes_only, "--id", "pad-nonzero", "--decode-only",
                 "--no-offsets"]) == 0


def test_cli_run_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "run", "--id", "tensor-float32-rank1", "--id", "pad-nonzero"]) == 0
    out = capsys.readouterr().out
    assert "float32" in out and "invalid:BAD_PADDING" in out
    bad = f"{sys.executable} -c \"print('{{}}')\""
    assert main(["conformance", "run", "--impl", bad, "--id", "pad-nonzero", "--decode-only"]) == 1
    assert "FAIL pad-nonzero" in capsys.readouterr().out


def test_check_reports_offset_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    v = SUITE.get("tensor-int32-rank1")
    good = v.data()
    f = tmp_path / "out.bin"
    f.write_bytes(good)
    assert main(["conformance", "check", v.id, str(f)]) == 0
    bad = bytearray(good)
    bad[-3] ^= 0xFF  # inside the last element
    (tmp_path / "out.hex").write_text(bytes(bad).hex())
    assert main(["conformance", "check", v.id, str(tmp_path / "out.hex")]) == 1
    out = capsys.readouterr().out
    assert f"first difference at byte {len(good) - 3}" in out and "element 4:" in out
    candid = "(blob \"" + "".join(f"\\{b:02x}" for b in good[:-4]) + "\")"
    (tmp_path / "out.did").write_text(candid)
    assert main(["conformance", "check", v.id, str(tmp_path / "out.did")]) == 1
    out = capsys.readouterr().out
    assert "candid input" in out and "TRUNCATED" in out


def test_candid_blob_text() -> None:
    assert parse_blob_literal(r"\d9\d9\f7DIDL\\\"\n\t\'\u{e9}") == b"\xd9\xd9\xf7DIDL\\\"\n\t'\xc3\xa9"
    assert parse_candid('(\n  blob "\\00\\01a",\n)') == b"\x00\x01a"
    assert parse_candid("(vec { 217 : nat8; 0xd9; 247 })") == b"\xd9\xd9\xf7"
    assert read_output(b"d9 d9 f7\n") == (b"\xd9\xd9\xf7", "hex")
    assert read_output(b"\xd9\xd9\xf7")[1] == "raw"
    with pytest.raises(ValueError):
        parse_blob_literal(r"\zz")


def test_cli_runs_as_a_program() -> None:
    done = subprocess.run([sys.executable, "-m", "tensorcbor", "conformance", "list"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "meta-too-large\tcore\tinvalid\tMETADATA_TOO_LARGE" in done.stdout
