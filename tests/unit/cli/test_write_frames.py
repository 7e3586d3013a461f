"""``features --out`` of every series, written batch by batch (``render.tables.write_frames``): the
file is the one the whole frame gave, whatever the batch size."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from oiradar.app.features import every_series_features
from oiradar.app.session import Session
from oiradar.cli.main import app
from oiradar.config import Settings
from oiradar.render.formats import TsFormat
from oiradar.render.tables import write_frame, write_frames
from tests.unit.app.test_batches import TF, write_home


def _frames() -> list[pl.DataFrame]:
    a = pl.DataFrame({"ts": [0, 3_600_000], "x": [1.5, None], "n": [1, 2]})
    b = pl.DataFrame({"ts": [7_200_000], "y": ["z"], "n": [3]})
    return [a, b, a.head(0)]


@pytest.mark.parametrize("name", ["out.csv", "out.parquet", "out.json"])
@pytest.mark.parametrize("ts", [TsFormat.MS, TsFormat.ISO])
def test_write_frames_writes_what_write_frame_writes(tmp_path: Path, name: str, ts: TsFormat):
    whole, parts = tmp_path / "whole" / name, tmp_path / "parts" / name
    whole.parent.mkdir()
    parts.parent.mkdir()
    write_frame(pl.concat(_frames(), how="diagonal_relaxed"), whole, ts=ts)
    assert write_frames(iter(_frames()), parts, ts=ts) == 3
    if name.endswith(".parquet"):
        assert pl.read_parquet(parts).equals(pl.read_parquet(whole))
    else:
        assert parts.read_bytes() == whole.read_bytes()
    assert [p.name for p in parts.parent.iterdir()] == [name]  # no part left behind


def test_features_out_is_the_same_for_every_batch_size(tmp_path: Path):
    home = write_home(tmp_path / "home")
    report = every_series_features(Session(Settings(), home), None, None, TF)
    want = pl.concat([r.frame.select(pl.lit(r.key.exchange).alias("exchange"),
                                     pl.lit(r.key.symbol).alias("symbol"), pl.all())
                      for r in report.results], how="diagonal_relaxed")  # fmt: skip
    for size in ("1", "4", "100"):
        out = tmp_path / f"f{size}.parquet"
        res = CliRunner().invoke(app, ["--home", str(home), "features", "-t", "1h", "--out",
                                       str(out), "--batch-size", size])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert "Wrote 7,200 bars x" in res.stdout and "of 6 series" in res.stdout
        assert pl.read_parquet(out).equals(want)
    one = tmp_path / "one.csv"
    res = CliRunner().invoke(app, ["--home", str(home), "features", "-t", "1h",
                                   "-s", "BBB/USDT:USDT", "--out", str(one)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Wrote 1,200 bars x" in res.stdout
    assert pl.read_csv(one).columns[:2] == ["ts", "open"]  # one series: no series columns
