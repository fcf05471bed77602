"""Fault injection: each test breaks one part for real and asserts the outcome, and that nothing is
lost (credentials on disk, the session's tokens) or left running (processes, pending requests)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from pygls.exceptions import JsonRpcException

from codex_lsp.fakes.backend import FakeBackend, shell_call, text
from codex_lsp.fakes.issuer import FakeIssuer
from harness import start_session

HERE = Path(__file__).resolve().parent
REFRESH = "account/chatgptAuthTokens/refresh"
CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens, connections are refused


def issuer_env(issuer: FakeIssuer, **extra: str) -> dict[str, str]:
    return {
        "CODEX_APP_SERVER_LOGIN_ISSUER": issuer.base_url,
        "CODEX_REFRESH_TOKEN_URL_OVERRIDE": issuer.token_url,
        "CODEX_LOGIN_CALLBACK_PORTS": "0",
        **extra,
    }


def write_managed_auth(
    codex_home: Path, issuer: FakeIssuer, account_id: str = "acct-1"
) -> dict[str, Any]:
    tokens = issuer.issue_tokens(account_id, email="me@example.com")
    record = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {**tokens, "account_id": account_id},
        "last_refresh": "2030-01-01T00:00:00Z",
    }
    path = codex_home / "auth.json"
    path.write_text(json.dumps(record, indent=2))
    path.chmod(0o600)
    return record


class Editor:
    """Answers the refresh request as the test says; `release` frees answers held back forever."""

    def __init__(self) -> None:
        self.calls = 0
        self.answer: Any = None
        self.hold = False
        self.release = asyncio.Event()

    async def __call__(self, params: Any) -> Any:
        self.calls += 1
        if self.hold:
            await self.release.wait()
        return self.answer


async def _editor_session(s: Any, issuer: FakeIssuer, backend: FakeBackend) -> tuple[Editor, str]:
    editor = Editor()

    async def answer(params: Any) -> Any:  # pygls needs a real coroutine function
        return await editor(params)

    s.on_request(REFRESH, answer)
    token = issuer.make_jwt(account_id="acct-1")
    backend.accepted_tokens = {token}
    await s.call(
        "account/login/start",
        {"type": "chatgptAuthTokens", "accessToken": token, "chatgptAccountId": "acct-1"},
    )
    return editor, token


# ---- the editor misbehaves -------------------------------------------------------------------


async def test_editor_never_answers_refresh_fails_in_about_10_s_and_the_next_401_asks_again(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    args = [
        "-c",
        f'chatgpt_base_url="{backend.base_url}/backend-api"',
    ]  # default 10 s refresh timeout
    async with start_session(codex_home, args=args, env=issuer_env(issuer)) as s:
        editor, old = await _editor_session(s, issuer, backend)
        backend.accepted_tokens = {"only-a-new-token-works"}
        editor.hold = True
        started = time.monotonic()
        with pytest.raises(JsonRpcException) as exc:
            await s.call("account/rateLimits/read", {}, timeout=30)
        elapsed = time.monotonic() - started
        assert 9.5 <= elapsed <= 13, elapsed
        assert "did not answer" in exc.value.message or "timed out" in exc.value.message
        assert old not in exc.value.message
        # Still logged in with the old tokens; the next 401 asks the editor again, and it answers.
        assert (await s.call("account/read", {}))["account"]["type"] == "chatgpt"
        editor.hold = False
        editor.release.set()
        fresh = issuer.make_jwt(account_id="acct-1")
        backend.accepted_tokens = {fresh}
        editor.answer = {"accessToken": fresh, "chatgptAccountId": "acct-1"}
        result = await s.call("account/rateLimits/read", {}, timeout=30)
        assert result["rateLimits"]["primary"] is not None
        assert editor.calls == 2


@pytest.mark.parametrize(
    "garbage",
    [
        "a string",
        42,
        [],
        {"accessToken": 5},
        {"accessToken": "not-a-jwt", "chatgptAccountId": "acct-1"},
        {"chatgptAccountId": "acct-1"},
    ],
    ids=["string", "number", "list", "token-not-string", "token-not-jwt", "no-token"],
)
async def test_editor_answers_garbage_fails_the_call_clearly_and_keeps_the_session(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend, garbage: Any
) -> None:
    args = [
        "-c",
        f'chatgpt_base_url="{backend.base_url}/backend-api"',
        "-c",
        "lsp.editor_refresh_timeout_s=2",
    ]
    async with start_session(codex_home, args=args, env=issuer_env(issuer)) as s:
        editor, old = await _editor_session(s, issuer, backend)
        backend.accepted_tokens = {"only-a-new-token-works"}
        editor.answer = garbage
        with pytest.raises(JsonRpcException) as exc:
            await s.call("account/rateLimits/read", {})
        assert exc.value.code in (-32600, -32603)
        assert "refresh" in exc.value.message.lower()
        assert old not in exc.value.message
        assert (await s.call("getAuthStatus", {"includeToken": True}))["authToken"] == old
        assert not any(m == "window/showMessage" for m, _ in s.notifications)


# ---- the issuer is down ----------------------------------------------------------------------


async def test_issuer_down_managed_refresh_fails_clearly_and_keeps_credentials(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    write_managed_auth(codex_home, issuer)
    before = (codex_home / "auth.json").read_bytes()
    env = issuer_env(issuer, CODEX_REFRESH_TOKEN_URL_OVERRIDE=f"{CLOSED_PORT_URL}/oauth/token")
    async with start_session(codex_home, env=env) as s:
        started = time.monotonic()
        # As upstream: a failed refresh keeps the current credentials and says why in the log.
        account = (await s.call("account/read", {"refreshToken": True}, timeout=30))["account"]
        assert time.monotonic() - started < 15
        logged = " ".join(p.message for m, p in s.notifications if m == "window/logMessage")
        assert "could not reach the token endpoint" in logged
        assert account == {"type": "chatgpt", "email": "me@example.com", "planType": "pro"}
    assert (codex_home / "auth.json").read_bytes() == before


# ---- the keyring is locked or hangs ------------------------------------------------------------


def keyring_env(backend_class: str) -> dict[str, str]:
    path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    return {"PYTHON_KEYRING_BACKEND": f"fake_keyrings.{backend_class}", "PYTHONPATH": path}


@pytest.mark.parametrize("keyring_class", ["SlowKeyring", "LockedKeyring"])
async def test_auto_store_falls_back_to_file_when_the_keyring_hangs_or_is_locked(
    codex_home: Path, keyring_class: str
) -> None:
    args = ["-c", 'cli_auth_credentials_store="auto"']
    async with start_session(codex_home, args=args, env=keyring_env(keyring_class)) as s:
        started = time.monotonic()
        assert await s.call(
            "account/login/start", {"type": "apiKey", "apiKey": "sk-fault-key-123456"}, timeout=30
        ) == {"type": "apiKey"}
        assert time.monotonic() - started < 12  # bounded by the keyring timeout, never a hang
        assert (await s.call("account/read", {}, timeout=30))["account"] == {"type": "apiKey"}
    stored = json.loads((codex_home / "auth.json").read_text())
    assert stored["OPENAI_API_KEY"] == "sk-fault-key-123456"
    assert (codex_home / "auth.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("keyring_class", ["SlowKeyring", "LockedKeyring"])
async def test_keyring_store_gives_a_clear_error_and_writes_no_file(
    codex_home: Path, keyring_class: str
) -> None:
    args = ["-c", 'cli_auth_credentials_store="keyring"']
    async with start_session(codex_home, args=args, env=keyring_env(keyring_class)) as s:
        started = time.monotonic()
        with pytest.raises(JsonRpcException) as exc:
            await s.call(
                "account/login/start",
                {"type": "apiKey", "apiKey": "sk-fault-key-123456"},
                timeout=30,
            )
        assert time.monotonic() - started < 12
        assert "keyring" in exc.value.message.lower()
        assert "sk-fault-key-123456" not in exc.value.message
        assert await s.call("codexTest/echo", {"text": "alive"}) == {
            "text": "alive",
            "nothing": None,
        }
    assert not (codex_home / "auth.json").exists()


# ---- auth.json is damaged ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        '{"auth_mode": "chatgpt", "tokens": {"id_token": "abc"',
        "not json at all",
        '["a", "list"]',
        "",
    ],
    ids=["truncated", "corrupt", "wrong-shape", "empty"],
)
async def test_damaged_auth_json_is_moved_aside_by_a_new_login_and_reported(
    codex_home: Path, content: str
) -> None:
    path = codex_home / "auth.json"
    path.write_text(content)
    path.chmod(0o644)
    async with start_session(codex_home) as s:
        before = await s.call("account/read", {})
        assert before["account"] is None and "auth.json" in before["credentialsProblem"]
        await s.call("account/login/start", {"type": "apiKey", "apiKey": "sk-new-login-1234"})
        after = await s.call("account/read", {})
        assert after["account"] == {"type": "apiKey"}
        assert "kept as auth.json.corrupt-" in after["credentialsProblem"]
        status = await s.call("codex/status", {})
        assert any("auth.json.corrupt-" in line for line in status["lines"]), status["lines"]
    [aside] = codex_home.glob("auth.json.corrupt-*")
    assert aside.read_text() == content and stat.S_IMODE(aside.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["OPENAI_API_KEY"] == "sk-new-login-1234"


async def test_unreadable_auth_json_gives_a_clear_error_and_is_never_overwritten(
    codex_home: Path, tmp_path: Path
) -> None:
    """Root reads any file, so the server runs without capabilities (setpriv) to meet a 000 file."""
    path = codex_home / "auth.json"
    path.write_text('{"auth_mode": "apikey", "OPENAI_API_KEY": "sk-unreadable-123456"}')
    path.chmod(0o000)
    wrapper = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"]
    try:
        async with start_session(codex_home, wrapper=wrapper) as s:
            with pytest.raises(JsonRpcException) as exc:
                await s.call(
                    "account/login/start", {"type": "apiKey", "apiKey": "sk-would-overwrite-1234"}
                )
            assert "permission denied" in exc.value.message
            assert "sk-unreadable-123456" not in exc.value.message
    finally:
        path.chmod(0o600)
    assert "sk-unreadable-123456" in path.read_text()


# ---- two servers share one CODEX_HOME ----------------------------------------------------------


async def test_two_servers_sharing_codex_home_do_100_rotating_refreshes_without_reuse_or_loss(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    write_managed_auth(codex_home, issuer)
    env = issuer_env(issuer)
    async with start_session(codex_home, env=env) as a, start_session(codex_home, env=env) as b:

        async def refresh_many(s: Any) -> list[Any]:
            out = []
            for _ in range(50):
                out.append(await s.call("account/read", {"refreshToken": True}, timeout=30))
            return out

        results = await asyncio.gather(refresh_many(a), refresh_many(b))
    answers = results[0] + results[1]
    assert len(answers) == 100
    assert all(r["account"]["email"] == "me@example.com" for r in answers)
    stored = json.loads((codex_home / "auth.json").read_text())
    live = stored["tokens"]["refresh_token"]
    record = issuer._refresh_tokens[live]
    assert (
        not record.used and not record.revoked
    )  # the file holds the one live token: no lost write
    assert issuer.calls["refresh"] >= 50  # really rotated, not served from memory


# ---- the editor goes away mid-turn ------------------------------------------------------------


def _processes_with(marker: str) -> list[str]:
    out = subprocess.run(
        ["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.splitlines() if marker in line and "ps -eo" not in line]


async def test_editor_disconnect_mid_turn_exits_cleanly_and_kills_the_command(
    codex_home: Path, backend: FakeBackend, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    marker = "299.4242"
    backend.script_next([shell_call(["sleep", marker])])
    backend.script_next([text("done")])
    args = [
        "-c",
        'model_provider="fake"',
        "-c",
        f'model_providers.fake.base_url="{backend.base_url}/v1"',
        "-c",
        "model_providers.fake.requires_openai_auth=true",
        "-c",
        'approval_policy="never"',
        "-c",
        'sandbox_mode="workspace-write"',
    ]
    async with start_session(
        codex_home, args=args, env={"CODEX_API_KEY": "sk-disconnect-test"}, workspace=workspace
    ) as s:
        thread = await s.call("thread/start", {})
        since = s.mark()
        await s.call(
            "turn/start",
            {"threadId": thread["thread"]["id"], "input": [{"type": "text", "text": "sleep"}]},
        )
        await s.wait_for(
            "item/started", since=since, where=lambda p: p["item"]["type"] == "commandExecution"
        )
        for _ in range(50):  # bounded: the command appears within 5 s
            if _processes_with(marker):
                break
            await asyncio.sleep(0.1)
        assert _processes_with(marker), "the command never started"
        proc = s.client._server
        assert proc is not None
        proc.stdin.close()  # the editor vanishes: no shutdown, no exit
        code = await asyncio.wait_for(proc.wait(), 15)
        assert code is not None
        for _ in range(50):
            if not _processes_with(marker):
                break
            await asyncio.sleep(0.1)
        assert not _processes_with(marker), "the command outlived the server"
        s.client.capabilities = None  # nothing left to shut down


async def test_shutdown_mid_turn_interrupts_the_turn_and_kills_the_command(
    codex_home: Path, backend: FakeBackend, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    marker = "298.4242"
    backend.script_next([shell_call(["sleep", marker])])
    backend.script_next([text("done")])
    args = [
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
        codex_home, args=args, env={"CODEX_API_KEY": "sk-shutdown-test"}, workspace=workspace
    ) as s:
        thread = await s.call("thread/start", {})
        since = s.mark()
        await s.call(
            "turn/start",
            {"threadId": thread["thread"]["id"], "input": [{"type": "text", "text": "sleep"}]},
        )
        await s.wait_for(
            "item/started", since=since, where=lambda p: p["item"]["type"] == "commandExecution"
        )
        for _ in range(50):
            if _processes_with(marker):
                break
            await asyncio.sleep(0.1)
        assert _processes_with(marker), "the command never started"
        await asyncio.wait_for(s.client.shutdown_async(None), 15)
        completed = await s.wait_for("turn/completed", since=since, timeout=5)
        assert completed["turn"]["status"] == "interrupted"
        assert not _processes_with(marker), "the command outlived shutdown"
        s.client.exit(None)
        proc = s.client._server
        assert proc is not None and await asyncio.wait_for(proc.wait(), 10) == 0
        s.client.capabilities = None  # already shut down
