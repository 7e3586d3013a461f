"""The README's tour prints what tests/golden/ holds (``scripts/golden_tour.py`` writes both).

A change of what the CLI shows is either a regression or deliberate: when deliberate, rewrite the
goldens with ``python scripts/golden_tour.py --update`` and review the diff like code.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
SCRIPT = ROOT / "scripts" / "golden_tour.py"


@pytest.mark.slow
def test_tour_matches_the_goldens(tmp_path: Path) -> None:
    out = tmp_path / "tour"
    res = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)], capture_output=True, text=True, check=False,
        timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    expected = {p.name for p in GOLDEN.glob("*.txt")}
    got = {p.name for p in out.glob("*.txt")}
    assert got == expected, f"tour files differ: {sorted(got ^ expected)}"
    diffs = [_diff(GOLDEN / name, out / name) for name in sorted(expected)]
    diffs = [d for d in diffs if d]
    hint = "\nIf the change is deliberate: python scripts/golden_tour.py --update"
    assert not diffs, "\n".join(diffs) + hint


def _diff(golden: Path, got: Path) -> str:
    a = golden.read_text(encoding="utf-8").splitlines(keepends=True)
    b = got.read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, f"golden/{golden.name}", f"now/{got.name}"))
