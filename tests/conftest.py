from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from codex_lsp.fakes.backend import FakeBackend
from codex_lsp.fakes.issuer import FakeIssuer

# Fixtures of the backend and models tests (fake, http_client, AuthManagers, providers).
pytest_plugins = ["client_fixtures"]


@pytest.fixture
def codex_home(tmp_path: Path) -> Path:
    home = tmp_path / "codex-home"
    home.mkdir()
    return home


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    """A loopback fake OAuth issuer."""
    with FakeIssuer() as running:
        yield running


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    """A loopback fake Responses backend."""
    with FakeBackend() as running:
        yield running


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "hello.txt").write_text("hello from the workspace\n")
    return root
