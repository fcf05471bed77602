"""No import is attempted while serving backend requests once the client is warm.

httpcore tries `import sniffio` every time it sets up a lock; without the package installed
each attempt searched sys.path again (about a millisecond per request). This watches the
import system itself during real requests to a loopback fake backend.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from codex_lsp.backend.http import create_http_client
from codex_lsp.fakes.backend import FakeBackend


class ImportWatcher(importlib.abc.MetaPathFinder):
    """Records every module the import system is asked to find (cached imports never ask)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        self.asked.append(fullname)
        return None


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    fake = FakeBackend().start()
    yield fake
    fake.stop()


async def test_warm_requests_import_nothing(backend: FakeBackend) -> None:
    client = create_http_client()
    url = f"{backend.base_url}/backend-api/wham/usage"
    try:
        assert (await client.get(url)).status_code == 200  # first use may import lazily
        backend.close_after_next_response = True
        await client.get(url)  # and a new connection once
        watcher = ImportWatcher()
        sys.meta_path.insert(0, watcher)
        try:
            for _ in range(10):
                assert (await client.get(url)).status_code == 200
            backend.close_after_next_response = True
            await client.get(url)
            assert (await client.get(url)).status_code == 200  # on a new connection
        finally:
            sys.meta_path.remove(watcher)
    finally:
        await client.aclose()
    assert watcher.asked == []
    assert backend.connections_opened == 3
