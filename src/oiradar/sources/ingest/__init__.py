"""The ingest layer, the only code that writes the store from a source.

:mod:`.fetch` (history from REST and the archive, planned by :mod:`.plan`), :mod:`.record` (live
polls and liquidations), :mod:`.imports` (files users have) and :mod:`.coinm` (COIN-M ``oi`` of
imported bars). Each decodes through :mod:`oiradar.sources.decode`, talks to the network through
:mod:`oiradar.sources.clients` and writes through :mod:`oiradar.store`.
"""
