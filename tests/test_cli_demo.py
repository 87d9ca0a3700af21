"""The README's main job, `tensorcbor demo`, runs and reports success in every section."""

from __future__ import annotations

import re
import subprocess
import sys


def test_demo_runs_and_every_check_holds() -> None:
    result = subprocess.run([sys.executable, "-m", "tensorcbor", "demo"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for section in ("== 1.", "== 2.", "== 3.", "== 4.", "== 5."):
        assert section in out
    assert "False" not in out, out
    assert "this is a bug" not in out
    assert "CHUNK_DIGEST_MISMATCH" in out
    passed, total = map(int, re.search(r"(\d+)/(\d+) vectors pass", out).groups())  # type: ignore[union-attr]
    assert passed == total >= 1000
