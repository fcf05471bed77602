"""Paths the editor sends: one validation, one message, for every method that takes a `cwd`."""

from __future__ import annotations

from pathlib import Path

from codex_lsp.errors import InvalidParams


def existing_directory(raw: str, field: str) -> Path:
    """``raw`` as an absolute path to an existing directory, or InvalidParams naming ``field``."""
    path = Path(raw)
    if not path.is_absolute():
        raise InvalidParams(f"{field}: must be an absolute path")
    try:
        is_dir = path.is_dir()
    except (OSError, ValueError):  # e.g. an embedded NUL byte
        is_dir = False
    if not is_dir:
        raise InvalidParams(f"{field}: {raw!r} is not an existing directory")
    return path
