"""Start-up cost (issue 17): commands import only what they use; ml_dtypes (~0.8 s) only when a dtype needs it."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file as st_save_file

import tensorcbor.cli as cli

ROOT = Path(__file__).resolve().parent.parent

_PROBE = """
import sys
from tensorcbor.cli import main
code = main(sys.argv[1:])
print("ML_DTYPES_IMPORTED" if "ml_dtypes" in sys.modules else "ML_DTYPES_ABSENT")
sys.exit(code)
"""


def _run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-c", _PROBE, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_version_inspect_and_float32_conversion_do_not_import_ml_dtypes(tmp_path: Path) -> None:
    st_save_file({"w": np.ones((4, 4), np.float32), "b": np.zeros(4, np.float32)}, str(tmp_path / "m.safetensors"))
    for args in (("convert", "m.safetensors", "m.tcb"), ("inspect", "m.tcb"), ("inspect", "m.safetensors")):
        assert _run(*args, cwd=tmp_path).endswith("ML_DTYPES_ABSENT\n"), args
    # --version exits inside argparse: check its imports in a child of its own
    probe = ("import sys\ntry:\n    from tensorcbor.cli import main; main(['--version'])\nexcept SystemExit:\n"
             "    pass\nprint(*(m in sys.modules for m in ('ml_dtypes', 'tensorcbor.codec', 'tensorcbor.convert')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT / "src")}).stdout
    assert out.splitlines()[-1] == "False False False", out


def test_a_bfloat16_file_still_loads_ml_dtypes_on_demand(tmp_path: Path) -> None:
    import ml_dtypes

    import tensorcbor

    tensorcbor.save_file({"w": np.ones(3, ml_dtypes.bfloat16)}, tmp_path / "b.tcb")
    out = _run("inspect", "b.tcb", cwd=tmp_path)
    assert "bfloat16" in out


def test_the_command_table_names_the_module_that_registers_each_command() -> None:
    registered: dict[str, str] = {}
    for info in pkgutil.iter_modules(cli.__path__):
        module = importlib.import_module(f"tensorcbor.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is None:
            continue
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        register(sub)
        registered.update(dict.fromkeys(sub.choices, info.name))
    assert registered == cli.COMMANDS
