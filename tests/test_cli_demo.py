"""The README's main job, `tensorcbor demo`, runs and reports success in every section."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np

from tensorcbor.cli.demo import minilm_weights


def test_demo_runs_and_every_check_holds() -> None:
    result = subprocess.run([sys.executable, "-m", "tensorcbor", "demo"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for section in ("== 1.", "== 2.", "== 3.", "== 4.", "== 5.", "== 6."):
        assert section in out
    assert "False" not in out, out
    assert "this is a bug" not in out
    assert "CHUNK_DIGEST_MISMATCH" in out
    for row in (".tcb (tensorcbor)", ".safetensors", ".npy (103 files)"):  # sizes and times side by side
        assert re.search(rf"{re.escape(row)}\s+[\d.,]+ MiB\s+[\d.,]+ (ms|µs)\s+[\d.,]+ (ms|µs)", out), row
    assert "safetensors -> .tcb -> safetensors byte-identical: True" in out
    assert re.search(r"bfloat16 \[384, 384\], 288.0 KiB at byte offset \d+", out)  # the lazy load of one layer
    chunks = int(re.search(r"\+ (\d+) chunks of at most 1,900,000 bytes", out).group(1))  # type: ignore[union-attr]
    assert 20 <= chunks <= 30  # 43 MiB in 2 MiB ingress messages
    passed, total = map(int, re.search(r"(\d+)/(\d+) vectors pass", out).groups())  # type: ignore[union-attr]
    assert passed == total >= 1000


def test_demo_model_has_minilm_shapes() -> None:
    w = minilm_weights()
    assert len(w) == 103 and sum(a.size for a in w.values()) == 22_713_216
    assert w["embeddings.word_embeddings.weight"].shape == (30522, 384)
    assert w["encoder.layer.5.intermediate.dense.weight"].shape == (1536, 384)
    assert {a.dtype.name for a in w.values()} == {"bfloat16", "float32"}
    assert all(a.dtype == np.float32 for n, a in w.items() if n.endswith("bias"))
