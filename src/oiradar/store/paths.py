"""The one containment check for every folder the store writes to or deletes from.

Names are validated where they enter (:func:`oiradar.model.validate_exchange_name`,
:func:`oiradar.model.symbol_slug`); this is the second line of defence, so that nothing is ever
written or deleted outside its root (not even through a planted link). See docs/security.md.
"""

from __future__ import annotations

from pathlib import Path

from oiradar.errors import StoreError


def contained(path: Path, root: Path, where: str = "the catalog") -> Path:
    """``path`` if it lies strictly inside ``root`` once links are followed, else StoreError."""
    try:
        resolved_root, resolved = root.resolve(), path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise StoreError(f"cannot resolve {where} path {path}: {exc}") from None
    if resolved == resolved_root or not resolved.is_relative_to(resolved_root):
        raise StoreError(
            f"refusing to write or delete {path}: it resolves to {resolved}, outside "
            f"{where} at {resolved_root}; remove the link or folder that leads there"
        )
    return path
