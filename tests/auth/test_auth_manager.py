from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import stat
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import keyring
import pytest
from auth_helpers import (
    file_exists,
    read_auth_json,
    ready_files,
    run_worker,
    wait_until,
    write_chatgpt_auth_json,
)

from codex_lsp.auth.claims import chatgpt_auth_tokens_from_editor
from codex_lsp.auth.errors import (
    AuthRecoveryFailed,
    MalformedTokenError,
    NotLoggedIn,
    RefreshTokenFailed,
    StorageError,
)
from codex_lsp.auth.manager import AuthManager
from codex_lsp.auth.model import (
    ApiKeyAuth,
    ChatGptAuth,
    ChatGptAuthTokens,
    CodexAuth,
    bearer_token,
)
from codex_lsp.auth.storage import KEYRING_SERVICE, keyring_account
from codex_lsp.errors import CodexError, InvalidRequest
from codex_lsp.fakes.issuer import CLIENT_ID, FakeIssuer

MakeManager = Callable[..., AuthManager]


async def managed_login(
    manager: AuthManager, issuer: FakeIssuer, account: str = "acct-1"
) -> ChatGptAuth:
    auth = await manager.save_chatgpt_login(**issuer.issue_tokens(account))
    assert isinstance(auth, ChatGptAuth)
    return auth


def editor_tokens(
    issuer: FakeIssuer, account: str = "acct-ed", exp_in: float = 3600
) -> ChatGptAuthTokens:
    access = issuer.issue_access_token(account, exp_in=exp_in)
    return chatgpt_auth_tokens_from_editor(
        access, chatgpt_account_id=account, chatgpt_plan_type="pro"
    )


def whoami(
    issuer: FakeIssuer, client: httpx.AsyncClient
) -> Callable[[CodexAuth], Awaitable[httpx.Response]]:
    async def send(auth: CodexAuth) -> httpx.Response:
        return await client.get(
            issuer.base_url + "/backend-api/whoami",
            headers={"Authorization": f"Bearer {bearer_token(auth)}"},
        )

    return send


# -- loading -------------------------------------------------------------------------------
async def test_load_order_env_key_then_editor_tokens_then_store(
    make_manager: MakeManager, issuer: FakeIssuer, codex_home: Path
) -> None:
    write_chatgpt_auth_json(codex_home, issuer.issue_tokens("acct-disk"), account_id="acct-disk")
    stored = await make_manager().load()
    assert isinstance(stored, ChatGptAuth) and stored.account_id == "acct-disk"

    with_editor = make_manager()
    tokens = editor_tokens(issuer)
    with_editor.set_editor_tokens(tokens)
    assert await with_editor.load() == tokens

    with_env = make_manager(env={"CODEX_API_KEY": "sk-env"})
    with_env.set_editor_tokens(tokens)
    assert await with_env.load() == ApiKeyAuth("sk-env")


async def test_current_is_cached_without_io(make_manager: MakeManager, codex_home: Path) -> None:
    manager = make_manager()
    assert manager.current() is None
    await manager.login_api_key("sk-one")
    (codex_home / "auth.json").unlink()
    assert manager.current() == ApiKeyAuth("sk-one")
    assert await manager.auth() == ApiKeyAuth("sk-one")


async def test_load_surfaces_a_corrupt_file_clearly(
    make_manager: MakeManager, codex_home: Path
) -> None:
    (codex_home / "auth.json").write_text("{not json")
    with pytest.raises(StorageError, match="not valid JSON at line 1"):
        await make_manager().load()
    assert (codex_home / "auth.json").read_text() == "{not json"


async def test_stored_editor_tokens_record_is_ignored(
    make_manager: MakeManager, codex_home: Path
) -> None:
    (codex_home / "auth.json").write_text(
        json.dumps({"auth_mode": "chatgptAuthTokens", "OPENAI_API_KEY": None})
    )
    assert await make_manager().load() is None


