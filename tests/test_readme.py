"""The README's usage example runs and prints what its comments say."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_usage_example_runs_as_documented(tmp_path: Path) -> None:
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)  # type: ignore[union-attr]
    expected = [c.strip() for line in code.splitlines() if "print(" in line
                for c in [line.split("#", 1)[1]]]
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert out.getvalue().splitlines() == expected


def test_readme_leads_with_the_two_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)  # type: ignore[union-attr]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[all]' && tensorcbor demo",
                        "bash scripts/test-all.sh"]
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    # CI runs exactly these: it reads them from this block and runs command 1, then command 2 in the same shell
    assert 'open("README.md"' in ci and 'eval "${commands[0]}"' in ci and 'eval "${commands[1]}"' in ci
