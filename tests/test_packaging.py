"""The package as a user installs it: a wheel in a fresh venv, used from outside the source tree."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
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
    # Offline with the build requirements of pyproject.toml at hand (the dev extra), else as a user's pip does.
    isolation = [] if importlib.util.find_spec("setuptools_rust") is None else ["--no-build-isolation"]
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", *isolation, "-q",
                           "-w", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (found,) = out.glob("tensorcbor-*.whl")
    return found


def _venv(path: Path) -> Path:
    """A fresh venv (no system site-packages) that finds this environment's dependencies (numpy, ml_dtypes, ...)
    through a .pth line, but not its tensorcbor: the package under test is what gets installed into it."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    py = path / "bin" / "python"
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True,
                          capture_output=True, text=True).stdout.strip()
    parents = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "_deps.pth").write_text("\n".join(sorted(parents)) + "\n")
    return py


def _tag() -> str:
    """This interpreter's wheel tag prefix, e.g. cp311-cp311-linux."""
    impl = f"cp{sys.version_info.major}{sys.version_info.minor}"
    return f"{impl}-{impl}-{sys.platform}"


def test_wheel_ships_the_compiled_reader_license_and_both_suites(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not on PATH: the wheel is the pure-Python fallback (see the no-cargo test)")
    # A platform wheel: the compiled bundle reader is part of the one distribution.
    assert f"-{_tag()}" in wheel.name, wheel.name
    assert [n for n in names if n.startswith("tensorcbor/_native.") and n.endswith((".so", ".pyd"))], names
    assert "tensorcbor/_native.pyi" in names
    assert any(n.endswith("licenses/LICENSE") or n.endswith("/LICENSE") for n in names)
    for suite in ("v1", "stream-v1"):
        assert f"tensorcbor/suites/{suite}/manifest.json" in names
    assert "tensorcbor/suites/v1/vectors/meta-too-large.cbor.gz" in names
    assert wheel.stat().st_size < 4 << 20, f"wheel is {wheel.stat().st_size} bytes"


def test_sdist_without_cargo_installs_the_pure_reference(tmp_path: Path) -> None:
    """An sdist built here, installed where cargo is not on PATH: the optional extension is skipped, the
    package works and --version says it runs pure Python."""
    out = tmp_path / "dist"
    done = subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o", str(out), str(ROOT)],
                          capture_output=True, text=True)
    if done.returncode != 0 and "No module named build" in done.stderr:
        done = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(out)], cwd=ROOT,
                              capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    (sdist,) = out.glob("tensorcbor-*.tar.gz")
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
    assert any(m.endswith("bindings/python-accel/src/lib.rs") for m in members)
    assert any(m.endswith("bindings/rust/src/decode.rs") for m in members)
    assert not any("/target/" in m for m in members)
    venv = tmp_path / "venv"
    _venv(venv)
    no_cargo = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                               if not (Path(p) / "cargo").exists() and not (Path(p) / "rustc").exists())
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CARGO", "RUSTC")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{no_cargo}"
    # Build isolation, as a user's pip does: setuptools, wheel and setuptools-rust come from the index.
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                           "--disable-pip-version-check", str(sdist)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    version = subprocess.run([str(venv / "bin" / "tensorcbor"), "--version"], cwd=elsewhere, env=env,
                             capture_output=True, text=True, check=True).stdout
    assert "bundle reader: pure Python (this install has no compiled reader" in version, version
    check = subprocess.run([str(venv / "bin" / "python"), "-c", "import tensorcbor, numpy as np;"
                            "b = tensorcbor.encode_bundle({'a': np.arange(3.0)});"
                            "print(tensorcbor.__file__, tensorcbor.decode_bundle(b)['a'].tolist())"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout
    assert check.startswith(str(venv)) and check.strip().endswith("[0.0, 1.0, 2.0]"), check


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
    assert re.search(r"^wasmtime==", listed, re.M), listed  # the IC emulation is part of every install (issue 24)
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
    # The wheel holds the compiled bundle reader (when cargo was there to build it); the suite passes through it
    # and, switched off, through the pure-Python reference.
    if shutil.which("cargo") is not None:
        assert "bundle reader: compiled (Rust, tensorcbor._native" in version, version
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
    # A canister's own module, checked from this extra-free install (issue 24): both tensor-stores.
    sys.path.insert(0, str(ROOT / "examples"))
    import canisters

    for wasm in (canisters.build_rust_store(), canisters.build_motoko_store()):
        for suite in (("--profile", "core"), ("--suite", "stream")):
            done = run("conformance", "run", "--canister", str(wasm), *suite)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
            assert re.search(r"^total\s+\d+\s+0$", done.stdout, re.M) and "IC instructions:" in done.stdout, \
                done.stdout

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
