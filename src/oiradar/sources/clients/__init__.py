"""The network layer: ccxt REST (:mod:`.rest`), the archive over HTTP (:mod:`.archive`),
websocket streams (:mod:`.stream`), with retries, backoff and rate limits (:mod:`.retry`).

Clients return what the decoders make of a payload; they never write the store. Submodules are
imported where used: importing this package loads neither ccxt nor httpx.
"""
