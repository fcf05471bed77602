"""The VS Code extension: it compiles with tsc, and its protocol core (compiled JS, run by node with
vscode-jsonrpc) drives the real server through sign-in, token refresh, a turn with an approval,
status and sign-out."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from client_support import (
    CLIENT_TESTS,
    VSCODE_DIR,
    child_env,
    fake_config,
    jwt_tokens,
    read_json,
    require_tool,
    responses_bearers,
    run_client,
    run_tsc,
    script_turn_with_401_and_command,
    server_command,
)

from codex_lsp.fakes.backend import FakeBackend, function_call, patch_call, text
from codex_lsp.fakes.issuer import FakeIssuer

DRIVER = CLIENT_TESTS / "drive_vscode_core.mjs"


def drive(
    out: Path,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    *,
    steps: str,
    command: list[str],
    tokens: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    require_tool("node")
    result_file = tmp_path / "vscode-result.json"
    tokens_file = tmp_path / "tokens.json"
    tokens_file.write_text(json.dumps(tokens or {}))
    tokens_file.chmod(0o600)
    env = child_env(
        codex_home,
        {
            "CODEX_VSCODE_OUT": str(out),
            "CODEX_SERVER_CMD": json.dumps(command),
            "CODEX_SERVER_ENV": json.dumps(child_env(codex_home)),
            "CODEX_WORKSPACE": str(workspace),
            "CODEX_TOKENS_FILE": str(tokens_file),
            "CODEX_STEPS": steps,
            "CODEX_RESULT_FILE": str(result_file),
            "CODEX_DEADLINE_MS": "60000",
            **(extra or {}),
        },
    )
    proc = run_client(["node", str(DRIVER)], env, workspace, timeout=90)
    record = read_json(result_file)
    assert proc.returncode == 0, f"driver failed: {record.get('fatal')}\n{proc.stderr[-3000:]}"
    return record


def test_whole_extension_compiles_with_tsc() -> None:
    result = run_tsc("--noEmit")
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_json_declares_the_commands_configuration_and_pinned_deps() -> None:
    package = json.loads((VSCODE_DIR / "package.json").read_text())
    commands = {c["command"]: c["title"] for c in package["contributes"]["commands"]}
    assert commands == {
        "codex.signIn": "Sign in",
        "codex.signOut": "Sign out",
        "codex.status": "Status",
        "codex.ask": "Ask",
        "codex.interrupt": "Stop the running answer",
        "codex.resume": "Resume a past conversation",
    }
    assert {"codex.server.command", "codex.server.args", "codex.tokens.file"} <= set(
        package["contributes"]["configuration"]["properties"]
    )
    lock = json.loads((VSCODE_DIR / "package-lock.json").read_text())
    installed = {
        path.removeprefix("node_modules/"): info["version"]
        for path, info in lock["packages"].items()
        if path
    }
    deps = {**package["dependencies"], **package["devDependencies"]}
    for name, version in deps.items():
        assert version[0].isdigit(), f"{name} is not pinned: {version}"
        assert installed[name] == version, (
            f"package-lock.json has {name} {installed[name]}, package.json {version}"
        )
    # vscode-languageclient's own vscode-jsonrpc is the one the core is compiled against (deduplicated).
    assert "node_modules/vscode-languageclient/node_modules/vscode-jsonrpc" not in lock["packages"]
    assert installed["vscode-jsonrpc"].startswith("8.")


def test_core_handshake_models_and_refresh_answer_from_the_token_provider(
    vscode_out: Path,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    tokens = {
        "accessToken": issuer.make_jwt(account_id="acct-7"),
        "chatgptAccountId": "acct-7",
        "chatgptPlanType": "plus",
    }
    record = drive(
        vscode_out,
        tmp_path,
        codex_home,
        workspace,
        steps="init,models,refreshHook",
        command=server_command(*fake_config(backend.base_url)),
        tokens=tokens,
    )
    init = record["steps"]["init"]
    assert init["ok"], init
    assert init["result"]["serverInfo"]["name"] == "codex-lsp"
    assert init["result"]["codex"]["codexHome"] == str(codex_home.resolve())
    models = record["steps"]["models"]
    assert models["ok"] and models["result"], models
    refresh = record["steps"]["refreshHook"]
    assert refresh["ok"], refresh
    # The server got exactly what the sample JsonFileTokenProvider read from the file.
    assert refresh["result"] == tokens
    assert record["tokenCalls"] == [{"reason": "unauthorized", "previousAccountId": "acct-hook"}]
    assert record["refreshCount"] == 1
    assert record["serverExitCode"] == 0
    assert record["errors"] == []


def test_core_reports_a_broken_token_provider_to_the_server_and_the_user(
    vscode_out: Path, tmp_path: Path, codex_home: Path, workspace: Path, backend: FakeBackend
) -> None:
    record = drive(
        vscode_out,
        tmp_path,
        codex_home,
        workspace,
        steps="init,refreshHook",
        command=server_command(*fake_config(backend.base_url)),
        tokens=None,
    )
    refresh = record["steps"]["refreshHook"]
    assert not refresh["ok"]
    assert "editor answered with error -32603" in refresh["error"]["message"]
    assert "accessToken" in refresh["error"]["message"]  # says what the provider must return
    assert len(record["errors"]) == 1 and "token provider failed" in record["errors"][0]


def test_core_signs_in_with_provider_tokens_shows_limits_and_signs_out(
    vscode_out: Path,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    tokens = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    record = drive(
        vscode_out,
        tmp_path,
        codex_home,
        workspace,
        steps="init,signIn,status,rateLimits,signOut,accountAfter",
        command=server_command(*fake_config(backend.base_url)),
        tokens=tokens,
    )
    steps = record["steps"]
    assert all(s["ok"] for s in steps.values()), steps
    assert steps["signIn"]["result"]["account"] == {
        "type": "chatgpt",
        "email": "me@example.com",
        "planType": "pro",
    }
    assert record["tokenCalls"] == [{"reason": "login", "previousAccountId": None}]
    # account/updated reached the status bar before account/read answered.
    assert record["accountViews"][0]["authMode"] == "chatgptAuthTokens"
    status = steps["status"]["result"]
    assert status["authMode"] == "chatgptAuthTokens"
    assert any("me@example.com" in line for line in status["lines"])
    # account/rateLimits/read from the fake's usage endpoint ends up in the status-bar text.
    assert backend.requests_to("/wham/usage")
    after_limits = [v["text"] for v in record["accountViews"] if v["rateLimits"]]
    assert after_limits[-1] == "Codex: pro · 5h 23% · wk 61%"
    assert steps["accountAfter"]["result"]["account"] is None
    assert record["finalView"]["text"] == "Codex: signed out"
    assert record["errors"] == []
    assert tokens["accessToken"] not in json.dumps(record)


def test_core_runs_a_turn_that_hits_a_401_and_asks_for_approval(
    vscode_out: Path,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    login = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    rotated = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    script_turn_with_401_and_command(backend, login, rotated)
    record = drive(
        vscode_out,
        tmp_path,
        codex_home,
        workspace,
        steps="init,signIn,rotate,ask,status,signOut,accountAfter",
        command=server_command(*fake_config(backend.base_url)),
        tokens=login,
        extra={
            "CODEX_ROTATED_TOKENS": json.dumps(rotated),
            "CODEX_APPROVAL_POLICY": "untrusted",
            "CODEX_PROMPT": "make a file",
            "CODEX_APPROVAL_DECISION": "accept",
        },
    )
    steps = record["steps"]
    assert all(s["ok"] for s in steps.values()), steps
    # The 401 made the server ask the editor; the sample provider re-read the (rotated) token file.
    assert record["tokenCalls"] == [
        {"reason": "login", "previousAccountId": None},
        {"reason": "unauthorized", "previousAccountId": "acct-1"},
    ]
    assert responses_bearers(backend, login, rotated)[:2] == ["login", "rotated"]
    # The approval modal was asked once, accepted, and the command really ran in the workspace.
    assert record["approvals"] == [
        {"command": "touch made-by-agent.txt", "cwd": str(workspace), "decision": "accept"}
    ]
    assert (workspace / "made-by-agent.txt").exists()
    ask = steps["ask"]["result"]
    assert ask["status"] == "completed" and ask["error"] is None
    assert ask["text"].startswith("The command finished.")
    # The output channel got the whole turn, in order.
    output = record["output"]
    assert (
        output.index("--- turn ")
        < output.index("$ touch made-by-agent.txt")
        < output.index("[exit 0]")
        < output.index("The command finished.")
        < output.index("--- turn completed ---")
    )
    assert steps["status"]["result"]["rateLimits"]["primary"]["usedPercent"] == 23
    assert steps["accountAfter"]["result"]["account"] is None
    assert record["errors"] == []
    assert login["accessToken"] not in json.dumps(record) and rotated[
        "accessToken"
    ] not in json.dumps(record)


def test_core_sign_in_loads_rate_limits_and_interrupt_stops_a_turn(
    vscode_out: Path,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    tokens = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    backend.event_delay_s = 0.4  # a slow stream, still running when interrupted
    record = drive(
        vscode_out,
        tmp_path,
        codex_home,
        workspace,
        steps="init,signIn,askInterrupt",
        command=server_command(*fake_config(backend.base_url)),
        tokens=tokens,
        extra={"CODEX_PROMPT": "tell me a long story"},
    )
    steps = record["steps"]
    assert steps["signIn"]["ok"], steps
    # Sign-in alone (no turn yet, no explicit read) put the limits in the status bar.
    assert backend.requests_to("/wham/usage")
    assert record["accountViews"][-1]["text"].startswith("Codex: pro · 5h 23% · wk 61%")
    result = steps["askInterrupt"]["result"]
    assert result["interrupted"] is True and result["status"] == "interrupted", result
    assert result["runningAfter"] is None
    assert result["activities"][0] == "thinking" and result["activities"][-1] is None


def test_unified_diffs_apply_for_the_diff_editor(vscode_out: Path) -> None:
    """applyUnifiedDiff builds the proposed file shown on the right of `vscode.diff`; a diff that
    does not match the file gives null (the extension then shows the raw diff)."""
    script = (
        "const { applyUnifiedDiff } = require(process.argv[1]);"
        "const base = 'a\\nb\\nc\\nd\\n';"
        "const diff = '--- a/f\\n+++ b/f\\n@@ -2,2 +2,3 @@\\n-b\\n+B\\n+b2\\n c\\n';"
        "console.log(JSON.stringify([applyUnifiedDiff(base, diff), applyUnifiedDiff('x\\ny\\n', diff)]));"
    )
    proc = subprocess.run(
        ["node", "-e", script, str(vscode_out / "core" / "diff.js")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["a\nB\nb2\nc\nd\n", None]


def test_core_resumes_a_conversation_of_an_earlier_server_and_continues_it(
    vscode_out: Path,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    login = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    command = server_command(*fake_config(backend.base_url))
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    backend.script_next([text("Remember: the codeword is kiwi.")])
    first = drive(
        vscode_out,
        tmp_path / "first",
        codex_home,
        workspace,
        steps="init,signIn,ask",
        command=command,
        tokens=login,
        extra={"CODEX_PROMPT": "the codeword is kiwi"},
    )
    assert all(s["ok"] for s in first["steps"].values()), first["steps"]
    thread_id = first["steps"]["ask"]["result"]["threadId"]
    backend.script_next([text("It was kiwi.")])
    second = drive(
        vscode_out,
        tmp_path / "second",
        codex_home,
        workspace,
        steps="init,signIn,resumeLatest,ask",
        command=command,
        tokens=login,
        extra={"CODEX_PROMPT": "what was the codeword?"},
    )
    steps = second["steps"]
    assert all(s["ok"] for s in steps.values()), steps
    resumed = steps["resumeLatest"]["result"]
    assert resumed["listed"] == [{"id": thread_id, "preview": "the codeword is kiwi"}]
    assert resumed["threadId"] == thread_id
    assert resumed["transcript"] == (
        "# the codeword is kiwi\n> the codeword is kiwi\nRemember: the codeword is kiwi.\n"
    )
    assert steps["ask"]["result"]["threadId"] == thread_id
    assert steps["ask"]["result"]["text"] == "It was kiwi."
    sent = backend.requests_to("/responses")[-1].body
    texts = [
        part.get("text")
        for item in sent["input"]
        for part in item.get("content", [])
        if isinstance(part, dict)
    ]
    assert texts.index("the codeword is kiwi") < texts.index("Remember: the codeword is kiwi.")
    assert texts.index("Remember: the codeword is kiwi.") < texts.index("what was the codeword?")
    assert second["errors"] == []


GREETING_PATCH = (
    "*** Begin Patch\n*** Update File: hello.txt\n@@\n"
    "-hello from the workspace\n+hello from codex\n*** End Patch\n"
)


@pytest.mark.parametrize("decision", ["accept", "decline"])
def test_core_reviews_a_real_apply_patch_and_the_answer_decides(
    vscode_out: Path,
    decision: str,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    login = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    backend.script_next([patch_call(GREETING_PATCH, call_id="call_patch_1")])
    record = drive(
        vscode_out,
        tmp_path,
        codex_home,
        workspace,
        steps="init,signIn,ask",
        command=server_command(*fake_config(backend.base_url)),
        tokens=login,
        extra={
            "CODEX_PROMPT": "change the greeting",
            "CODEX_APPROVAL_POLICY": "untrusted",
            "CODEX_APPROVAL_DECISION": decision,
        },
    )
    steps = record["steps"]
    assert all(s["ok"] for s in steps.values()), steps
    hello = workspace / "hello.txt"
    [review] = record["fileChangeReviews"]
    assert review["request"]["itemId"] == "call_patch_1" and review["decision"] == decision
    # The review got the item announced just before, with the diff the editor shows.
    [change] = review["changes"]
    assert change["path"] == str(hello) and change["kind"] == {"type": "update", "move_path": None}
    assert "-hello from the workspace\n+hello from codex" in change["diff"]
    assert record["approvals"] == []  # no command approval was asked
    ask = steps["ask"]["result"]
    assert ask["status"] == "completed"
    assert f"~ update {hello}" in record["output"]
    if decision == "accept":
        assert hello.read_text() == "hello from codex\n"
        assert "[file changes completed]" in record["output"]
        assert "+hello from codex" in ask["turnDiff"]
    else:
        assert hello.read_text() == "hello from the workspace\n"
        assert "[file changes declined]" in record["output"]
        assert ask["turnDiff"] is None
    assert record["errors"] == []


def test_core_shows_the_plan_of_a_real_update_plan_call(
    vscode_out: Path,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    login = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    plan = {
        "explanation": "Two steps left.",
        "plan": [
            {"step": "read the file", "status": "completed"},
            {"step": "change the greeting", "status": "in_progress"},
            {"step": "run the tests", "status": "pending"},
        ],
    }
    backend.script_next([function_call("update_plan", plan, call_id="plan_1")])
    backend.script_next([text("Working on the greeting now.")])
    record = drive(
        vscode_out,
        tmp_path,
        codex_home,
        workspace,
        steps="init,signIn,ask",
        command=server_command(*fake_config(backend.base_url)),
        tokens=login,
        extra={"CODEX_PROMPT": "plan the change"},
    )
    steps = record["steps"]
    assert all(s["ok"] for s in steps.values()), steps
    ask = steps["ask"]["result"]
    assert ask["status"] == "completed" and ask["text"] == "Working on the greeting now."
    [shown] = record["plans"]
    assert shown["threadId"] == ask["threadId"]
    assert shown["explanation"] == "Two steps left."
    assert shown["plan"] == [
        {"step": "read the file", "status": "completed"},
        {"step": "change the greeting", "status": "inProgress"},
        {"step": "run the tests", "status": "pending"},
    ]
    assert record["errors"] == []
