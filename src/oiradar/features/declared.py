"""Registered features: each one computed by its own declared kernel, after the fused pass.

For each :class:`~oiradar.features.spec.FeatureSpec` whose kernel is a function, series by series:
its inputs by name (read-only float64 views, NaN = missing: rows of the kernels' input matrix,
rows of the features before it, or other bar columns of the grid) and its windows in bars go in,
the series' values come out and fill the feature's row. Plain Python around the kernel: a
declared kernel may itself be numba, numpy or anything that returns one value per bar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from oiradar.features.spec import INPUT_INDEX, PARAM_INDEX, FeatureSpec


def declared_features(
    grids: Sequence[pl.DataFrame],
    x: np.ndarray,
    offsets: np.ndarray,
    params: np.ndarray,
    out: np.ndarray,
    specs: Sequence[FeatureSpec],
) -> None:
    """Fill the rows of ``out`` (one per spec, in order) of the specs the fused pass skips."""
    rows = {spec.name: i for i, spec in enumerate(specs)}
    for spec in specs:
        kernel = spec.kernel
        if isinstance(kernel, str):  # a built-in: the fused pass wrote it
            continue
        for s, grid in enumerate(grids):
            a, b = int(offsets[s]), int(offsets[s + 1])
            cols = {c: _input(c, grid, x[:, a:b], out[:, a:b], rows) for c in spec.inputs}
            wins = {w: int(params[s, PARAM_INDEX[w]]) for w in spec.windows}
            out[rows[spec.name], a:b] = _values(spec, kernel(cols, wins), b - a)


def _input(
    name: str, grid: pl.DataFrame, x: np.ndarray, feats: np.ndarray, rows: Mapping[str, int]
) -> np.ndarray:
    """One series' column ``name``, read-only: a declared kernel cannot change another's input."""
    if name in INPUT_INDEX:
        col = x[INPUT_INDEX[name]]
    elif name in rows:
        col = feats[rows[name]]
    elif name in grid.columns:
        col = grid[name].cast(pl.Float64).to_numpy()  # nulls become NaN
    else:
        col = np.full(grid.height, np.nan)
    view = col.view()
    view.flags.writeable = False
    return view


def _values(spec: FeatureSpec, result: object, n: int) -> np.ndarray:
    values = np.asarray(result, dtype=np.float64)
    if values.shape != (n,):
        raise ValueError(
            f"feature {spec.name!r}: its kernel returned shape {values.shape}, need ({n},)"
        )
    return values
