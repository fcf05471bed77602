"""Fixtures for the backend and models tests: the loopback fake backend, the shared httpx client
and real AuthManagers (API key from env, or editor-owned ChatGPT tokens with an editor refresher)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from codex_lsp.auth.manager import AuthManager
from codex_lsp.backend.http import create_http_client
from codex_lsp.backend.provider import ModelProvider, resolve_provider
from codex_lsp.fakes.backend import FakeBackend
from editor_auth import Editor, EditorAuth, editor_tokens, make_access_token


@pytest.fixture
def fake() -> Iterator[FakeBackend]:
    with FakeBackend() as backend:
        yield backend


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with create_http_client() as client:
        yield client


@pytest.fixture
async def api_key_auth(codex_home: Path) -> AuthManager:
    manager = AuthManager(codex_home, "ephemeral", env={"CODEX_API_KEY": "sk-test"})
    await manager.load()
    return manager


@pytest.fixture
async def editor_auth(codex_home: Path) -> EditorAuth:
    initial, refreshed = make_access_token(), make_access_token()
    manager = AuthManager(codex_home, "ephemeral", env={})
    await manager.load()
    manager.set_editor_tokens(editor_tokens(initial))
    editor = Editor(next_tokens=[refreshed])
    manager.set_editor_refresher(editor.refresh)
    return EditorAuth(manager, editor, initial, refreshed)


@pytest.fixture
async def no_auth(codex_home: Path) -> AuthManager:
    manager = AuthManager(codex_home, "ephemeral", env={})
    await manager.load()
    return manager


@pytest.fixture
def chatgpt_provider(fake: FakeBackend) -> ModelProvider:
    """The built-in provider with chatgpt_base_url pointed at the fake."""
    return resolve_provider(chatgpt_base_url=f"{fake.base_url}/backend-api")


@pytest.fixture
def api_provider(fake: FakeBackend) -> ModelProvider:
    """A custom provider on the fake that uses the AuthManager's credentials."""
    table = {"base_url": f"{fake.base_url}/v1", "requires_openai_auth": True}
    return resolve_provider("fake", {"fake": table})
