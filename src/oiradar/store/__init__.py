"""The store: every on-disk layout under the home, behind one API.

The catalog (Parquet partitions per (exchange, symbol, timeframe, month), queried with DuckDB), the
recorder's polls (:mod:`.recordings`) and the simulator's ground truth (:mod:`.groundtruth`). No
module outside ``store`` builds a path under the home.
"""

from oiradar.store.catalog import Catalog, WriteResult
from oiradar.store.groundtruth import (
    clear_ground_truth,
    ground_truth_dir,
    read_ground_truth_params,
    write_ground_truth,
)
from oiradar.store.recordings import (
    POLL_SCHEMA,
    append_polls,
    polls_dir,
    read_polls,
    recording_lock,
)
from oiradar.store.resample import resample_bars

__all__ = [
    "POLL_SCHEMA",
    "Catalog",
    "WriteResult",
    "append_polls",
    "clear_ground_truth",
    "ground_truth_dir",
    "polls_dir",
    "read_ground_truth_params",
    "read_polls",
    "recording_lock",
    "resample_bars",
    "write_ground_truth",
]
