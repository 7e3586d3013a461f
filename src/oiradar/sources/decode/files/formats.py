"""Which parser reads which file: the format names, the registry, and the walk over the paths given.

Directories are walked recursively in sorted order; hidden entries, checksums (verified beside
their zip), pipes and unrecognised files inside folders are skipped with the reason. A file named
on its own must be recognised (or carry a ``.csv``/``.parquet`` suffix), else the error says
which ``--format`` values exist.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from oiradar.errors import InputError
from oiradar.sources.decode.files.base import ImportOptions, ParsedFile
from oiradar.sources.decode.files.detect import detect_format

Parser = Callable[[Path, ImportOptions], ParsedFile]

FORMAT_NAMES = (
    "auto", "csv", "parquet", "binance-archive", "freqtrade", "coinalyze", "binance-json",
    "bybit-kline", "close-only", "binance-liquidations", "hyperliquid", "polls",
)  # fmt: skip


def parser_for(name: str) -> Parser:
    """The parser of a format (imported lazily so one broken parser cannot break the others)."""
    from oiradar.sources.decode.files import (
        archive,
        binance_json,
        coinalyze,
        freqtrade,
        generic,
        liquidations,
        polls,
        prices,
    )

    parsers: dict[str, Parser] = {
        "csv": generic.parse_generic,
        "parquet": generic.parse_generic,
        "binance-archive": archive.parse_archive,
        "freqtrade": freqtrade.parse_freqtrade,
        "coinalyze": coinalyze.parse_coinalyze,
        "binance-json": binance_json.parse_binance_json,
        "bybit-kline": prices.parse_bybit_kline,
        "close-only": prices.parse_close_only,
        "binance-liquidations": liquidations.parse_binance_liquidations,
        "hyperliquid": liquidations.parse_hyperliquid,
        "polls": polls.parse_polls,
    }
    return parsers[name]


def check_format(fmt: str) -> None:
    if fmt not in FORMAT_NAMES:
        raise InputError(f"unknown format {fmt!r}; use one of: {', '.join(FORMAT_NAMES)}")


def plan_files(
    paths: Iterable[str | Path], opts: ImportOptions, skipped: dict[str, str]
) -> Iterator[tuple[Path, str]]:
    """(file, format name) for every file to parse; ``skipped`` gets the others with the reason."""
    for given in paths:
        root = given if isinstance(given, Path) else Path(given)
        if str(root).startswith("~"):
            root = root.expanduser()
        try:  # one stat per path: a year of daily files is 730 of them
            mode = root.stat().st_mode
        except OSError:
            raise InputError(f"no such file or directory: {root}", file=str(root)) from None
        if stat.S_ISDIR(mode):
            yield from _plan_folder(root, opts, skipped)
            continue
        if not stat.S_ISREG(mode):  # opening a named pipe would wait for a writer forever
            raise InputError(
                f"not a regular file ({_kind_of(mode)}): give a file or a folder", file=str(root)
            )
        name = _format_for(root, opts, explicit=True)
        if name is not None and name.startswith("skip:"):
            skipped[str(root)] = name[5:]
            continue
        assert name is not None
        yield root, name


def _plan_folder(
    root: Path, opts: ImportOptions, skipped: dict[str, str]
) -> Iterator[tuple[Path, str]]:
    for path in sorted(p for p in root.rglob("*") if not p.is_dir()):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if not path.is_file():  # a pipe, socket or device (or a broken link)
            skipped[str(path)] = "not a regular file"
            continue
        if path.name.endswith(".CHECKSUM"):  # verified beside its zip, never parsed
            skipped[str(path)] = "checksum (verified beside its zip)"
            continue
        name = _format_for(path, opts, explicit=False)
        if name is None or name.startswith("skip:"):
            skipped[str(path)] = name[5:] if name else "unrecognised format"
            continue
        yield path, name


_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _kind_of(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a file")


def _format_for(path: Path, opts: ImportOptions, *, explicit: bool) -> str | None:
    if opts.fmt != "auto":
        return opts.fmt
    name = detect_format(path)
    if name is None and explicit:
        suffix = path.suffix.lower()
        if suffix in (".csv", ".txt"):
            return "csv"  # the generic parser names what is missing
        if suffix in (".parquet", ".feather"):
            return "parquet"
        raise InputError(
            f"cannot tell this file's format; pass --format (one of {', '.join(FORMAT_NAMES[1:])})",
            file=str(path),
        )
    return name
