"""The Neovim plugin in headless Neovim 0.7+, driving the real server through its user commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from client_support import (
    CLIENT_TESTS,
    NVIM_DIR,
    child_env,
    fake_config,
    jwt_tokens,
    read_json,
    require_tool,
    responses_bearers,
    run_client,
    script_turn_with_401_and_command,
    server_command,
)

from codex_lsp.fakes.backend import FakeBackend
from codex_lsp.fakes.issuer import FakeIssuer

DRIVER = CLIENT_TESTS / "drive_nvim.lua"


def drive_nvim(
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    *,
    steps: str,
    command: list[str],
    tokens: dict[str, Any] | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    require_tool("nvim")
    result_file = tmp_path / "nvim-result.json"
    env = child_env(
        codex_home,
        {
            "CODEX_NVIM_DIR": str(NVIM_DIR),
            "CODEX_SERVER_CMD": json.dumps(command),
            "CODEX_WORKSPACE": str(workspace),
            "CODEX_TOKENS": json.dumps(tokens or {}),
            "CODEX_STEPS": steps,
            "CODEX_RESULT_FILE": str(result_file),
            "XDG_STATE_HOME": str(
                tmp_path / "xdg-state"
            ),  # nvim's lsp.log stays in the test's tmp dir
            "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
            **(extra or {}),
        },
    )
    argv = ["nvim", "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {DRIVER}"]
    proc = run_client(argv, env, workspace, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = read_json(result_file)
    assert "fatal" not in record, record["fatal"]
    assert record["client_stopped"], "the server did not exit after stop_client"
    return record


def test_plugin_starts_the_server_answers_refresh_synchronously_and_reports_health(
    tmp_path: Path, codex_home: Path, workspace: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    refreshed = {
        "accessToken": issuer.make_jwt(account_id="acct-9"),
        "chatgptAccountId": "acct-9",
        "chatgptPlanType": "team",
    }
    record = drive_nvim(
        tmp_path,
        codex_home,
        workspace,
        steps="start,refresh_hook,health",
        command=server_command(*fake_config(backend.base_url)),
        tokens={"unauthorized": refreshed},
    )
    assert record["steps"]["start"]["ok"], record["steps"]["start"]
    assert record["state"]["server_info"]["name"] == "codex-lsp"
    assert record["state"]["codex"]["codexHome"] == str(codex_home.resolve())
    # get_tokens was called with the server's reason and hint, and its answer reached the server.
    assert record["steps"]["refresh_hook"]["ok"], record["steps"]["refresh_hook"]
    assert record["hook_answer"] == {"answer": refreshed}
    assert record["token_calls"] == [{"reason": "unauthorized", "previous_account_id": "acct-hook"}]
    health = "\n".join(record["health"])
    assert "## codex_lsp" in health
    assert "OK: server found:" in health and "(codex-lsp 0.1.0)" in health
    assert "sandbox backend available: bwrap" in health
    assert "auth state: signed out" in health


def test_plugin_answers_an_error_when_get_tokens_returns_nothing(
    tmp_path: Path, codex_home: Path, workspace: Path, backend: FakeBackend
) -> None:
    record = drive_nvim(
        tmp_path,
        codex_home,
        workspace,
        steps="start,refresh_hook",
        command=server_command(*fake_config(backend.base_url)),
        tokens={},
    )
    answer = record["hook_answer"]
    assert answer["error"]["code"] == -32603
    assert "editor answered with error -32603" in answer["error"]["message"]
    assert "get_tokens must return" in answer["error"]["message"]
    assert any("token refresh" in e for e in record["state"]["errors"])


def test_checkhealth_reports_a_missing_server(
    tmp_path: Path, codex_home: Path, workspace: Path
) -> None:
    record = drive_nvim(
        tmp_path, codex_home, workspace, steps="health", command=["/nonexistent/codex-lsp"]
    )
    health = "\n".join(record["health"])
    assert "ERROR: server command not found: /nonexistent/codex-lsp" in health
    assert "auth state: server not running" in health


def test_plugin_logs_in_reports_status_and_health_and_logs_out(
    tmp_path: Path, codex_home: Path, workspace: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    tokens = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    record = drive_nvim(
        tmp_path,
        codex_home,
        workspace,
        steps="start,login,status,health,logout,account_after",
        command=server_command(*fake_config(backend.base_url)),
        tokens={"login": tokens},
    )
    assert all(s["ok"] for s in record["steps"].values()), record["steps"]
    assert record["token_calls"] == [{"reason": "login", "previous_account_id": None}]
    assert record["account_after_login"] == {
        "type": "chatgpt",
        "email": "me@example.com",
        "planType": "pro",
    }
    assert record["auth_mode_after_login"] == "chatgptAuthTokens"  # from account/updated
    status = record["status"]
    assert status["authMode"] == "chatgptAuthTokens"
    assert any("me@example.com" in line for line in status["lines"])
    health = "\n".join(record["health"])
    assert "OK: auth state: signed in (chatgptAuthTokens) as me@example.com" in health
    assert f"sandbox backend available: {status['sandboxBackend']}" in health
    # After :CodexLogout the server itself says nobody is signed in.
    assert record["account_read_after_logout"] == {"requiresOpenaiAuth": True}
    assert record["state"]["auth_mode"] is None and record["statusline"] == "Codex: signed out"
    assert record["state"]["errors"] == []
    assert tokens["accessToken"] not in json.dumps(record)


def nvim_turn_flow(
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
    decision: str,
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    login = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    rotated = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    script_turn_with_401_and_command(backend, login, rotated)
    record = drive_nvim(
        tmp_path,
        codex_home,
        workspace,
        steps="start,login,ask,status,logout,account_after",
        command=server_command(*fake_config(backend.base_url)),
        tokens={"login": login, "unauthorized": rotated},
        extra={
            "CODEX_APPROVAL_POLICY": "untrusted",
            "CODEX_PROMPT": "make a file",
            "CODEX_APPROVAL_DECISION": decision,
        },
    )
    return record, login, rotated


def test_plugin_turn_refreshes_tokens_after_a_401_and_runs_an_approved_command(
    tmp_path: Path, codex_home: Path, workspace: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    record, login, rotated = nvim_turn_flow(
        tmp_path, codex_home, workspace, issuer, backend, "accept"
    )
    assert all(s["ok"] for s in record["steps"].values()), record["steps"]
    # get_tokens answered the server's refresh request synchronously, with the workspace hint.
    assert record["token_calls"] == [
        {"reason": "login", "previous_account_id": None},
        {"reason": "unauthorized", "previous_account_id": "acct-1"},
    ]
    assert responses_bearers(backend, login, rotated)[:2] == ["login", "rotated"]
    assert [(a["command"], a["cwd"], a["decision"]) for a in record["approvals"]] == [
        ("touch made-by-agent.txt", str(workspace), "accept")
    ]
    assert record["approvals"][0]["thread_id"]
    assert (workspace / "made-by-agent.txt").exists()
    assert record["turn"]["status"] == "completed"
    assert record["turn"]["text"].startswith("The command finished.")
    output = "\n".join(record["output"])
    assert (
        "$ touch made-by-agent.txt" in output
        and "[exit 0]" in output
        and "--- turn completed ---" in output
    )
    assert record["statusline_after_ask"].startswith("Codex: pro")
    assert any("Sandbox" in line or "sandbox" in line for line in record["status"]["lines"])
    assert record["account_read_after_logout"] == {"requiresOpenaiAuth": True}
    assert record["state"]["errors"] == []
    assert login["accessToken"] not in json.dumps(record) and rotated[
        "accessToken"
    ] not in json.dumps(record)


def test_plugin_declined_approval_leaves_the_workspace_untouched(
    tmp_path: Path, codex_home: Path, workspace: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    record, _, _ = nvim_turn_flow(tmp_path, codex_home, workspace, issuer, backend, "decline")
    assert [a["decision"] for a in record["approvals"]] == ["decline"]
    assert not (workspace / "made-by-agent.txt").exists()
    assert record["turn"]["status"] == "completed"  # declining tells the model; the turn goes on
