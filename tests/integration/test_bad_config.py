"""Bad configurations through the real ``oiradar`` command: exit 2, one clear line, no traceback.

Each row writes ``<home>/oiradar.toml`` (or passes ``--config``) and environment overrides, runs
``oiradar --home H list`` in a subprocess and checks the exit code and that the message names the
key and the value (or the file and the byte).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

OIRADAR = str(Path(sys.executable).parent / "oiradar")


@dataclass(frozen=True)
class Row:
    id: str
    toml: bytes | None = None  # written to <home>/oiradar.toml; None: no file
    env: dict[str, str] = field(default_factory=dict)
    config: str | None = None  # --config, relative to tmp_path
    code: int = 2
    needles: tuple[str, ...] = ()


ROWS = [
    Row("unknown key", b"[signals]\ndivergance_dd = 0.2\n",
        needles=("'signals.divergance_dd'", "did you mean 'signals.divergence_dd'")),
    Row("unknown section", b"[signal]\noi_z_alert = 3\n",
        needles=("unknown configuration key 'signal'", "did you mean 'signals'")),
    Row("wrong type", b'[fetch]\nretries = "many"\n', needles=("fetch.retries", "'many'")),
    Row("not utf-8", b"[fetch]\ntimeout = 5\n# \xff\n",
        needles=("oiradar.toml is not UTF-8 text (byte 22, line 3",)),
    Row("invalid toml", b"[fetch]\ntimeout = = 5\n",
        needles=("oiradar.toml: invalid TOML", "line 2")),
    Row("inf", b"[fetch]\ntimeout = inf\n",
        needles=("fetch.timeout", "finite number", "got inf")),
    Row("nan", b"[backtest]\nrisk = nan\n", needles=("backtest.risk", "got nan")),
    Row("negative timeout", b"[fetch]\ntimeout = -3.0\n",
        needles=("fetch.timeout", "greater than 0", "got -3.0")),
    Row("bad duration", b'[features]\nz_window = "30 days"\n',
        needles=("features.z_window", "invalid duration '30 days'")),
    Row("bad env value", env={"OIRADAR__FETCH__TIMEOUT": "soon"},
        needles=("fetch.timeout", "'soon'", "OIRADAR__FETCH__TIMEOUT")),
    Row("env inf", env={"OIRADAR__SIGNALS__OI_Z_ALERT": "inf"},
        needles=("signals.oi_z_alert", "got inf", "OIRADAR__SIGNALS__OI_Z_ALERT")),
    Row("unknown env key", env={"OIRADAR__FETCH__TIMOUT": "3"},
        needles=("'fetch.timout'", "OIRADAR__FETCH__TIMOUT", "did you mean 'fetch.timeout'")),
    Row("unknown env section", env={"OIRADAR__FECTH__TIMEOUT": "3"},
        needles=("'fecth'", "OIRADAR__FECTH__TIMEOUT", "did you mean 'fetch'")),
    Row("bad per-symbol env value",
        env={"OIRADAR__SYMBOLS__KSM/USDT:USDT__SIGNALZ__DIVERGENCE_DD": "0.2"},
        needles=("'symbols.KSM/USDT:USDT.signalz'", "did you mean")),
    Row("empty file", b"", code=0),
    Row("per-symbol env override", env={
        "OIRADAR__SYMBOLS__KSM/USDT:USDT__SIGNALS__DIVERGENCE_DD": "0.2"}, code=0),
    Row("config is a directory", config=".", needles=("is a directory",)),
    Row("config is missing", config="nope.toml", needles=("nope.toml does not exist",)),
    Row("secrets readable by others", b'[alerts]\ntelegram_token = "x"\n',
        needles=("holds secrets", "chmod 600")),
]  # fmt: skip


def _oiradar(home: Path, row: Row, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OIRADAR")}
    args = [OIRADAR, "--home", str(home)]
    if row.config is not None:
        args += ["--config", str(tmp_path / row.config)]
    return subprocess.run(
        [*args, "list"], env={**env, **row.env, "COLUMNS": "300"}, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_a_bad_config_is_one_clear_error(tmp_path: Path, row: Row) -> None:
    home = tmp_path / "home"
    home.mkdir()
    if row.toml is not None:
        (home / "oiradar.toml").write_bytes(row.toml)
        (home / "oiradar.toml").chmod(0o644)
    res = _oiradar(home, row, tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == row.code, out
    assert "Traceback" not in out
    if row.code == 2:
        assert res.stderr.startswith("error: "), out
        flat = " ".join(res.stderr.split())  # rich may wrap a long line
        for needle in row.needles:
            assert needle in flat, (needle, res.stderr)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_an_unreadable_config_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "oiradar.toml"
    path.write_text("[fetch]\ntimeout = 5\n")
    path.chmod(0)
    res = _oiradar(tmp_path, Row("unreadable", config="oiradar.toml"), tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"cannot read config file {path}: Permission denied" in res.stderr
