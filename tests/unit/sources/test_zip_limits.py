"""A zip's size limit holds on the bytes actually inflated, not on what its headers claim: a zip bomb
whose local and central headers understate the CSV is refused, naming the file, in bounded memory."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from oiradar.errors import InputError
from oiradar.sources.decode import binance_archive as ba
from oiradar.sources.decode.binance_archive import zipread

NAME = "BTCUSDT-metrics-2025-01-01.csv"
LIMIT = 1 << 20  # the limit under test (monkeypatched; the real one is 1 GiB)
BOMB_BYTES = 48 << 20  # what the bomb really inflates to
MIB = 1 << 20


def deflate(chunks: int, chunk: bytes) -> tuple[bytes, int, int]:
    """``(raw deflate stream, crc32, size)`` of ``chunk`` repeated ``chunks`` times."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts, crc = [], 0
    for _ in range(chunks):
        parts.append(co.compress(chunk))
        crc = zlib.crc32(chunk, crc)
    parts.append(co.flush())
    return b"".join(parts), crc, chunks * len(chunk)


def craft_zip(raw: bytes, crc: int, claimed: int, *, comment: bytes = b"") -> bytes:
    """One deflated member ``NAME`` whose local AND central headers both say ``claimed`` bytes."""
    name = NAME.encode()
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(raw), claimed,
                        len(name), 0) + name  # fmt: skip
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(raw),
                          claimed, len(name), 0, 0, 0, 0, 0, 0) + name  # fmt: skip
    offset = len(local) + len(raw)
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), offset,
                       len(comment)) + comment  # fmt: skip
    return local + raw + central + eocd


@pytest.fixture(scope="module")
def bomb() -> tuple[bytes, int]:
    raw, crc, size = deflate(BOMB_BYTES // MIB, b"0" * MIB)
    assert size == BOMB_BYTES and len(raw) < 100_000
    return raw, crc


@pytest.fixture(autouse=True)
def _small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipread, "_MAX_MEMBER_BYTES", LIMIT)


def peak_while(fn) -> int:  # type: ignore[no-untyped-def]
    """Peak bytes Python allocated while ``fn`` ran (the inflaters' output buffers are bytes)."""
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("comment", [b"", b"a comment sends it through zipfile"])
@pytest.mark.parametrize("claimed", [1000, LIMIT])
def test_understated_bomb_is_refused_in_bounded_memory(
    tmp_path: Path, bomb: tuple[bytes, int], claimed: int, comment: bytes
) -> None:
    raw, crc = bomb
    path = tmp_path / NAME.replace(".csv", ".zip")
    path.write_bytes(craft_zip(raw, crc, claimed, comment=comment))

    # the fast path sees the lie; zipfile stops at the claimed size, and then the CRC-32 fails
    why = "damaged zip: Bad CRC-32" if comment else f"inflates to more than the {claimed} bytes"

    def load() -> None:
        with pytest.raises(InputError, match=why) as err:
            ba.load_csv_bytes(path)
        assert err.value.file == path.name

    assert peak_while(load) < 8 * MIB


def test_a_header_over_the_limit_is_refused(bomb: tuple[bytes, int]) -> None:
    raw, crc = bomb
    with pytest.raises(InputError, match="uncompressed; refused"):
        ba.unzip_single(craft_zip(raw, crc, LIMIT + 1), "big.zip")


def test_reading_stops_past_the_limit() -> None:
    with pytest.raises(InputError, match=f"more than {LIMIT} bytes") as err:
        zipread._read_capped(io.BytesIO(b"0" * (LIMIT + 1)), "x.zip")
    assert err.value.file == "x.zip"
    assert zipread._read_capped(io.BytesIO(b"0" * LIMIT), "x.zip") == b"0" * LIMIT


def test_honest_zips_below_the_limit_still_read(tmp_path: Path) -> None:
    body = b"create_time,symbol,sum_open_interest\n" + b"2025-01-01 00:05:00,BTCUSDT,1.5\n" * 9000
    raw, crc, size = deflate(1, body)
    assert ba.unzip_single(craft_zip(raw, crc, size), "a.zip") == body
    assert ba.unzip_single(craft_zip(raw, crc, size, comment=b"c"), "a.zip") == body
    path = tmp_path / "b.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(NAME, body)
    assert ba.load_csv_bytes(path) == ("b.zip", body)


def test_a_truncated_stream_is_damaged() -> None:
    body = b"x,y\n" + b"1,2\n" * 5000
    raw, crc, size = deflate(1, body)
    with pytest.raises(InputError, match="damaged zip"):
        ba.unzip_single(craft_zip(raw[: len(raw) // 2], crc, size), "cut.zip")
