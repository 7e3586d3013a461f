"""``.CHECKSUM`` files: the SHA-256 that data.binance.vision publishes beside each zip.

Format: ``<sha256>  <zip name>`` (as ``sha256sum`` writes it).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from oiradar.errors import InputError

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


def check_sha256(data: bytes, checksum_text: str, name: str) -> None:
    """Raise :class:`InputError` unless ``checksum_text`` (``<sha256>  <name>``) matches ``data``."""
    parts = checksum_text.split()
    if not parts or not _SHA256_HEX.fullmatch(parts[0]):
        raise InputError(
            f"{name}.CHECKSUM is not '<sha256>  <name>'", file=name, value=checksum_text[:80]
        )
    if len(parts) > 1 and os.path.basename(parts[1].lstrip("*")) != name:
        raise InputError(f"{name}.CHECKSUM is for another file {parts[1]!r}", file=name)
    digest = hashlib.sha256(data).hexdigest()
    if digest != parts[0].lower():
        raise InputError(
            f"SHA-256 mismatch: the file hashes to {digest} but its .CHECKSUM says {parts[0]}; "
            "the download is damaged or the file was changed: download it again",
            file=name,
        )


def verify_checksum(path: str | Path) -> bool:
    """Verify ``path`` against the ``.CHECKSUM`` beside it: True if verified, False if none.

    A mismatch raises :class:`InputError` naming the file.
    """
    path = Path(path)
    checksum = path.with_name(path.name + ".CHECKSUM")
    if not checksum.is_file():
        return False
    check_sha256(path.read_bytes(), checksum.read_text(errors="replace"), path.name)
    return True
