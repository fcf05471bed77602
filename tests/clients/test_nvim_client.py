"""The Neovim plugin in headless Neovim, on Debian's 0.7.2 and on a current Neovim (PyPI), driving the
real server through its user commands."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from client_support import (
    CLIENT_TESTS,
    NVIM_DIR,
    child_env,
    fake_config,
    jwt_tokens,
    read_json,
    require_nvim,
    responses_bearers,
    run_client,
    script_turn_with_401_and_command,
    server_command,
)

from codex_lsp.fakes.backend import FakeBackend, function_call, patch_call, text
from codex_lsp.fakes.issuer import FakeIssuer

DRIVER = CLIENT_TESTS / "drive_nvim.lua"


def drive_nvim(
    nvim: str,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    *,
    steps: str,
    command: list[str],
    tokens: dict[str, Any] | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
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
    argv = [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {DRIVER}"]
    proc = run_client(argv, env, workspace, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = read_json(result_file)
    assert "fatal" not in record, record["fatal"]
    assert record["client_stopped"], "the server did not exit after stop_client"
    return record


def test_plugin_starts_the_server_answers_refresh_synchronously_and_reports_health(
    nvim: str,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    refreshed = {
        "accessToken": issuer.make_jwt(account_id="acct-9"),
        "chatgptAccountId": "acct-9",
        "chatgptPlanType": "team",
    }
    record = drive_nvim(
        nvim,
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
    assert "codex_lsp" in health
    assert "server starts:" in health and "(codex-lsp 0.1.0)" in health
    assert "sandbox backend available: bwrap" in health
    assert "signed out" in health


def test_plugin_answers_an_error_when_get_tokens_returns_nothing(
    nvim: str, tmp_path: Path, codex_home: Path, workspace: Path, backend: FakeBackend
) -> None:
    record = drive_nvim(
        nvim,
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
    nvim: str, tmp_path: Path, codex_home: Path, workspace: Path
) -> None:
    record = drive_nvim(
        nvim, tmp_path, codex_home, workspace, steps="health", command=["/nonexistent/codex-lsp"]
    )
    health = "\n".join(record["health"])
    assert "server command not found: /nonexistent/codex-lsp" in health
    assert "the plugin has not started the server yet" in health


def test_plugin_logs_in_reports_status_and_health_and_logs_out(
    nvim: str,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    tokens = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    record = drive_nvim(
        nvim,
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
    assert "signed in (chatgptAuthTokens) as me@example.com" in health
    assert f"sandbox backend available: {status['sandboxBackend']}" in health
    # After :CodexLogout the server itself says nobody is signed in.
    assert record["account_read_after_logout"].get("account") is None  # 0.7 drops JSON null keys
    assert record["account_read_after_logout"]["requiresOpenaiAuth"] is True
    assert record["state"]["auth_mode"] is None and record["statusline"] == "Codex: signed out"
    assert record["state"]["errors"] == []
    assert tokens["accessToken"] not in json.dumps(record)


def nvim_turn_flow(
    nvim: str,
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
        nvim,
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
    nvim: str,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    record, login, rotated = nvim_turn_flow(
        nvim, tmp_path, codex_home, workspace, issuer, backend, "accept"
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
        output.index("> make a file")
        < output.index("$ touch made-by-agent.txt")
        < output.index("[exit 0]")
        < output.index("-- done --")
    )
    assert record["chat_windows"] == 1  # :CodexAsk opened the chat window
    assert record["statusline_after_ask"].startswith("Codex: pro")
    assert any("Sandbox" in line or "sandbox" in line for line in record["status"]["lines"])
    assert record["account_read_after_logout"].get("account") is None  # 0.7 drops JSON null keys
    assert record["account_read_after_logout"]["requiresOpenaiAuth"] is True
    assert record["state"]["errors"] == []
    assert login["accessToken"] not in json.dumps(record) and rotated[
        "accessToken"
    ] not in json.dumps(record)


def test_plugin_declined_approval_leaves_the_workspace_untouched(
    nvim: str,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    record, _, _ = nvim_turn_flow(nvim, tmp_path, codex_home, workspace, issuer, backend, "decline")
    assert [a["decision"] for a in record["approvals"]] == ["decline"]
    assert not (workspace / "made-by-agent.txt").exists()
    assert record["turn"]["status"] == "completed"  # declining tells the model; the turn goes on


def test_async_get_tokens_keeps_the_editor_running_and_no_buffer_is_attached(
    nvim: str,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    """get_tokens answers through its callback after 2 s. On 0.10+ the plugin answers the server's
    request asynchronously, so a 100 ms timer keeps firing meanwhile; 0.7 has to wait (vim.wait)."""
    refreshed = {
        "accessToken": issuer.make_jwt(account_id="acct-9"),
        "chatgptAccountId": "acct-9",
        "chatgptPlanType": "team",
    }
    record = drive_nvim(
        nvim,
        tmp_path,
        codex_home,
        workspace,
        steps="start,refresh_hook",
        command=server_command(*fake_config(backend.base_url)),
        tokens={"unauthorized": refreshed},
        extra={"CODEX_TOKEN_DELAY_MS": "2000"},
    )
    assert record["hook_answer"] == {"answer": refreshed}
    assert record["steps"]["refresh_hook"]["ms"] >= 2000
    assert record["ticks_during_refresh"] >= 10, record["ticks_during_refresh"]
    assert record["attached_buffers"] == 0


def test_api_key_sign_in(
    nvim: str, tmp_path: Path, codex_home: Path, workspace: Path, backend: FakeBackend
) -> None:
    record = drive_nvim(
        nvim,
        tmp_path,
        codex_home,
        workspace,
        steps="start,login_api_key,status,logout",
        command=server_command(*fake_config(backend.base_url)),
        extra={"CODEX_API_KEY": "sk-test-nvim-key"},
    )
    assert all(s["ok"] for s in record["steps"].values()), record["steps"]
    assert record["account_after_login"]["type"] == "apiKey"
    assert record["status"]["authMode"] == "apikey"
    assert "sk-test-nvim-key" not in json.dumps(record)


def test_device_code_sign_in_shows_the_code_and_address(
    nvim: str,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    device_file = tmp_path / "device-code.txt"
    stop = threading.Event()

    def approve_when_shown() -> None:  # the user, entering the code on the issuer's page
        while not stop.wait(0.1):
            if device_file.exists() and device_file.read_text():
                issuer.approve_device(device_file.read_text())
                return

    helper = threading.Thread(target=approve_when_shown, daemon=True)
    helper.start()
    try:
        record = drive_nvim(
            nvim,
            tmp_path,
            codex_home,
            workspace,
            steps="start,login_device,logout",
            command=server_command(*fake_config(backend.base_url)),
            extra={
                "CODEX_APP_SERVER_LOGIN_ISSUER": issuer.base_url,
                "CODEX_REFRESH_TOKEN_URL_OVERRIDE": issuer.token_url,
                "CODEX_DEVICE_FILE": str(device_file),
            },
        )
    finally:
        stop.set()
        helper.join(5)
    assert record["steps"]["login_device"]["ok"], record["steps"]
    code = record["device_code"]
    assert code["verification_url"] == issuer.base_url + "/codex/device"
    output = "\n".join(record["output"])
    assert code["user_code"] in output and code["verification_url"] in output
    assert record["auth_mode_after_login"] == "chatgpt"
    assert record["account_after_login"]["email"]


def test_interrupt_stops_the_running_answer(
    nvim: str,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    tokens = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    backend.event_delay_s = 0.4  # a slow stream: the answer is still coming when we interrupt
    record = drive_nvim(
        nvim,
        tmp_path,
        codex_home,
        workspace,
        steps="start,login,interrupt",
        command=server_command(*fake_config(backend.base_url)),
        tokens={"login": tokens},
        extra={"CODEX_PROMPT": "tell me a long story"},
    )
    assert record["steps"]["interrupt"]["ok"], record["steps"]
    assert record["activity_while_running"] == "answering"
    assert "answering" in record["statusline_while_running"]
    assert record["turn"]["status"] == "interrupted"
    assert "-- stopped --" in "\n".join(record["output"])


def test_dead_server_is_reported_and_restarted_with_fresh_state(
    nvim: str,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    tokens = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    record = drive_nvim(
        nvim,
        tmp_path,
        codex_home,
        workspace,
        steps="start,login,ask,kill_server,status_after_restart",
        command=server_command(*fake_config(backend.base_url)),
        tokens={"login": tokens},
    )
    assert not record["steps"]["kill_server"]["timed_out"], record["steps"]
    assert record["steps"]["status_after_restart"]["ok"], record["steps"]
    # The user was told, in words, and how it goes on.
    told = [n["msg"] for n in record["notifications"] if "stopped" in n["msg"]]
    assert any(
        "killed by signal 9" in m and "starts again with the next Codex command" in m for m in told
    ), told
    assert record["thread_after_kill"] is None  # the dead server's conversation is forgotten
    assert record["state"]["exits"][0]["signal"] == 9
    assert any(
        "the Codex server stopped (killed by signal 9)" in e for e in record["state"]["errors"]
    )
    assert record["state"]["restarts"] == 1
    assert record["pid_after_restart"] not in (None, record["killed_pid"])
    # The new server starts signed out: editor tokens lived only in the dead one's memory.
    assert record["status"].get("authMode") is None


def test_a_bad_config_shows_the_servers_reason_at_start_and_in_checkhealth(
    nvim: str, tmp_path: Path, codex_home: Path, workspace: Path
) -> None:
    (codex_home / "config.toml").write_text('sandbox_mode = "sometimes"\n')
    record = drive_nvim(
        nvim, tmp_path, codex_home, workspace, steps="start_fails,health", command=server_command()
    )
    exits = record["state"]["exits"]
    assert exits and exits[0]["code"] == 2
    assert "sandbox_mode" in exits[0]["reason"]
    assert any("could not start" in e and "sandbox_mode" in e for e in record["state"]["errors"]), (
        record["state"]["errors"]
    )
    health = "\n".join(record["health"])
    assert "the server does not start" in health and "sandbox_mode" in health


def test_selection_is_sent_with_the_question_and_help_exists(
    nvim: str,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    tokens = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    record = drive_nvim(
        nvim,
        tmp_path,
        codex_home,
        workspace,
        steps="start,login,ask_selection,help",
        command=server_command(*fake_config(backend.base_url)),
        tokens={"login": tokens},
    )
    assert record["steps"]["ask_selection"]["ok"], record["steps"]
    sent = json.dumps(backend.requests_to("/responses")[0].body)
    assert (
        "explain this" in sent
        and "hello.txt lines 1-1" in sent
        and "hello from the workspace" in sent
    )
    assert record["attached_buffers"] == 0  # editing hello.txt did not attach it to the server
    assert record["help"]["ok"], record["help"]
    assert record["help"]["buffer"] == "codex_lsp.txt"


def test_vim_lsp_config_sets_the_command_and_enable_attaches_nothing(
    tmp_path: Path, codex_home: Path, workspace: Path, backend: FakeBackend
) -> None:
    """0.11+ only (vim.lsp.config does not exist before): lsp/codex_lsp.lua is the base config."""
    command = server_command(*fake_config(backend.base_url))
    record = drive_nvim(
        require_nvim("nvim-current"),
        tmp_path,
        codex_home,
        workspace,
        steps="edit_file,start",
        command=command,
        extra={"CODEX_USE_LSP_CONFIG": "1"},
    )
    assert (
        record["clients_after_edit"] == 0
    )  # enable() with filetypes = {} starts nothing for a file
    assert record["steps"]["start"]["ok"], record["steps"]
    assert record["server_cmd_tail"] == command[-1]  # the command came from vim.lsp.config
    assert record["attached_buffers"] == 0


def sent_texts(backend: FakeBackend) -> list[str]:
    """The message texts of the last `/responses` request (what the model was given)."""
    sent = backend.requests_to("/responses")[-1].body
    return [
        part.get("text")
        for item in sent["input"]
        for part in item.get("content", [])
        if isinstance(part, dict)
    ]


def test_resume_picks_a_conversation_of_an_earlier_server_shows_it_and_continues_it(
    nvim: str,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    """Two Neovim sessions, each with its own server, share CODEX_HOME: the second one's
    :CodexResume offers the first one's conversation, shows it, and :CodexAsk continues it."""
    login = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    command = server_command(*fake_config(backend.base_url))
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    backend.script_next([text("Noted: the codeword is plum.")])
    first = drive_nvim(
        nvim,
        tmp_path / "first",
        codex_home,
        workspace,
        steps="start,login,ask",
        command=command,
        tokens={"login": login},
        extra={"CODEX_PROMPT": "the codeword is plum"},
    )
    assert all(s["ok"] for s in first["steps"].values()), first["steps"]
    thread_id = first["state"]["thread_id"]
    backend.script_next([text("It was plum.")])
    second = drive_nvim(
        nvim,
        tmp_path / "second",
        codex_home,
        workspace,
        steps="start,login,resume,ask",
        command=command,
        tokens={"login": login},
        extra={"CODEX_PROMPT": "which codeword?"},
    )
    assert all(s["ok"] for s in second["steps"].values()), second["steps"]
    offered = second["resume_offered"]
    assert offered["prompt"] == "Resume which conversation?"
    assert [t["id"] for t in offered["items"]] == [thread_id]
    assert offered["items"][0]["label"].endswith("  the codeword is plum")
    assert second["resumed_thread_id"] == thread_id
    # The earlier conversation is in the chat window, in order.
    chat = "\n".join(second["chat_after_resume"])
    assert chat.index("> the codeword is plum") < chat.index("Noted: the codeword is plum.")
    assert second["chat_windows_after_resume"] == 1
    # The next question went to that thread, and the model got the earlier messages with it.
    assert second["state"]["thread_id"] == thread_id
    assert second["turn"]["status"] == "completed" and second["turn"]["text"] == "It was plum."
    texts = sent_texts(backend)
    assert texts.index("the codeword is plum") < texts.index("Noted: the codeword is plum.")
    assert texts.index("Noted: the codeword is plum.") < texts.index("which codeword?")
    assert second["state"]["errors"] == []


