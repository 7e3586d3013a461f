"""The one CSV inside an archive zip, read safely and fast.

Refused: escaping member paths, extra members, and zip bombs (the size limit holds on the bytes
actually inflated, not on what the headers claim). The common case is read straight from the
central directory and inflated with ISA-L or zlib-ng when present (decision 0201).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Any, cast

from oiradar.errors import InputError

_MAX_MEMBER_BYTES = 1 << 30


def _unsafe_member(member: str) -> bool:
    """An absolute path, a drive, or a ``..`` part (string checks: pathlib is slow per file)."""
    parts = member.replace("\\", "/").split("/")
    return member.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]


def unzip_single(data: bytes, name: str, *, check_crc: bool = True) -> bytes:
    """The one CSV inside an archive zip; refuses escaping paths, extra members, bombs.

    The common case (one member, no archive comment) is read straight from the central
    directory and inflated with ISA-L (``isal``) or zlib-ng when present (2.5x, 1.8x zlib),
    with its CRC-32 checked; anything unusual goes through :mod:`zipfile` (decision 0201).
    """
    fast = _unzip_fast(data, name, check_crc)
    return fast if fast is not None else _unzip_zipfile(data, name)


def _unzip_fast(data: bytes, name: str, check_crc: bool = True) -> bytes | None:
    if len(data) < 98 or data[-22:-18] != b"PK\x05\x06":
        return None
    _disk, _cd_disk, _n_here, n_total, cd_size, cd_off, comment = _EOCD.unpack(data[-18:])
    if n_total != 1 or comment or cd_off + cd_size > len(data) - 22:
        return None
    cd = data[cd_off : cd_off + cd_size]
    if cd[:4] != b"PK\x01\x02" or len(cd) < 46:
        return None
    method, crc, csize, usize, nlen, _elen, _clen, local = _CDIR.unpack(
        cd[10:12] + cd[16:34] + cd[42:46]
    )
    member = cd[46 : 46 + nlen].decode("utf-8", "replace")
    if _unsafe_member(member) or member.endswith("/") or usize > _MAX_MEMBER_BYTES:
        return None
    if data[local : local + 4] != b"PK\x03\x04":
        return None
    lnlen, lelen = _LOCAL.unpack(data[local + 26 : local + 30])
    start = local + 30 + lnlen + lelen
    raw = data[start : start + csize]
    if method == zipfile.ZIP_STORED:
        out = raw
    elif method == zipfile.ZIP_DEFLATED:
        out = _inflate_capped(raw, usize, name)
    else:
        return None
    if len(out) != usize or (check_crc and zlib.crc32(out) != crc):
        raise InputError("damaged zip: size or CRC-32 of the CSV does not match", file=name)
    return out


def _inflate_capped(raw: bytes, usize: int, name: str) -> bytes:
    """Inflate the raw deflate stream ``raw`` into at most ``usize + 1`` bytes.

    ``usize`` is what the zip's header claims (already checked against the limit); a stream that
    inflates past it, a zip bomb, is refused once one byte more has come out, never inflated whole.
    """
    inflater = _inflate(-15)
    try:
        out = inflater.decompress(raw, usize + 1)  # max_length 0 would mean no limit: never 0
    except _INFLATE_ERRORS as exc:
        raise InputError(f"damaged zip: {exc}", file=name) from None
    if len(out) > usize:
        raise InputError(_too_big(f"the {usize} bytes its zip header states"), file=name)
    if not inflater.eof:
        raise InputError("damaged zip: the compressed CSV ends too early", file=name)
    return out


def _too_big(limit: str) -> str:
    return (
        f"the CSV inflates to more than {limit}; refused (a zip bomb or a damaged file: "
        "download it again)"
    )


def _unzip_zipfile(data: bytes, name: str) -> bytes:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError(f"not a readable zip file: {exc}", file=name) from None
    with zf:
        members = zf.infolist()
        if len(members) != 1:
            listing = [m.filename for m in members][:5]
            raise InputError(
                f"expected one CSV inside the zip, found {len(members)}: {listing}", file=name
            )
        member = members[0]
        if _unsafe_member(member.filename) or member.is_dir():
            raise InputError(
                "zip member path escapes the folder; refused", file=name, value=member.filename
            )
        if member.file_size > _MAX_MEMBER_BYTES:
            raise InputError(
                f"zip member is {member.file_size} bytes uncompressed; refused", file=name
            )
        try:
            with zf.open(member) as f:
                return _read_capped(f, name)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise InputError(f"damaged zip: {exc}", file=name) from None


def _read_capped(f: IO[bytes], name: str) -> bytes:
    """All of ``f`` in 1 MiB reads, refused as soon as more than the limit has been inflated."""
    chunks: list[bytes] = []
    total = 0
    while chunk := f.read(1 << 20):
        total += len(chunk)
        if total > _MAX_MEMBER_BYTES:
            raise InputError(
                _too_big(f"{_MAX_MEMBER_BYTES} bytes, the most read from one zip"), file=name
            )
        chunks.append(chunk)
    return b"".join(chunks)


_EOCD = struct.Struct("<HHHHIIH")
_CDIR = struct.Struct("<HIIIHHHI")
_LOCAL = struct.Struct("<HH")
_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error,)
# _inflate(wbits) is a decompressor object, so that the output can be capped (_inflate_capped)
_inflate: Callable[[int], Any]
try:  # ISA-L inflates these files about 1.3x faster than zlib-ng, 2.5x zlib (bench/README)
    from isal import isal_zlib as _isal
    from isal.isal_zlib import decompressobj as _inflate

    _INFLATE_ERRORS += (cast(type[Exception], _isal.error),)
except ImportError:  # pragma: no cover - optional; zlib-ng is installed with ccxt
    try:
        from zlib_ng import zlib_ng as _zng
        from zlib_ng.zlib_ng import decompressobj as _inflate

        _INFLATE_ERRORS += (cast(type[Exception], _zng.error),)
    except ImportError:
        from zlib import decompressobj as _inflate
