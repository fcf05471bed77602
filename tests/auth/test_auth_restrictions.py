from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from auth_helpers import write_chatgpt_auth_json

from codex_lsp.auth.claims import chatgpt_auth_tokens_from_editor
from codex_lsp.auth.manager import AuthManager
from codex_lsp.auth.model import ApiKeyAuth
from codex_lsp.auth.restrictions import (
    check_login_method,
    check_workspace,
    enforce_login_restrictions,
)
from codex_lsp.errors import InvalidParams, InvalidRequest
from codex_lsp.fakes.issuer import FakeIssuer

MakeManager = Callable[..., AuthManager]


@pytest.mark.parametrize(
    ("forced", "requested", "fragment"),
    [
        ("chatgpt", "apiKey", "API key login is disabled"),
        ("api", "chatgpt", "ChatGPT login is disabled"),
        ("api", "chatgptAuthTokens", "external ChatGPT auth (chatgptAuthTokens) is disabled"),
    ],
)
def test_login_method_violations(forced: str, requested: str, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_login_method(forced, requested)  # type: ignore[arg-type]
    assert fragment in caught.value.message
    assert caught.value.code == -32600
    assert "instead" in caught.value.message  # says what to do


@pytest.mark.parametrize(
    ("forced", "requested"),
    [
        (None, "apiKey"),
        (None, "chatgpt"),
        ("chatgpt", "chatgpt"),
        ("chatgpt", "chatgptAuthTokens"),
        ("api", "apiKey"),
    ],
)
def test_allowed_login_methods(forced: str | None, requested: str) -> None:
    check_login_method(forced, requested)  # type: ignore[arg-type]


def test_workspace_check_names_expected_and_received() -> None:
    check_workspace(None, "anything")
    check_workspace("ws-1", "ws-1")
    with pytest.raises(InvalidRequest) as wrong:
        check_workspace("ws-1", "ws-2")
    assert "ws-1" in wrong.value.message and "ws-2" in wrong.value.message
    with pytest.raises(InvalidRequest, match="carry no workspace id"):
        check_workspace("ws-1", None)


def test_unknown_forced_login_method_is_rejected(codex_home: Path) -> None:
    with pytest.raises(InvalidParams, match="forced_login_method"):
        AuthManager(codex_home, forced_login_method="sso", env={})


async def test_manager_refuses_disallowed_logins(
    make_manager: MakeManager, issuer: FakeIssuer, codex_home: Path
) -> None:
    chatgpt_only = make_manager(forced_login_method="chatgpt")
    with pytest.raises(InvalidRequest, match="API key login is disabled"):
        await chatgpt_only.login_api_key("sk-nope")
    assert not (codex_home / "auth.json").exists()
    api_only = make_manager(forced_login_method="api")
    with pytest.raises(InvalidRequest, match="ChatGPT login is disabled"):
        await api_only.save_chatgpt_login(**issuer.issue_tokens())
    access = issuer.issue_access_token("acct-x")
    with pytest.raises(InvalidRequest, match="chatgptAuthTokens"):
        api_only.set_editor_tokens(
            chatgpt_auth_tokens_from_editor(access, chatgpt_account_id="acct-x")
        )
    ws_locked = make_manager(forced_workspace_id="acct-allowed")
    with pytest.raises(InvalidRequest, match="acct-allowed.*acct-x"):
        ws_locked.set_editor_tokens(
            chatgpt_auth_tokens_from_editor(access, chatgpt_account_id="acct-x")
        )
    assert not ws_locked.editor_auth_active()


async def test_no_restrictions_means_nothing_to_enforce(
    make_manager: MakeManager, codex_home: Path
) -> None:
    (codex_home / "auth.json").write_text("{corrupt")
    assert await enforce_login_restrictions(make_manager()) is None
    assert (codex_home / "auth.json").exists()


async def test_enforcement_logs_out_an_api_key_when_chatgpt_is_forced(
    make_manager: MakeManager, codex_home: Path
) -> None:
    await make_manager().login_api_key("sk-stored")
    manager = make_manager(forced_login_method="chatgpt")
    message = await enforce_login_restrictions(manager)
    assert message is not None
    assert "ChatGPT login is required" in message and "logging out" in message
    assert not (codex_home / "auth.json").exists()
    assert manager.current() is None


async def test_enforcement_logs_out_chatgpt_when_api_is_forced(
    make_manager: MakeManager, issuer: FakeIssuer, codex_home: Path
) -> None:
    write_chatgpt_auth_json(codex_home, issuer.issue_tokens())
    message = await enforce_login_restrictions(make_manager(forced_login_method="api"))
    assert message is not None and "API key login is required" in message
    assert not (codex_home / "auth.json").exists()


async def test_enforcement_logs_out_the_wrong_workspace(
    make_manager: MakeManager, issuer: FakeIssuer, codex_home: Path
) -> None:
    write_chatgpt_auth_json(codex_home, issuer.issue_tokens("acct-b"), account_id="acct-b")
    message = await enforce_login_restrictions(make_manager(forced_workspace_id="acct-a"))
    assert message is not None
    assert "acct-a" in message and "acct-b" in message and "logging out" in message
    assert not (codex_home / "auth.json").exists()


async def test_enforcement_keeps_compliant_credentials(
    make_manager: MakeManager, issuer: FakeIssuer, codex_home: Path
) -> None:
    write_chatgpt_auth_json(codex_home, issuer.issue_tokens("acct-a"), account_id="acct-a")
    manager = make_manager(forced_login_method="chatgpt", forced_workspace_id="acct-a")
    assert await enforce_login_restrictions(manager) is None
    assert (codex_home / "auth.json").exists()
    # API keys are not subject to the workspace rule.
    api_home = codex_home / "api"
    await make_manager(codex_home=api_home).login_api_key("sk-ok")
    api_manager = make_manager(codex_home=api_home, forced_workspace_id="acct-a")
    assert await enforce_login_restrictions(api_manager) is None
    assert api_manager.current() == ApiKeyAuth("sk-ok")


async def test_enforcement_logs_out_unreadable_credentials_when_workspace_is_forced(
    make_manager: MakeManager, codex_home: Path
) -> None:
    (codex_home / "auth.json").write_text("{corrupt")
    message = await enforce_login_restrictions(make_manager(forced_workspace_id="acct-a"))
    assert message is not None
    assert "could not load the stored credentials" in message and "not valid JSON" in message
    assert not (codex_home / "auth.json").exists()


async def test_enforcement_mentions_an_env_api_key_it_cannot_remove(
    make_manager: MakeManager,
) -> None:
    manager = make_manager(forced_login_method="chatgpt", env={"CODEX_API_KEY": "sk-env"})
    message = await enforce_login_restrictions(manager)
    assert message is not None and "unset it" in message and "CODEX_API_KEY" in message
