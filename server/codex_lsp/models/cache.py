"""``$CODEX_HOME/models_cache.json``: the last ``/models`` answer with its ETag.

Shape: ``{fetched_at (RFC 3339), etag, client_version, base_url, models[]}``. ``base_url`` is
ours: a cache filled from one provider/auth mode is not reused for another. Functions here
block (file I/O); the manager calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

log = logging.getLogger(__name__)

CACHE_FILE_NAME = "models_cache.json"


@attrs.frozen
class ModelsCache:
    fetched_at: float  # unix seconds
    etag: str | None
    client_version: str
    base_url: str
    models: list[dict[str, Any]]

    def is_fresh(self, now: float, ttl_s: float) -> bool:
        return 0 <= now - self.fetched_at < ttl_s

    def matches(self, client_version: str, base_url: str) -> bool:
        return self.client_version == client_version and self.base_url == base_url

    def to_json(self) -> dict[str, Any]:
        return {
            "fetched_at": datetime.fromtimestamp(self.fetched_at, UTC).isoformat(),
            "etag": self.etag,
            "client_version": self.client_version,
            "base_url": self.base_url,
            "models": self.models,
        }


def load_cache(path: Path) -> ModelsCache | None:
    """The cache file, or None if it is missing or unreadable (logged, never fatal)."""
    try:
        data = json.loads(path.read_text("utf-8"))
        fetched_at = datetime.fromisoformat(data["fetched_at"]).timestamp()
        models = data["models"]
        if not isinstance(models, list):
            raise ValueError("models is not a list")
        etag = data.get("etag")
        return ModelsCache(
            fetched_at=fetched_at,
            etag=etag if isinstance(etag, str) else None,
            client_version=str(data.get("client_version") or ""),
            base_url=str(data.get("base_url") or ""),
            models=models,
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable models cache %s (%s)", path, type(exc).__name__)
        return None


def save_cache(path: Path, cache: ModelsCache) -> None:
    """Write atomically: a temp file in the same directory, fsync, then rename over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            json.dump(cache.to_json(), tmp, indent=2)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
