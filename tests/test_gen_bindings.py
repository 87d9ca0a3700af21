"""The bindings' dtype tables are generated from src/tensorcbor/dtypes.py and must be current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import gen_bindings  # noqa: E402

from tensorcbor import TABLE  # noqa: E402


def test_generated_files_are_current() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "scripts/gen_bindings.py"), "--check"], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr


def test_rust_table_has_every_row() -> None:
    text = gen_bindings.emit_rust(gen_bindings.rows())
    for d in TABLE:
        assert f"    {gen_bindings.rust_variant(d.name)} = {d.code}," in text
        assert f'name: "{d.name}",' in text
    assert "#[repr(u16)]" in text
    assert all(d.code <= 65535 for d in TABLE)


def test_variant_names() -> None:
    assert gen_bindings.rust_variant("float8_e4m3fn") == "Float8E4m3fn"
    assert gen_bindings.rust_variant("q8_0") == "Q8_0"
    assert gen_bindings.rust_variant("complex32") == "Complex32"


def test_check_detects_a_stale_file(tmp_path: Path, monkeypatch) -> None:
    stale = tmp_path / "dtype_table.rs"
    stale.write_text("// old\n", encoding="utf-8")
    monkeypatch.setitem(gen_bindings.EMITTERS, "rust", (str(stale), gen_bindings.emit_rust))
    monkeypatch.setattr(gen_bindings, "ROOT", Path("/"))
    assert gen_bindings.main(["--check"]) == 1
    assert gen_bindings.main([]) == 0 and gen_bindings.main(["--check"]) == 0
