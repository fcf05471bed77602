"""Helpers for the account e2e tests: sessions wired to the fakes, a scripted editor refresher,
and "being the browser" for the OAuth redirect."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from codex_lsp.fakes.backend import FakeBackend
from codex_lsp.fakes.issuer import FakeIssuer
from harness import Session, start_session

REFRESH = "account/chatgptAuthTokens/refresh"


def session_env(issuer: FakeIssuer, **extra: str) -> dict[str, str]:
    env = {
        "CODEX_APP_SERVER_LOGIN_ISSUER": issuer.base_url,
        "CODEX_REFRESH_TOKEN_URL_OVERRIDE": issuer.token_url,
        "CODEX_LOGIN_CALLBACK_PORTS": "0",  # 1455 may be busy when tests run in parallel
    }
    env.update(extra)
    return env


def backend_args(backend: FakeBackend | None, *extra: str) -> list[str]:
    args = ["-c", "lsp.editor_refresh_timeout_s=0.5"]
    if backend is not None:
        args += ["-c", f'chatgpt_base_url="{backend.base_url}/backend-api"']
    return args + list(extra)


@asynccontextmanager
async def account_session(
    codex_home: Path,
    issuer: FakeIssuer,
    backend: FakeBackend | None = None,
    *,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    show_document: bool = False,
    stderr_file: Path | None = None,
) -> AsyncIterator[Session]:
    capabilities = (
        types.ClientCapabilities(
            window=types.WindowClientCapabilities(
                show_document=types.ShowDocumentClientCapabilities(support=True)
            )
        )
        if show_document
        else None
    )
    async with start_session(
        codex_home,
        args=backend_args(backend, *args),
        env=session_env(issuer, **(env or {})),
        capabilities=capabilities,
        stderr_file=stderr_file,
    ) as session:
        yield session


class EditorRefresher:
    """Answers `account/chatgptAuthTokens/refresh` as scripted: a reply dict, an error, a delay."""

    def __init__(self, session: Session) -> None:
        self.calls: list[dict[str, Any]] = []
        self.reply: Any = None
        self.error: tuple[int, str] | None = None
        self.delay = 0.0

        async def answer(params: Any) -> Any:  # pygls can't register a bound method
            return await self._answer(params)

        session.on_request(REFRESH, answer)

    async def _answer(self, params: Any) -> Any:
        self.calls.append(params)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise JsonRpcException(self.error[1], code=self.error[0])
        return self.reply


def order_of(session: Session, *methods: str, since: int = 0) -> list[str]:
    return [m for m, _ in session.notifications[since:] if m in methods]


async def login_editor_tokens(session: Session, **params: Any) -> Any:
    return await session.call("account/login/start", {"type": "chatgptAuthTokens", **params})


async def be_the_browser(auth_url: str, *, tamper: dict[str, str] | None = None) -> httpx.Response:
    """GET the authorize URL at the fake issuer and follow its redirect to our callback."""
    url = httpx.URL(auth_url)
    if tamper:
        url = url.copy_merge_params(tamper)
    async with httpx.AsyncClient(timeout=10, follow_redirects=True) as browser:
        return await browser.get(url)


def auth_url_query(auth_url: str) -> dict[str, str]:
    return dict(httpx.URL(auth_url).params)


def files_under(root: Path) -> dict[Path, str]:
    return {p: p.read_text(errors="replace") for p in root.rglob("*") if p.is_file()}


def read_auth_json(codex_home: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((codex_home / "auth.json").read_text())
    return data
