"""Keep polars' freed memory mapped for a while (decision 0307). Imported first by ``oiradar``.

polars configures its jemalloc to hand freed memory back to the OS within 0.5-1 s
(``dirty_decay_ms:500,muzzy_decay_ms:1000``), so a repeated analysis faults the memory of its big
frames in again on every call. With 10 s instead, back-to-back calls reuse it: on the
development VM the feature frames of 100 series x 1 year of 5-minute bars took a steady
0.09-0.10 s instead of 0.11-0.36 s, and a whole ``analyse_many`` call 0.48-0.50 s instead of
0.49-0.76 s (``bench/README.md``).

jemalloc reads ``_RJEM_MALLOC_CONF`` once, when polars loads: this has no effect in a process
that imported polars before oiradar (set the variable yourself there). A value you set wins; the
value polars itself writes into the environment (inherited by child processes) does not count
as yours.
"""

from __future__ import annotations

import os
import sys

ENV = "_RJEM_MALLOC_CONF"
POLARS_MALLOC_CONF = "dirty_decay_ms:10000,muzzy_decay_ms:10000"
_POLARS_OWN = {"dirty_decay_ms:500", "muzzy_decay_ms:1000"}  # what polars/__init__.py writes


def keep_freed_memory() -> bool:
    """Set :data:`POLARS_MALLOC_CONF` unless polars is loaded or the variable holds a setting of
    the user's. Returns whether it applies to this process's polars."""
    current = os.environ.get(ENV)
    if "polars" not in sys.modules and (current is None or set(current.split(",")) <= _POLARS_OWN):
        os.environ[ENV] = POLARS_MALLOC_CONF
    return os.environ.get(ENV, "").endswith(POLARS_MALLOC_CONF)


keep_freed_memory()
