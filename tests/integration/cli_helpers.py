"""Run the real ``oiradar`` entry point in a subprocess and check how it refuses bad input.

Shared by the tables of refused inputs (files, config): each row runs :func:`run_cli` and then
:func:`assert_refused`; :func:`snapshot` tells whether the catalog changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# The console script's own entry (``main`` turns an OiradarError into exit code 2).
OIRADAR = (sys.executable, "-c", "from oiradar.cli.main import main; main()")
LOCK_NAMES = (".lock", ".locks")  # lock files are created by any writer, even one that fails


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(
    args: Sequence[str], home: Path, *, timeout: float = 120, env: dict[str, str] | None = None
) -> CliResult:
    """``oiradar --home HOME ARGS...`` in a fresh process (no terminal, wide lines)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OIRADAR")}
    environ.update({"COLUMNS": "250", "NO_COLOR": "1", **(env or {})})
    res = subprocess.run(
        [*OIRADAR, "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=environ,
        stdin=subprocess.DEVNULL,
    )
    return CliResult(res.returncode, res.stdout, res.stderr)


def assert_refused(result: CliResult, fragments: Sequence[str], absent: Sequence[str] = ()) -> None:
    """Exit code 2, an ``error:`` line naming every fragment, and never a traceback."""
    shown = f"exit {result.code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert "Traceback" not in result.output, shown
    assert result.code == 2, shown
    assert "error:" in result.stderr, shown
    missing = [f for f in fragments if f not in result.stderr]
    assert not missing, f"missing {missing} in the message\n{shown}"
    present = [f for f in absent if f in result.output]
    assert not present, f"{present} should not be shown\n{shown}"


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden temporaries too) with its SHA-256, lock files aside."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not set(p.relative_to(root).parts) & set(LOCK_NAMES)
    }
