"""The CSV bytes of one archive file: read from a path or handed in, unzipped, checksum-verified."""

from __future__ import annotations

import os
from pathlib import Path

from oiradar.errors import InputError
from oiradar.sources.decode.binance_archive.checksum import check_sha256
from oiradar.sources.decode.binance_archive.zipread import unzip_single

CsvInput = str | Path | bytes  # a path (zip or csv) or the bytes of one


def load_csv_bytes(
    source: CsvInput, name: str | None = None, *, verify: bool = True
) -> tuple[str, bytes]:
    """``(name, csv bytes)`` of a path (zip or csv) or raw bytes (zip or csv).

    A zip path's ``.CHECKSUM`` beside it is verified when ``verify`` is set.
    """
    verified = False
    if isinstance(source, bytes):
        label = name or "<bytes>"
        data = source
    else:
        path = os.fspath(source)
        label = name or os.path.basename(path)
        try:
            data = _read_file(path)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", file=path) from None
        verified = verify and _is_zip(data) and _verify_beside(path, data)
    if _is_zip(data):
        # a zip whose SHA-256 matched needs no second integrity check (its CRC-32)
        data = unzip_single(data, label, check_crc=not verified)
    return label, data


def _is_zip(data: bytes) -> bool:
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _verify_beside(path: str, data: bytes) -> bool:
    try:
        text = _read_file(path + ".CHECKSUM").decode("utf-8", "replace")
    except FileNotFoundError:
        return False
    check_sha256(data, text, os.path.basename(path))
    return True


def _read_file(path: str) -> bytes:
    """The whole file, read with ``os.read``: about half the time of ``open().read()`` for a
    small file (the buffered reader's set-up dominates), and a year of daily archive files is
    1,460 of them (zips and checksums)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size + 1)
        if len(data) != size:  # a short read, or a file that grew: read on to the end
            parts = [data]
            while chunk := os.read(fd, 1 << 20):
                parts.append(chunk)
            data = b"".join(parts)
        return data
    finally:
        os.close(fd)
