"""The committed conformance suite: reproducible, schema-valid, well-formed to independent decoders, complete."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import cbor2
import cddl_verifier
import pytest
from conformance.gen import PENDING_PROFILE_CODES, PROFILES
from conformance.generate import write

from tensorcbor import BY_NAME, TABLE, errors

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "conformance" / "v1"
MANIFEST = json.loads((SUITE / "manifest.json").read_text(encoding="utf-8"))
VECTORS = MANIFEST["vectors"]
VALID = [v for v in VECTORS if v["verdict"] == "valid"]
JS = ROOT / "conformance" / "js"


def test_committed_suite_equals_fresh_generation(tmp_path: Path) -> None:
    write(tmp_path)
    fresh = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(SUITE).as_posix() for p in SUITE.rglob("*") if p.is_file())
    assert fresh == committed, set(fresh) ^ set(committed)
    for name in fresh:
        assert (tmp_path / name).read_bytes() == (SUITE / name).read_bytes(), f"{name} differs; run python3 -m " \
            "conformance.generate and commit"


def test_manifest_matches_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")  # a dev dependency; see conformance/README.md
    schema = json.loads((ROOT / "conformance" / "manifest.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(MANIFEST, schema, cls=jsonschema.Draft202012Validator)


def test_every_code_is_registered_and_covered() -> None:
    used = {v["error"] for v in VECTORS if v["verdict"] == "invalid"}
    assert used <= errors.CODES, used - errors.CODES
    missing = errors.CODES - used
    # Codes of profiles whose generator modules do not exist yet are allowed to be missing, and only those.
    pending = {code for code, profile in PENDING_PROFILE_CODES.items() if profile not in PROFILES}
    # Format 1.0 codes whose vectors come with the bundle directory and stream changes (helpers "format",
    # "streams"); on this branch the registry has them (design D7 order) but no codec produces them yet.
    pending |= {"DIRECTORY_MISMATCH", "INVALID_CHUNK_SIZE", "QUOTA_EXCEEDED"} - used
    assert missing <= pending, f"registry codes without a vector: {sorted(missing - pending)}"
    assert not set(PENDING_PROFILE_CODES) & {"TRUNCATED", "MALFORMED"}


def test_counts_and_coverage() -> None:
    ids = {v["id"] for v in VECTORS}
    assert len(ids) == len(VECTORS) >= 1000
    assert len(VALID) >= 400 and len(VECTORS) - len(VALID) >= 600
    dtypes = {v["expected"]["dtype"] for v in VALID if v["kind"] == "tensor"}
    assert dtypes == {d.name for d in TABLE}
    for dt in dtypes:
        shapes = ("rank1", "rank2", "rank3", "zero-last", "zero-first") if BY_NAME[dt].block else (
            "rank0", "rank1", "rank3", "zero-dim")
        for shape in shapes:
            assert f"tensor-{dt}-{shape}" in ids
    pads = {f for v in VALID for f in v["flags"] if re.fullmatch(r"pad[0-7]", f)}
    assert pads == {f"pad{i}" for i in range(8)}
    # every prefix of the 28-byte float32 sample (the shortest ones are magic-* vectors, kept once)
    sizes = {v["size"] for v in VECTORS if v["id"].startswith("truncated-f32-")}
    assert set(range(6, 28)) <= sizes
    assert sum(v.get("error") == "TRUNCATED" for v in VECTORS) >= 200
    total = sum(p.stat().st_size for p in (SUITE / "vectors").iterdir())
    assert total < 20_000_000


@pytest.mark.parametrize("v", VALID, ids=[v["id"] for v in VALID])
def test_valid_vector_is_well_formed_cbor_to_cbor2(v: dict) -> None:  # type: ignore[type-arg]
    cbor2.loads((SUITE / v["file"]).read_bytes())


def spec_cddl() -> str:
    match = re.search(r"```cddl\n(.*?)```", (ROOT / "SPEC.md").read_text(encoding="utf-8"), re.S)
    assert match, "SPEC.md has no cddl block"
    return match.group(1)


def test_valid_vectors_match_spec_cddl() -> None:
    validator = cddl_verifier.Validator(spec_cddl())  # compiled once: validate() would re-parse per vector
    # cddl-verifier backtracks exponentially through 32 levels of meta-value choices (~33 s per vector); those two
    # vectors test the §6.1 nesting limit, which CDDL cannot express anyway. They are named, not skipped silently.
    deep = {v["id"] for v in VALID if "nesting" in v["flags"]}
    assert deep == {"meta-nesting-32", "meta-nesting-32-empty"}
    bad = []
    for v in VALID:
        if v["id"] in deep:
            continue
        result = validator.validate((SUITE / v["file"]).read_bytes(), root_type="tensorcbor-document")
        if not result.valid:
            bad.append((v["id"], result.diagnostics))
    assert not bad, bad[:5]


def _node() -> str:
    node = shutil.which("node")
    assert node, "node is required for the cbor-x check (install Node.js >= 18)"
    assert (JS / "node_modules" / "cbor-x").is_dir(), "run `npm ci --prefix conformance/js` first"
    return node


def test_valid_vectors_decode_with_cbor_x() -> None:
    done = subprocess.run([_node(), "check.mjs", str(SUITE)], cwd=JS, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert f"checked {len(VALID)} valid vectors, 0 failures" in done.stdout


def test_cbor_x_check_detects_a_wrong_expectation(tmp_path: Path) -> None:
    shutil.copytree(SUITE / "vectors", tmp_path / "vectors", ignore=lambda d, names: [
        n for n in names if n.startswith("meta-too-large")])
    manifest = json.loads(json.dumps(MANIFEST))
    manifest["vectors"] = [v for v in manifest["vectors"] if v["id"] == "tensor-float32-rank1"]
    manifest["vectors"][0]["expected"]["data_hex"] = "00" * 20
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    done = subprocess.run([_node(), "check.mjs", str(tmp_path)], cwd=JS, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "FAIL tensor-float32-rank1" in done.stdout
