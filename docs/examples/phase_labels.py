"""How good are the phase labels? Score them against the simulator's regimes (docs/analysis.md).

    python docs/examples/phase_labels.py --home /tmp/dh        # the demo catalog

For each label and timeframe: bars labelled, precision (the share of them in that regime), the
regime's base rate over all labelled bars, and recall (the share of the regime's bars so labelled).
The regime compared is the one in force at the bar's close; the bars carry the simulated
liquidations, as ``oiradar features`` attaches them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from oiradar import Catalog, SeriesKey, Settings
from oiradar.features import compute_features
from oiradar.model import Timeframe
from oiradar.signals import signal_states, with_liquidations
from oiradar.store import ground_truth_dir

LABELS = ("breakout", "distribution", "cascade", "accumulation")


def labels_and_truth(cat: Catalog, tf: Timeframe) -> pl.DataFrame:
    """One row per complete bar: its ``phase`` label and the ``regime`` in force at its close."""
    key = SeriesKey(exchange="sim", symbol="KSM/USDT:USDT", timeframe=tf)
    feats = compute_features(with_liquidations(cat, key, cat.read_bars(key)), tf, Settings())
    labels = signal_states(feats, tf, Settings()).select("ts", "phase").drop_nulls()
    regimes = pl.read_parquet(ground_truth_dir(cat, "sim", "KSM/USDT:USDT") / "regimes.parquet")
    truth = regimes.group_by((pl.col("ts") - pl.col("ts") % tf.ms).alias("ts")).agg(
        pl.col("regime").sort_by("ts").last()
    )
    return labels.join(truth, on="ts")


def score(both: pl.DataFrame, label: str) -> str:
    """``bars labelled, precision (base rate), recall`` of one label."""
    n = both.height
    labelled = both.filter(pl.col("phase") == label)
    in_regime = both.filter(pl.col("regime") == label).height
    hits = labelled.filter(pl.col("regime") == label).height
    precision = f"{hits / labelled.height:.2f}" if labelled.height else "-"
    recall = f"{hits / in_regime:.2f}" if in_regime else "-"
    return f"{labelled.height}, {precision} ({in_regime / n:.2f}), {recall}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="a catalog holding the demo")
    cat = Catalog(parser.parse_args().home)
    both = {tf: labels_and_truth(cat, tf) for tf in (Timeframe.H1, Timeframe.H4)}
    print("label          1h: bars labelled, precision (base rate), recall   4h: the same")
    for label in LABELS:
        print(
            f"{label:<14} {score(both[Timeframe.H1], label):<48} {score(both[Timeframe.H4], label)}"
        )


if __name__ == "__main__":
    main()
