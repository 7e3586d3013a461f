"""OI analytics (SPEC section 2): numba kernels plus thin polars wrappers.

``compute_features(bars, timeframe, settings)`` returns the bars on a regular grid with every
feature column under its SPEC name; :func:`to_pandas` gives a pandas frame with a UTC index.
Each feature is one :class:`FeatureSpec` (:mod:`oiradar.features.spec`); a new one needs only
``register_feature(FeatureSpec(...))``. The kernel-level names below (input matrix, fused pass,
row constants, pooled matrices) are for :mod:`oiradar.signals`, which runs its states in the
same pass; :mod:`oiradar.features.kernels` is the library of numeric kernels.
"""

from oiradar.features.declared import declared_features
from oiradar.features.frame import (
    compute_features,
    compute_features_many,
    feature_frames,
    feature_inputs,
    feature_params,
    regular_grid,
    to_pandas,
    windows,
)
from oiradar.features.fused import PARALLEL_MIN_ROWS, feature_output, series_features
from oiradar.features.scratch import recycled, scratch_in
from oiradar.features.spec import (
    BOOL_FEATURES,
    FEATURE_COLUMNS,
    FEATURE_INDEX,
    FEATURE_ROW,
    INPUT_INDEX,
    INPUT_ROW,
    INPUTS,
    INT_FEATURES,
    LONG_MIRROR,
    N_FUSED,
    WINDOWS,
    FeatureSpec,
    FeatureType,
    feature_columns,
    feature_specs,
    register_feature,
    registered_feature,
    unregister_feature,
)

__all__ = [
    "BOOL_FEATURES",
    "FEATURE_COLUMNS",
    "FEATURE_INDEX",
    "FEATURE_ROW",
    "INPUTS",
    "INPUT_INDEX",
    "INPUT_ROW",
    "INT_FEATURES",
    "LONG_MIRROR",
    "N_FUSED",
    "PARALLEL_MIN_ROWS",
    "WINDOWS",
    "FeatureSpec",
    "FeatureType",
    "compute_features",
    "compute_features_many",
    "declared_features",
    "feature_columns",
    "feature_frames",
    "feature_inputs",
    "feature_output",
    "feature_params",
    "feature_specs",
    "recycled",
    "register_feature",
    "registered_feature",
    "regular_grid",
    "scratch_in",
    "series_features",
    "to_pandas",
    "unregister_feature",
    "windows",
]
