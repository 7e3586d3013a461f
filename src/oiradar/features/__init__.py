"""OI analytics (SPEC section 2): numba kernels plus thin polars wrappers.

``compute_features(bars, timeframe, settings)`` returns the bars on a regular grid with every
feature column under its SPEC name; :func:`to_pandas` gives a pandas frame with a UTC index.
"""

from oiradar.features.frame import (
    compute_features,
    compute_features_many,
    feature_params,
    regular_grid,
    to_pandas,
    windows,
)
from oiradar.features.fused import BOOL_FEATURES, FEATURE_COLUMNS, INT_FEATURES

__all__ = [
    "BOOL_FEATURES",
    "FEATURE_COLUMNS",
    "INT_FEATURES",
    "compute_features",
    "compute_features_many",
    "feature_params",
    "regular_grid",
    "to_pandas",
    "windows",
]