# -- logging in and out ----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["file", "keyring", "ephemeral"])
async def test_login_api_key_persists_per_store_mode(
    make_manager: MakeManager, codex_home: Path, mode: str, request: pytest.FixtureRequest
) -> None:
    if mode == "keyring":
        request.getfixturevalue("file_keyring")
    manager = make_manager(store_mode=mode)
    await manager.login_api_key("sk-login")
    assert manager.current() == ApiKeyAuth("sk-login")
    on_disk = codex_home / "auth.json"
    if mode == "file":
        assert read_auth_json(codex_home) == {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-login"}
        assert stat.S_IMODE(on_disk.stat().st_mode) == 0o600
    else:
        assert not on_disk.exists()
    if mode == "keyring":
        secret = keyring.get_password(KEYRING_SERVICE, keyring_account(codex_home))
        assert secret is not None and json.loads(secret)["OPENAI_API_KEY"] == "sk-login"
    # A fresh manager on the same home sees it unless the store is memory-only.
    reloaded = await make_manager(store_mode=mode).load()
    assert reloaded == (None if mode == "ephemeral" else ApiKeyAuth("sk-login"))


async def test_save_chatgpt_login_writes_upstream_layout(
    make_manager: MakeManager, issuer: FakeIssuer, codex_home: Path
) -> None:
    manager = make_manager()
    tokens = issuer.issue_tokens("acct-7", email="seven@example.com", plan_type="plus")
    auth = await manager.save_chatgpt_login(**tokens, api_key="sk-exchanged")
    assert isinstance(auth, ChatGptAuth)
    assert (auth.account_id, auth.id_token.email, auth.id_token.plan_type) == (
        "acct-7",
        "seven@example.com",
        "plus",
    )
    on_disk = read_auth_json(codex_home)
    assert on_disk["auth_mode"] == "chatgpt"
    assert on_disk["OPENAI_API_KEY"] == "sk-exchanged"
    assert on_disk["tokens"] == {**tokens, "account_id": "acct-7"}
    assert datetime.fromisoformat(on_disk["last_refresh"]) > datetime.now(UTC) - timedelta(
        minutes=1
    )


async def test_failed_login_keeps_previous_credentials(
    make_manager: MakeManager, issuer: FakeIssuer, codex_home: Path
) -> None:
    manager = make_manager(forced_workspace_id="acct-1")
    previous = await managed_login(manager, issuer, "acct-1")
    before = (codex_home / "auth.json").read_text()
    bad = issuer.issue_tokens("acct-1")
    with pytest.raises(MalformedTokenError):
        await manager.save_chatgpt_login("not-a-jwt", bad["access_token"], bad["refresh_token"])
    other_workspace = issuer.issue_tokens("acct-other")
    with pytest.raises(InvalidRequest, match="restricted to workspace acct-1.*acct-other"):
        await manager.save_chatgpt_login(**other_workspace)
    assert (codex_home / "auth.json").read_text() == before
    assert manager.current() == previous


@pytest.mark.parametrize("mode", ["file", "keyring", "auto"])
async def test_editor_tokens_live_in_memory_only(
    make_manager: MakeManager,
    issuer: FakeIssuer,
    codex_home: Path,
    mode: str,
    file_keyring: object,
) -> None:
    manager = make_manager(store_mode=mode)
    tokens = editor_tokens(issuer)
    manager.set_editor_tokens(tokens)
    assert manager.editor_auth_active()
    assert await manager.auth() == tokens
    assert not (codex_home / "auth.json").exists()
    assert keyring.get_password(KEYRING_SERVICE, keyring_account(codex_home)) is None
    with pytest.raises(InvalidRequest, match="external"):
        await manager.login_api_key("sk-while-editor")
    await manager.logout()
    assert not manager.editor_auth_active()
    assert manager.current() is None


async def test_logout_clears_memory_and_store_and_notifies(
    make_manager: MakeManager, issuer: FakeIssuer, codex_home: Path
) -> None:
    manager = make_manager()
    seen: list[CodexAuth | None] = []
    manager.add_listener(seen.append)
    await managed_login(manager, issuer)
    await manager.logout()
    assert manager.current() is None
    assert not (codex_home / "auth.json").exists()
    assert await make_manager().load() is None
    assert len(seen) == 2 and isinstance(seen[0], ChatGptAuth) and seen[1] is None


async def test_logout_keeps_env_api_key(make_manager: MakeManager) -> None:
    manager = make_manager(env={"CODEX_API_KEY": "sk-env"})
    await manager.load()
    await manager.logout()
    assert manager.current() == ApiKeyAuth("sk-env")


async def test_listeners_see_every_change(make_manager: MakeManager, issuer: FakeIssuer) -> None:
    manager = make_manager()
    seen: list[str] = []
    manager.add_listener(lambda auth: seen.append(type(auth).__name__))

    def broken_listener(auth: CodexAuth | None) -> None:
        raise RuntimeError("listener bug")

    manager.add_listener(broken_listener)  # must not break the others or the caller
    await manager.login_api_key("sk-1")
    await managed_login(manager, issuer)
    await manager.refresh_managed()
    await manager.logout()
    manager.set_editor_tokens(editor_tokens(issuer))
    manager.set_editor_tokens(editor_tokens(issuer))  # rotation by the editor
    assert seen == [
        "ApiKeyAuth",
        "ChatGptAuth",
        "ChatGptAuth",
        "NoneType",
        "ChatGptAuthTokens",
        "ChatGptAuthTokens",
    ]


async def test_reload_adopts_a_changed_account_only_when_asked(
    make_manager: MakeManager, issuer: FakeIssuer, codex_home: Path
) -> None:
    manager = make_manager()
    original = await managed_login(manager, issuer, "acct-1")
    write_chatgpt_auth_json(codex_home, issuer.issue_tokens("acct-2"), account_id="acct-2")
    assert await manager.reload() == original
    adopted = await manager.reload(adopt_changed_account=True)
    assert isinstance(adopted, ChatGptAuth) and adopted.account_id == "acct-2"
    # Same account, rotated elsewhere: adopted without asking.
    rotated = issuer.issue_tokens("acct-2")
    write_chatgpt_auth_json(codex_home, rotated, account_id="acct-2")
    again = await manager.reload()
    assert isinstance(again, ChatGptAuth) and again.refresh_token == rotated["refresh_token"]


# -- managed refresh -------------------------------------------------------------------------
async def test_refresh_rotates_and_persists_tokens(
    make_manager: MakeManager, issuer: FakeIssuer, codex_home: Path
) -> None:
    manager = make_manager()
    await manager.save_chatgpt_login(**issuer.issue_tokens(), api_key="sk-kept")
    before = manager.current()
    assert isinstance(before, ChatGptAuth)
    after = await manager.refresh_managed()
    assert isinstance(after, ChatGptAuth)
    assert issuer.calls["refresh"] == 1
    assert issuer.refresh_requests == [{"client_id": CLIENT_ID, "grant_type": "refresh_token"}]
    assert after.refresh_token != before.refresh_token
    assert after.access_token != before.access_token
    assert after.last_refresh >= before.last_refresh
    on_disk = read_auth_json(codex_home)
    assert on_disk["tokens"]["refresh_token"] == after.refresh_token
    assert on_disk["tokens"]["access_token"] == after.access_token
    assert on_disk["OPENAI_API_KEY"] == "sk-kept"
    assert manager.current() == after


async def test_refresh_url_comes_from_env_override(issuer: FakeIssuer, codex_home: Path) -> None:
    manager = AuthManager(codex_home, env={"CODEX_REFRESH_TOKEN_URL_OVERRIDE": issuer.token_url})
    await managed_login(manager, issuer)
    await manager.refresh_managed()
    assert issuer.calls["refresh"] == 1


@pytest.mark.parametrize(
    ("poison", "phrase"),
    [
        ("expire", "refresh token has expired"),
        ("reuse", "refresh token was already used"),
        ("revoke", "refresh token was revoked"),
    ],
)
async def test_permanent_refresh_failures_are_classified_and_cached(
    make_manager: MakeManager, issuer: FakeIssuer, poison: str, phrase: str
) -> None:
    manager = make_manager()
    auth = await managed_login(manager, issuer)
    if poison == "expire":
        issuer.expire_refresh_token(auth.refresh_token)
    elif poison == "revoke":
        issuer.revoke_refresh_token(auth.refresh_token)
    else:  # another client used it, without telling our store
        async with httpx.AsyncClient() as client:
            used = await client.post(
                issuer.token_url,
                json={
                    "client_id": CLIENT_ID,
                    "grant_type": "refresh_token",
                    "refresh_token": auth.refresh_token,
                },
            )
        assert used.status_code == 200
    calls_before = issuer.calls["refresh"]
    with pytest.raises(RefreshTokenFailed) as first:
        await manager.refresh_managed()
    assert first.value.permanent
    assert phrase in first.value.message
    assert "sign in again" in first.value.message
    assert issuer.calls["refresh"] == calls_before + 1
    with pytest.raises(RefreshTokenFailed) as second:
        await manager.refresh_managed()
    assert second.value.permanent
    assert issuer.calls["refresh"] == calls_before + 1  # cached: no network
    # The cache is per credential snapshot: a new login refreshes over the network again.
    await managed_login(manager, issuer)
    await manager.refresh_managed()
    assert issuer.calls["refresh"] == calls_before + 2


async def test_unrecognised_401_is_permanent_and_500_is_transient(
    make_manager: MakeManager, issuer: FakeIssuer
) -> None:
    manager = make_manager()
    await managed_login(manager, issuer)
    issuer.token_fail_status = 500
    for attempt in (1, 2):
        with pytest.raises(RefreshTokenFailed) as caught:
            await manager.refresh_managed()
        assert not caught.value.permanent
        assert "HTTP 500" in caught.value.message
        assert issuer.calls["token_fault"] == attempt  # transient: not cached
    issuer.token_fail_status = 401
    issuer.token_fail_code = "something_new"
    with pytest.raises(RefreshTokenFailed) as rejected:
        await manager.refresh_managed()
    assert rejected.value.permanent
    assert "something_new" in rejected.value.message
    issuer.token_fail_status = None
    assert isinstance(manager.current(), ChatGptAuth)  # a failed refresh does not log out


async def test_unreachable_and_stalled_issuer_are_transient(
    make_manager: MakeManager, issuer: FakeIssuer
) -> None:
    manager = make_manager(refresh_token_url="http://127.0.0.1:9/oauth/token")
    await managed_login(manager, issuer)
    with pytest.raises(
        RefreshTokenFailed, match="could not reach the token endpoint"
    ) as unreachable:
        await manager.refresh_managed()
    assert not unreachable.value.permanent

    stalled = make_manager(http_timeout=0.3)
    await managed_login(stalled, issuer)
    issuer.token_stall_seconds = 3
    with pytest.raises(RefreshTokenFailed, match="did not answer within 0.3 s"):
        await asyncio.wait_for(stalled.refresh_managed(), 5)


async def test_proactive_refresh_when_access_token_expires_within_5_minutes(
    make_manager: MakeManager, issuer: FakeIssuer
) -> None:
    manager = make_manager()
    issuer.access_token_ttl = 3600
    fresh = await managed_login(manager, issuer)
    assert await manager.auth() == fresh
    assert issuer.calls["refresh"] == 0

    issuer.access_token_ttl = 120  # expires in 2 minutes: due
    soon = await managed_login(manager, issuer)
    refreshed = await manager.auth()
    assert issuer.calls["refresh"] == 1
    assert isinstance(refreshed, ChatGptAuth) and refreshed.refresh_token != soon.refresh_token


@pytest.mark.parametrize(("age_days", "expect_refresh"), [(9, True), (1, False)])
async def test_proactive_refresh_falls_back_to_last_refresh_age(
    make_manager: MakeManager,
    issuer: FakeIssuer,
    codex_home: Path,
    age_days: int,
    expect_refresh: bool,
) -> None:
    tokens = issuer.issue_tokens()
    tokens["access_token"] = "opaque-access-token-without-exp"
    last = (datetime.now(UTC) - timedelta(days=age_days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    write_chatgpt_auth_json(codex_home, tokens, last_refresh=last)
    manager = make_manager()
    auth = await manager.auth()
    assert issuer.calls["refresh"] == (1 if expect_refresh else 0)
    assert isinstance(auth, ChatGptAuth)
    assert (auth.refresh_token != tokens["refresh_token"]) is expect_refresh


async def test_failed_proactive_refresh_keeps_the_old_token(
    make_manager: MakeManager, issuer: FakeIssuer
) -> None:
    manager = make_manager()
    issuer.access_token_ttl = 60
    old = await managed_login(manager, issuer)
    issuer.token_fail_status = 503
    assert await manager.auth() == old
    assert await manager.auth() == old
    assert issuer.calls["token_fault"] == 1  # a cool-down stops a retry storm


async def test_refresh_skips_the_issuer_when_another_process_already_rotated(
    make_manager: MakeManager, issuer: FakeIssuer, codex_home: Path, tmp_path: Path
) -> None:
    manager = make_manager()
    stale = await managed_login(manager, issuer)
    go_file = tmp_path / "go"
    go_file.write_text("go")
    code, stdout, stderr = await run_worker(
        "refresh", str(codex_home), issuer.token_url, str(go_file)
    )
    assert code == 0, stderr
    assert json.loads(stdout)["ok"] is True
    assert issuer.calls["refresh"] == 1
    # Our process still holds the used refresh token; refreshing must not reuse it.
    adopted = await manager.refresh_managed()
    assert issuer.calls["refresh"] == 1
    assert isinstance(adopted, ChatGptAuth)
    assert adopted.refresh_token != stale.refresh_token
    assert adopted.refresh_token == read_auth_json(codex_home)["tokens"]["refresh_token"]


async def test_two_processes_refreshing_at_once_call_the_issuer_once(
    make_manager: MakeManager, issuer: FakeIssuer, codex_home: Path, tmp_path: Path
) -> None:
    await managed_login(make_manager(), issuer)
    go_file = tmp_path / "go"
    workers = [
        asyncio.create_task(run_worker("refresh", str(codex_home), issuer.token_url, str(go_file)))
        for _ in range(2)
    ]
    await wait_until(lambda: len(ready_files(tmp_path, "go")) == 2)
    go_file.write_text("go")
    results = await asyncio.gather(*workers)
    outcomes = []
    for code, stdout, stderr in results:
        assert code == 0, stderr
        outcomes.append(json.loads(stdout))
    assert all(outcome["ok"] for outcome in outcomes), outcomes
    assert issuer.calls["refresh"] == 1
    on_disk = read_auth_json(codex_home)["tokens"]["refresh_token"]
    expected = hashlib.sha256(on_disk.encode()).hexdigest()
    assert [o["refresh_token_sha256"] for o in outcomes] == [expected, expected]
    assert file_exists(codex_home / "auth.json")


# -- 401 recovery ------------------------------------------------------------------------------
async def test_50_concurrent_401s_share_one_managed_refresh(
    make_manager: MakeManager, issuer: FakeIssuer
) -> None:
    manager = make_manager()
    await managed_login(manager, issuer)
    issuer.revoke_access_tokens()
    issuer.token_stall_seconds = 0.2  # keep the recovery in flight while the 401s pile up
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as client:
        send = whoami(issuer, client)
        responses = await asyncio.gather(
            *(manager.send_with_unauthorized_recovery(send) for _ in range(50))
        )
    assert [r.status_code for r in responses] == [200] * 50
    assert issuer.calls["refresh"] == 1
    assert issuer.calls["whoami"] == 100


async def test_50_concurrent_401s_share_one_editor_refresh(
    make_manager: MakeManager, issuer: FakeIssuer
) -> None:
    manager = make_manager()
    manager.set_editor_tokens(editor_tokens(issuer))
    asked: list[str | None] = []

    async def refresher(previous_account_id: str | None) -> ChatGptAuthTokens:
        asked.append(previous_account_id)
        await asyncio.sleep(0.1)
        return editor_tokens(issuer)

    manager.set_editor_refresher(refresher)
    issuer.revoke_access_tokens()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as client:
        send = whoami(issuer, client)
        responses = await asyncio.gather(
            *(manager.send_with_unauthorized_recovery(send) for _ in range(50))
        )
    assert [r.status_code for r in responses] == [200] * 50
    assert asked == ["acct-ed"]
    assert issuer.calls["refresh"] == 0


async def test_managed_recovery_failure_says_sign_in_again(
    make_manager: MakeManager, issuer: FakeIssuer
) -> None:
    manager = make_manager()
    auth = await managed_login(manager, issuer)
    issuer.revoke_access_tokens()
    issuer.expire_refresh_token(auth.refresh_token)
    async with httpx.AsyncClient() as client:
        with pytest.raises(AuthRecoveryFailed) as caught:
            await manager.send_with_unauthorized_recovery(whoami(issuer, client))
    assert isinstance(caught.value, CodexError)
    assert "refresh token has expired" in caught.value.message
    assert "sign in again" in caught.value.message


async def test_managed_recovery_reload_picks_up_rotation_by_another_process(
    make_manager: MakeManager, issuer: FakeIssuer, codex_home: Path
) -> None:
    manager = make_manager()
    await managed_login(manager, issuer)
    issuer.revoke_access_tokens()
    write_chatgpt_auth_json(
        codex_home, issuer.issue_tokens("acct-1")
    )  # the other process's refresh
    async with httpx.AsyncClient() as client:
        response = await manager.send_with_unauthorized_recovery(whoami(issuer, client))
    assert response.status_code == 200
    assert issuer.calls["refresh"] == 0


async def test_editor_refresh_timeout_keeps_tokens_and_next_401_asks_again(
    make_manager: MakeManager, issuer: FakeIssuer
) -> None:
    manager = make_manager(editor_refresh_timeout=0.2)
    original = editor_tokens(issuer)
    manager.set_editor_tokens(original)
    asked = 0

    async def silent_editor(previous_account_id: str | None) -> ChatGptAuthTokens:
        nonlocal asked
        asked += 1
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    manager.set_editor_refresher(silent_editor)
    issuer.revoke_access_tokens()
    async with httpx.AsyncClient() as client:
        for attempt in (1, 2):
            with pytest.raises(AuthRecoveryFailed, match="did not answer .* within 0.2 s"):
                await manager.send_with_unauthorized_recovery(whoami(issuer, client))
            assert asked == attempt
    assert manager.current() == original
    assert manager.editor_auth_active()


async def test_editor_refresh_failures_are_wrapped_with_the_reason(
    make_manager: MakeManager, issuer: FakeIssuer
) -> None:
    manager = make_manager(forced_workspace_id="acct-ed")
    manager.set_editor_tokens(editor_tokens(issuer, "acct-ed"))
    replies: list[object] = [
        InvalidRequest("auth refresh request failed: code=-32000 message=nope"),
        ValueError("weird"),
        {"accessToken": "not the right type"},
        editor_tokens(issuer, "acct-elsewhere"),
    ]
    expectations = [
        "auth refresh request failed: code=-32000 message=nope",
        "failed (ValueError)",
        "malformed reply",
        "wrong workspace: login is restricted to workspace acct-ed, but the credentials belong to workspace acct-elsewhere",
    ]

    async def refresher(previous_account_id: str | None) -> ChatGptAuthTokens:
        reply = replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply  # type: ignore[return-value]

    manager.set_editor_refresher(refresher)
    original = manager.current()
    for expected in expectations:
        with pytest.raises(AuthRecoveryFailed) as caught:
            await manager.refresh_editor_tokens()
        assert expected in caught.value.message
        assert manager.current() == original


async def test_editor_recovery_without_a_refresher_fails_clearly(
    make_manager: MakeManager, issuer: FakeIssuer
) -> None:
    manager = make_manager()
    manager.set_editor_tokens(editor_tokens(issuer))
    issuer.revoke_access_tokens()
    async with httpx.AsyncClient() as client:
        with pytest.raises(AuthRecoveryFailed, match="not registered a token refresher"):
            await manager.send_with_unauthorized_recovery(whoami(issuer, client))


async def test_api_key_401_is_returned_as_is(make_manager: MakeManager, issuer: FakeIssuer) -> None:
    manager = make_manager()
    await manager.login_api_key("sk-wrong")
    async with httpx.AsyncClient() as client:
        response = await manager.send_with_unauthorized_recovery(whoami(issuer, client))
    assert response.status_code == 401
    assert issuer.calls["whoami"] == 1
    assert issuer.calls["refresh"] == 0


async def test_not_logged_in(make_manager: MakeManager) -> None:
    manager = make_manager()

    async def never(auth: CodexAuth) -> httpx.Response:
        raise AssertionError("must not be called")

    with pytest.raises(NotLoggedIn) as caught:
        await manager.send_with_unauthorized_recovery(never)
    assert caught.value.code == -32600
    assert caught.value.message == "not logged in; sign in with account/login/start"


async def test_credentials_changed_during_the_request_are_used_without_recovery(
    make_manager: MakeManager, issuer: FakeIssuer
) -> None:
    manager = make_manager()
    manager.set_editor_tokens(editor_tokens(issuer))
    asked = 0

    async def refresher(previous_account_id: str | None) -> ChatGptAuthTokens:
        nonlocal asked
        asked += 1
        return editor_tokens(issuer)

    manager.set_editor_refresher(refresher)
    issuer.revoke_access_tokens()
    used: list[CodexAuth] = []

    async with httpx.AsyncClient() as client:
        inner = whoami(issuer, client)

        async def send(auth: CodexAuth) -> httpx.Response:
            used.append(auth)
            if len(used) == 1:  # the editor rotates tokens while this request is in flight
                manager.set_editor_tokens(editor_tokens(issuer))
            return await inner(auth)

        response = await manager.send_with_unauthorized_recovery(send)
    assert response.status_code == 200
    assert asked == 0
    assert used[1] == manager.current() != used[0]


async def test_proactive_editor_refresh_within_window(
    make_manager: MakeManager, issuer: FakeIssuer
) -> None:
    manager = make_manager(editor_proactive_window=60)
    expiring = editor_tokens(issuer, exp_in=30)
    manager.set_editor_tokens(expiring)
    fresh = editor_tokens(issuer, exp_in=3600)
    outcomes: list[object] = [RuntimeError("editor busy"), fresh]

    async def refresher(previous_account_id: str | None) -> ChatGptAuthTokens:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, ChatGptAuthTokens)
        return outcome

    assert await manager.auth() == expiring  # no refresher installed yet: nothing to ask
    manager.set_editor_refresher(refresher)
    assert await manager.auth() == expiring  # failed: carry on with the old token
    assert len(outcomes) == 1
    assert await manager.refresh_editor_tokens() == fresh  # explicit refresh is not held back
    assert await manager.auth() == fresh
    assert outcomes == []


async def test_secrets_never_reach_logs_or_errors(
    make_manager: MakeManager, issuer: FakeIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    manager = make_manager()
    errors: list[str] = []
    auth = await managed_login(manager, issuer)
    secrets_seen = [auth.access_token, auth.refresh_token, auth.id_token.raw_jwt]
    refreshed = await manager.refresh_managed()
    assert isinstance(refreshed, ChatGptAuth)
    secrets_seen += [refreshed.access_token, refreshed.refresh_token]
    issuer.token_fail_status = 500
    with pytest.raises(RefreshTokenFailed) as transient:
        await manager.refresh_managed()
    errors.append(transient.value.message)
    issuer.token_fail_status = None
    issuer.revoke_refresh_token(refreshed.refresh_token)
    issuer.revoke_access_tokens()
    async with httpx.AsyncClient() as client:
        with pytest.raises(AuthRecoveryFailed) as recovery:
            await manager.send_with_unauthorized_recovery(whoami(issuer, client))
    errors.append(recovery.value.message)
    await manager.login_api_key("sk-super-secret-key")
    secrets_seen.append("sk-super-secret-key")
    text = caplog.text + "\n".join(errors) + repr(manager.current())
    for secret in secrets_seen:
        assert secret not in text
