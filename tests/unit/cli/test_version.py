"""`oiradar --version` prints the installed version (what bug reports quote)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import oiradar

ROOT = Path(__file__).resolve().parents[3]


def test_version_flag_prints_the_package_version() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from oiradar.cli.main import main; main()", "--version"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"oiradar {oiradar.__version__}"


def test_one_version_everywhere() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert oiradar.__version__ == declared == version("oiradar")
