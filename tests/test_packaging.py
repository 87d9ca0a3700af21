"""The package as a user installs it: a wheel in a fresh venv, used from outside the source tree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import tensorcbor

ROOT = Path(__file__).resolve().parent.parent
tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def test_license_is_apache_2_full_text() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text and "END OF TERMS" in text


def test_rust_crate_and_python_package_state_the_same_format_version() -> None:
    cargo = tomllib.loads((ROOT / "bindings/rust/Cargo.toml").read_text())
    meta = cargo["package"]["metadata"]["tensorcbor"]
    assert meta["format-version"] == tensorcbor.FORMAT_VERSION
    assert meta["spec-version"] == tensorcbor.SPEC_VERSION
    assert cargo["package"]["version"].split(".")[0] == tensorcbor.__version__.split(".")[0] == str(
        tensorcbor.FORMAT_VERSION)


def test_version_flag() -> None:
    out = subprocess.run([sys.executable, "-m", "tensorcbor", "--version"], capture_output=True, text=True,
                         check=True).stdout
    first, reader = out.strip().split("\n")
    assert first == (f"tensorcbor {tensorcbor.__version__} (format version {tensorcbor.FORMAT_VERSION}, "
                     f"SPEC.md {tensorcbor.SPEC_VERSION})")
    assert reader == f"bundle reader: {tensorcbor.accel.status()}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out)], check=True, capture_output=True)
    (found,) = out.glob("tensorcbor-*.whl")
    return found


def test_wheel_ships_license_and_both_suites_and_stays_small(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    # Pure Python: installs anywhere without a compiler; the compiled reader is a separate package.
    assert wheel.name.endswith("-py3-none-any.whl") and not any(n.endswith((".so", ".pyd")) for n in names)
    assert any(n.endswith("licenses/LICENSE") or n.endswith("/LICENSE") for n in names)
    for suite in ("v1", "stream-v1"):
        assert f"tensorcbor/suites/{suite}/manifest.json" in names
    assert "tensorcbor/suites/v1/vectors/meta-too-large.cbor.gz" in names
    assert wheel.stat().st_size < 3 << 20, f"wheel is {wheel.stat().st_size} bytes"


def test_installed_wheel_runs_the_suite_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    """A new user's install: an empty venv (none of this interpreter's packages) gets the wheel and exactly the
    dependencies it declares, from the package registry, with no extras."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    pip = subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stdout[-2000:] + pip.stderr[-2000:]
    listed = subprocess.run([py, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True).stdout
    assert not re.search(r"^(pytest|hypothesis|safetensors|onnx|gguf|torch|msgpack)==", listed, re.M), listed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TENSORCBOR_CONFORMANCE_SUITE")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(venv / "bin" / "tensorcbor"), *args], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=600)

    where = subprocess.run([py, "-c", "import tensorcbor, tensorcbor.conformance as c; print(tensorcbor.__file__);"
                            "print(c.find_suite()); print(c.find_suite(name='stream-v1'))"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(p.startswith(str(venv)) for p in where), where  # the package and its suites come from the wheel
    version = run("--version").stdout
    assert version.startswith(f"tensorcbor {tensorcbor.__version__} ")
    # The compiled bundle reader runs exactly when the wheel carries it; the suite passes through it and, switched
    # off, through the pure-Python readers.
    compiled = any(n.endswith((".so", ".pyd")) for n in zipfile.ZipFile(wheel).namelist())
    assert ("bundle reader: tensorcbor-accel" in version) == compiled, version
    for switch in ({}, {"TENSORCBOR_NO_ACCEL": "1"}):
        env.update(switch)
        done = run("conformance", "run")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr
        assert re.search(r"total\s+\d+\s+0$", done.stdout.strip()), done.stdout[-500:]
        assert "suites/v1" in done.stdout.splitlines()[0]
    assert "bundle reader: off (TENSORCBOR_NO_ACCEL is set)" in run("--version").stdout
    env.pop("TENSORCBOR_NO_ACCEL")
    big = run("conformance", "run", "--id", "meta-too-large")  # stored gzip-compressed, checked by its sha256
    assert big.returncode == 0 and "total" in big.stdout, big.stdout + big.stderr
    demo = run("demo")  # the README's main job, from the installed wheel, conformance suite included
    assert demo.returncode == 0 and re.search(r"(\d+)/\1 vectors pass", demo.stdout), demo.stdout[-1500:] + demo.stderr
    unknown = run("conformance", "check", "no-such-vector", "x.hex")
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr and "no-such-vector" in unknown.stderr
    stream = run("conformance", "run", "--suite", "stream")
    assert stream.returncode == 0 and re.search(r"total\s+\d+\s+0$", stream.stdout.strip()), stream.stdout[-800:]

    # What the README shows, with no extras: files, lazy layout, chunked streams, the extra-free converters.
    made = subprocess.run([py, "-c", "import numpy as np, ml_dtypes, tensorcbor as t; "
                           "t.save_file({'w': np.ones((4, 4), ml_dtypes.bfloat16), 'b': np.arange(3.0)}, 'm.tcb', "
                           "metadata={'step': 1}); t.save_file({'b': np.arange(3.0)}, 'f.tcb'); "
                           "b = t.load_file('m.tcb'); print(b['w'].dtype, b.metadata); "
                           "print([e.name for e in t.read_layout('m.tcb')])"],
                          cwd=elsewhere, env=env, capture_output=True, text=True)
    assert made.returncode == 0 and "bfloat16 {'step': 1}" in made.stdout, made.stdout + made.stderr
    for args in (("inspect", "m.tcb"), ("chunk", "m.tcb", "m.chunks"), ("join", "m.chunks", "j.tcb"),
                 ("convert", "f.tcb", "f.npz"), ("convert", "m.tcb", "m.safetensors"),
                 ("convert", "m.tcb", "m.gguf")):
        done = run(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert (elsewhere / "j.tcb").read_bytes() == (elsewhere / "m.tcb").read_bytes()
    for src, out, extra in (("m.tcb", "m.msgpack", "msgpack"), ("m.gguf", "g.tcb", "gguf")):  # libraries in extras
        refused = run("convert", src, out)
        assert refused.returncode == 1 and f"pip install 'tensorcbor[{extra}]'" in refused.stderr, refused.stderr
