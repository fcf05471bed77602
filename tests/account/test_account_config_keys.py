"""config.toml keys added for upstream parity (issue 16): forced_chatgpt_workspace_id as a string
or a list, relative writable_roots refused at start-up, and the login timeout key (the env var
still wins)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from account_support import account_session

from codex_lsp.auth.claims import chatgpt_auth_tokens_from_editor
from codex_lsp.auth.manager import AuthManager
from codex_lsp.config import ConfigError, load_config
from codex_lsp.errors import InvalidRequest
from codex_lsp.fakes.issuer import FakeIssuer
from harness import server_env


def _config(home: Path, text: str):
    (home / "config.toml").write_text(text)
    return load_config(home)


def test_forced_workspace_accepts_a_string_or_a_list(tmp_path: Path) -> None:
    assert (
        _config(tmp_path, 'forced_chatgpt_workspace_id = "ws-a"\n').forced_chatgpt_workspace_id
        == "ws-a"
    )
    listed = _config(tmp_path, 'forced_chatgpt_workspace_id = ["ws-a", "ws-b"]\n')
    assert listed.forced_chatgpt_workspace_id == ("ws-a", "ws-b")
    for bad in ("[]", '[""]', "[1]", '""', "5"):
        with pytest.raises(ConfigError, match="forced_chatgpt_workspace_id"):
            _config(tmp_path, f"forced_chatgpt_workspace_id = {bad}\n")


def test_a_workspace_list_allows_each_of_its_workspaces_and_names_them_when_refusing(
    tmp_path: Path,
) -> None:
    issuer = FakeIssuer()
    manager = AuthManager(tmp_path, "ephemeral", forced_workspace_id=("ws-a", "ws-b"), env={})
    assert manager.forced_workspace_ids == ("ws-a", "ws-b") and manager.forced_workspace_id is None
    for allowed in ("ws-a", "ws-b"):
        token = issuer.make_jwt(account_id=allowed)
        manager.set_editor_tokens(
            chatgpt_auth_tokens_from_editor(token, chatgpt_account_id=allowed)
        )
    token = issuer.make_jwt(account_id="ws-c")
    with pytest.raises(InvalidRequest) as exc:
        manager.set_editor_tokens(chatgpt_auth_tokens_from_editor(token, chatgpt_account_id="ws-c"))
    assert "one of ws-a, ws-b" in exc.value.message and "ws-c" in exc.value.message


def test_relative_writable_roots_are_refused_naming_the_key(tmp_path: Path) -> None:
    assert _config(
        tmp_path, '[sandbox_workspace_write]\nwritable_roots = ["/abs/ok"]\n'
    ).sandbox_workspace_write.writable_roots == ("/abs/ok",)
    for bad in ("build/out", "./x", "~/x", ""):
        with pytest.raises(
            ConfigError, match=r"'sandbox_workspace_write\.writable_roots' must hold absolute"
        ):
            _config(tmp_path, f'[sandbox_workspace_write]\nwritable_roots = ["/abs", "{bad}"]\n')


def test_the_server_refuses_to_start_with_a_relative_writable_root(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[sandbox_workspace_write]\nwritable_roots = ["rel/dir"]\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "codex_lsp"],
        env=server_env(tmp_path, None),
        input=b"",
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 2
    stderr = proc.stderr.decode()
    assert "sandbox_workspace_write.writable_roots" in stderr and "rel/dir" in stderr
    assert "Traceback" not in stderr


def test_login_timeout_key(tmp_path: Path) -> None:
    assert _config(tmp_path, "[lsp]\nlogin_timeout_s = 42\n").lsp.login_timeout_s == 42.0
    assert _config(tmp_path, "").lsp.login_timeout_s is None
    with pytest.raises(ConfigError, match="lsp.login_timeout_s"):
        _config(tmp_path, "[lsp]\nlogin_timeout_s = 0\n")


@pytest.mark.parametrize(
    ("key", "env", "expected"), [(1.0, None, 1.0), (300.0, "1", 1.0)], ids=["key", "env-wins"]
)
async def test_login_timeout_from_config_and_env(
    codex_home: Path, issuer: FakeIssuer, key: float, env: str | None, expected: float
) -> None:
    extra = {"CODEX_LOGIN_TIMEOUT_S": env} if env else {}
    async with account_session(
        codex_home, issuer, args=("-c", f"lsp.login_timeout_s={key}"), env=extra
    ) as s:
        mark = s.mark()
        started = time.monotonic()
        await s.call("account/login/start", {"type": "chatgptDeviceCode"})
        completed = await s.wait_for("account/login/completed", since=mark, timeout=20)
        assert completed["success"] is False and "timed out" in completed["error"].lower(), (
            completed
        )
        assert time.monotonic() - started < expected + 5
