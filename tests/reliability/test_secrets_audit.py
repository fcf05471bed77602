"""Secrets audit: after a busy session in each auth mode (DEBUG logging), no token or key appears in
the server's stderr, its `window/logMessage` traffic, any error message, or — for editor-owned
tokens — anywhere under CODEX_HOME."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pygls.exceptions import JsonRpcException

from codex_lsp.fakes.backend import FakeBackend, shell_call, text
from codex_lsp.fakes.issuer import FakeIssuer
from harness import Session, start_session

REFRESH = "account/chatgptAuthTokens/refresh"


@pytest.fixture
def fakes() -> Iterator[tuple[FakeIssuer, FakeBackend]]:
    with FakeIssuer() as issuer, FakeBackend() as backend:
        yield issuer, backend


def _env(issuer: FakeIssuer) -> dict[str, str]:
    return {
        "CODEX_APP_SERVER_LOGIN_ISSUER": issuer.base_url,
        "CODEX_REFRESH_TOKEN_URL_OVERRIDE": issuer.token_url,
        "CODEX_LOGIN_CALLBACK_PORTS": "0",
    }


async def _errors_from(s: Session, calls: list[tuple[str, Any]]) -> list[str]:
    """Provoke errors (some carrying secret-looking input) and collect their messages."""
    messages = []
    for method, params in calls:
        try:
            await s.call(method, params)
        except JsonRpcException as exc:
            messages.append(
                json.dumps({"code": exc.code, "message": exc.message, "data": exc.data})
            )
    return messages


async def _turn(s: Session, backend: FakeBackend) -> None:
    backend.script_next([shell_call(["echo", "audit"])])
    backend.script_next([text("done")])
    thread = await s.call("thread/start", {})
    since = s.mark()
    await s.call(
        "turn/start",
        {"threadId": thread["thread"]["id"], "input": [{"type": "text", "text": "go"}]},
    )
    done = await s.wait_for("turn/completed", since=since, timeout=30)
    assert done["turn"]["status"] == "completed", done


def _audit(s: Session, secrets: list[str], errors: list[str]) -> None:
    secrets = [x for x in secrets if x]
    assert secrets
    logs = "\n".join(p.message for m, p in s.notifications if m == "window/logMessage")
    stderr = s.stderr_text()
    assert stderr, "the server wrote no stderr at DEBUG level; the audit would prove nothing"
    for secret in secrets:
        for where, haystack in (
            ("stderr", stderr),
            ("window/logMessage", logs),
            ("errors", "\n".join(errors)),
        ):
            assert secret not in haystack, f"a secret leaked into {where}"
            if secret.count(".") == 2:  # a JWT: not even its payload part
                assert secret.split(".")[1] not in haystack, f"a JWT payload leaked into {where}"


async def test_api_key_session_leaks_nothing(codex_home: Path, fakes, tmp_path: Path) -> None:
    issuer, backend = fakes
    key = "sk-audit-api-key-0123456789"
    args = [
        "--log-level",
        "DEBUG",
        "-c",
        'model_provider="fake"',
        "-c",
        f'model_providers.fake.base_url="{backend.base_url}/v1"',
        "-c",
        "model_providers.fake.requires_openai_auth=true",
        "-c",
        'approval_policy="never"',
    ]
    async with start_session(
        codex_home,
        args=args,
        env=_env(issuer),
        workspace=tmp_path,
        stderr_file=tmp_path / "stderr.log",
    ) as s:
        await s.call("account/login/start", {"type": "apiKey", "apiKey": key})
        backend.accepted_tokens = {key}
        await _turn(s, backend)
        assert (await s.call("getAuthStatus", {"includeToken": True}))[
            "authToken"
        ] == key  # only when asked
        errors = await _errors_from(
            s,
            [
                ("account/login/start", {"type": "apiKey", "apiKey": 12345}),
                ("account/rateLimits/read", {}),  # API key: refused
                ("account/login/start", {"type": "chatgptAuthTokens", "accessToken": key}),
            ],
        )
        _audit(s, [key], errors)


async def test_managed_chatgpt_session_leaks_nothing(
    codex_home: Path, fakes, tmp_path: Path
) -> None:
    issuer, backend = fakes
    args = [
        "--log-level",
        "DEBUG",
        "-c",
        f'chatgpt_base_url="{backend.base_url}/backend-api"',
        "-c",
        'approval_policy="never"',
    ]
    async with start_session(
        codex_home,
        args=args,
        env=_env(issuer),
        workspace=tmp_path,
        stderr_file=tmp_path / "stderr.log",
    ) as s:
        started = await s.call("account/login/start", {"type": "chatgpt"})
        since = s.mark()
        async with httpx.AsyncClient(follow_redirects=True, timeout=10) as browser:
            await browser.get(started["authUrl"])
        completed = await s.wait_for("account/login/completed", since=since, timeout=15)
        assert completed["success"] is True
        await s.call("account/read", {"refreshToken": True})  # rotate once
        await _turn(s, backend)
        await s.call("account/rateLimits/read", {})
        stored = json.loads((codex_home / "auth.json").read_text())
        secrets = [
            stored["tokens"]["access_token"],
            stored["tokens"]["refresh_token"],
            stored["tokens"]["id_token"],
            stored.get("OPENAI_API_KEY") or "",
        ]
        errors = await _errors_from(s, [("account/login/cancel", {"loginId": secrets[1]})])
        _audit(s, secrets, errors)


async def test_editor_owned_session_leaks_nothing_and_writes_nothing(
    codex_home: Path, fakes, tmp_path: Path
) -> None:
    issuer, backend = fakes
    args = [
        "--log-level",
        "DEBUG",
        "-c",
        f'chatgpt_base_url="{backend.base_url}/backend-api"',
        "-c",
        'approval_policy="never"',
        "-c",
        "lsp.editor_refresh_timeout_s=2",
    ]
    handed_out: list[str] = []

    async def refresh(params: Any) -> dict[str, Any]:
        token = issuer.make_jwt(account_id="acct-1")
        handed_out.append(token)
        backend.accepted_tokens = {token}
        return {"accessToken": token, "chatgptAccountId": "acct-1"}

    async with start_session(
        codex_home,
        args=args,
        env=_env(issuer),
        workspace=tmp_path,
        stderr_file=tmp_path / "stderr.log",
    ) as s:
        s.on_request(REFRESH, refresh)
        first = issuer.make_jwt(account_id="acct-1")
        id_token = issuer.make_jwt(account_id="acct-1", email="audit@example.com")
        handed_out += [first, id_token]
        backend.accepted_tokens = {first}
        await s.call(
            "account/login/start",
            {"type": "chatgptAuthTokens", "idToken": id_token, "accessToken": first},
        )
        await _turn(s, backend)
        backend.accepted_tokens = {
            "revoked-everything"
        }  # next call: 401 -> editor refresh -> retry
        await s.call("account/rateLimits/read", {})
        errors = await _errors_from(
            s,
            [
                (
                    "account/login/start",
                    {"type": "chatgptAuthTokens", "accessToken": first + "x.y"},
                ),
                (
                    "account/login/start",
                    {"type": "apiKey", "apiKey": first},
                ),  # refused: editor auth active
            ],
        )
        _audit(s, handed_out, errors)
        await s.call("account/logout", {})
    on_disk = "\n".join(p.read_text(errors="replace") for p in codex_home.rglob("*") if p.is_file())
    for token in handed_out:
        assert token not in on_disk and token.split(".")[1] not in on_disk