GREETING_PATCH = (
    "*** Begin Patch\n*** Update File: hello.txt\n@@\n"
    "-hello from the workspace\n+hello from codex\n*** End Patch\n"
)


@pytest.mark.parametrize("decision", ["accept", "decline"])
def test_file_change_review_of_a_real_apply_patch_shows_the_diff_and_the_answer_decides(
    nvim: str,
    decision: str,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    """The model calls apply_patch; under `untrusted` the server asks the plugin, which shows the
    diff in the chat before asking. Accept writes the file, decline leaves it as it was."""
    login = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    backend.script_next([patch_call(GREETING_PATCH, call_id="call_patch_1")])
    record = drive_nvim(
        nvim,
        tmp_path,
        codex_home,
        workspace,
        steps="start,login,ask",
        command=server_command(*fake_config(backend.base_url)),
        tokens={"login": login},
        extra={
            "CODEX_APPROVAL_POLICY": "untrusted",
            "CODEX_PROMPT": "change the greeting",
            "CODEX_APPROVAL_DECISION": decision,
        },
    )
    assert all(s["ok"] for s in record["steps"].values()), record["steps"]
    hello = workspace / "hello.txt"
    assert [
        (a["kind"], a["item_id"], a["paths"], a["decision"]) for a in record["state"]["approvals"]
    ] == [("fileChange", "call_patch_1", [str(hello)], decision)]
    output = "\n".join(record["output"])
    # The diff was in the chat before the question was answered.
    assert (
        output.index("> change the greeting")
        < output.index("~ update " + str(hello))
        < output.index("Apply these file changes?")
        < output.index("-hello from the workspace")
        < output.index("+hello from codex")
        < output.index("-> " + {"accept": "Accept", "decline": "Decline"}[decision])
    )
    assert record["turn"]["status"] == "completed"
    if decision == "accept":
        assert hello.read_text() == "hello from codex\n"
        assert "[file changes completed]" in output
        assert "+hello from codex" in record["state"]["turn_diff"]  # turn/diff/updated
    else:
        assert hello.read_text() == "hello from the workspace\n"
        assert "[file changes declined]" in output
        assert record["state"]["turn_diff"] is None
    assert record["state"]["errors"] == []


PLAN = {
    "explanation": "Two steps left.",
    "plan": [
        {"step": "read the file", "status": "completed"},
        {"step": "change the greeting", "status": "in_progress"},
        {"step": "run the tests", "status": "pending"},
    ],
}


def test_a_real_update_plan_shows_in_the_chat_and_the_statusline(
    nvim: str,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    login = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    backend.script_next([function_call("update_plan", PLAN, call_id="plan_1")])
    backend.script_next([text("Working on the greeting now.")])
    backend.event_delay_s = 0.05  # the rest of the turn takes a moment: the statusline is sampled
    record = drive_nvim(
        nvim,
        tmp_path,
        codex_home,
        workspace,
        steps="start,login,ask",
        command=server_command(*fake_config(backend.base_url)),
        tokens={"login": login},
        extra={"CODEX_PROMPT": "plan the change"},
    )
    assert all(s["ok"] for s in record["steps"].values()), record["steps"]
    output = "\n".join(record["output"])
    assert (
        output.index("> plan the change")
        < output.index(
            "Plan:\n  Two steps left.\n  [x] read the file\n  [>] change the greeting\n  [ ] run the tests"
        )
        < output.index("Working on the greeting now.")
        < output.index("-- done --")
    )
    assert record["state"]["plan"]["steps"][1] == {
        "step": "change the greeting",
        "status": "inProgress",
    }
    # While the turn ran the statusline showed the plan's progress; after it, no more.
    assert any("plan 1/3" in line for line in record["statuslines_during_ask"]), record[
        "statuslines_during_ask"
    ]
    assert "plan" not in record["statusline"]
    assert record["turn"]["status"] == "completed"
    assert record["state"]["errors"] == []
