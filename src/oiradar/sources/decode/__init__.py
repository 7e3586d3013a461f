"""The decoding layer: wire and file formats -> types that mirror them -> canonical domain frames.

Pure: no network and no writes; a parser reads only the input it is handed (bytes, a payload, or
the file a user named). :mod:`.venues` (REST call plans and payload decoding per venue),
:mod:`.binance_archive` (data.binance.vision files) and :mod:`.files` (files users already have).
Nothing here imports ccxt or httpx.
"""
