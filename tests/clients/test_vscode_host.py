"""The VS Code extension in a real VS Code host: packaged with @vscode/vsce, installed into
code-server (a VS Code build with a node extension host) on 127.0.0.1, and driven through headless
Debian chromium with playwright-core against the real server and the fake backend. Screenshots go
to tests/clients/artifacts/ (or $CODEX_LSP_ARTIFACTS). The tools come from .ci/setup
(.ci/tools.env says where)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_support import (
    CLIENT_TESTS,
    VSCODE_DIR,
    child_env,
    fake_config,
    jwt_tokens,
    read_json,
    run_client,
    script_turn_with_401_and_command,
)

from codex_lsp.fakes.backend import FakeBackend, function_call, patch_call, text
from codex_lsp.fakes.issuer import FakeIssuer
from harness import ROOT

HOST_DIR = CLIENT_TESTS / "vscode_host"
DRIVER = HOST_DIR / "drive_host.mjs"
ARTIFACTS = Path(os.environ.get("CODEX_LSP_ARTIFACTS", CLIENT_TESTS / "artifacts"))


def tools() -> dict[str, str]:
    env_file = ROOT / ".ci" / "tools.env"
    if not env_file.exists():
        pytest.fail("the VS Code host is not installed: run .ci/setup (it writes .ci/tools.env)")
    found = dict(
        line.split("=", 1)
        for line in env_file.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    for key in ("NODE24_BIN", "CODE_SERVER", "CHROMIUM"):
        if not Path(found.get(key, "")).exists():
            pytest.fail(f"{key}={found.get(key)} from .ci/tools.env does not exist: run .ci/setup")
    if not (HOST_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail(
            "tests/clients/vscode_host/node_modules is missing: run .ci/setup (npm ci there)"
        )
    return found


def node24_env(found: dict[str, str], base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(base if base is not None else os.environ)
    env["PATH"] = found["NODE24_BIN"] + os.pathsep + env.get("PATH", "")
    return env


@pytest.fixture(scope="module")
def vsix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The extension packaged by vsce (its vscode:prepublish compiles with tsc)."""
    found = tools()
    out = tmp_path_factory.mktemp("vsix") / "codex-lsp-vscode.vsix"
    vsce = HOST_DIR / "node_modules" / "@vscode" / "vsce" / "vsce"
    proc = subprocess.run(
        [
            "node",
            str(vsce),
            "package",
            "--allow-missing-repository",
            "--skip-license",
            "-o",
            str(out),
        ],
        cwd=VSCODE_DIR,
        env=node24_env(found),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Host:
    def __init__(self, url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.proc, self.log = url, proc, log


@pytest.fixture
def host(
    vsix: Path,
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
    request: pytest.FixtureRequest,
) -> Iterator[tuple[Host, Path]]:
    """code-server with the extension installed; a test marked `broken_settings` starts with a
    server command that does not exist and no token file."""
    found = tools()
    profile = tmp_path / "profile"
    (profile / "User").mkdir(parents=True)
    port = free_port()
    (profile / "config.yaml").write_text(f"bind-addr: 127.0.0.1:{port}\nauth: none\ncert: false\n")
    tokens_file = tmp_path / "tokens.json"
    server_env = child_env(codex_home)
    settings = {
        "codex.server.command": sys.executable,
        "codex.server.args": [
            "-m",
            "codex_lsp",
            *sum((["-c", c] for c in fake_config(backend.base_url)), []),
        ],
        "codex.server.env": {"CODEX_HOME": str(codex_home)},
        "codex.tokens.file": str(tokens_file),
        "codex.approvals.policy": "untrusted",
        "security.workspace.trust.enabled": False,
        "telemetry.telemetryLevel": "off",
        "extensions.autoUpdate": False,
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "diffEditor.useInlineViewWhenSpaceIsLimited": False,  # both sides, for the review test
    }
    (profile / "User" / "settings.json").write_text(json.dumps(settings, indent=2))
    (tmp_path / "fixed-settings.json").write_text(json.dumps(settings, indent=2))
    if request.node.get_closest_marker("broken_settings"):
        broken = {
            **settings,
            "codex.server.command": "/nonexistent/codex-lsp",
            "codex.tokens.file": "",
        }
        (profile / "User" / "settings.json").write_text(json.dumps(broken, indent=2))
    flags = [
        "--user-data-dir",
        str(profile),
        "--extensions-dir",
        str(profile / "extensions"),
        "--config",
        str(profile / "config.yaml"),
    ]
    env = node24_env(found, server_env)
    install = subprocess.run(
        [found["CODE_SERVER"], *flags, "--install-extension", str(vsix)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    log = tmp_path / "code-server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                found["CODE_SERVER"],
                *flags,
                "--disable-telemetry",
                "--disable-update-check",
                "--disable-workspace-trust",
                "--reconnection-grace-time",
                "3",
                str(workspace),
            ],
            env=env,
            cwd=workspace,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"code-server did not come up on {url}:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield Host(url, proc, log), tokens_file
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def drive(
    host: Host,
    tmp_path: Path,
    workspace: Path,
    steps: str,
    name: str,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    found = tools()
    result_file = tmp_path / "host-result.json"
    env = node24_env(
        found,
        {
            **os.environ,
            "CODEX_HOST_URL": host.url,
            "CODEX_WORKSPACE": str(workspace),
            "CODEX_CHROMIUM": found["CHROMIUM"],
            "CODEX_ARTIFACTS": str(ARTIFACTS / f"{name}-{uuid.uuid4().hex[:6]}"),
            "CODEX_RESULT_FILE": str(result_file),
            "CODEX_STEPS": steps,
            "CODEX_DEADLINE_MS": "240000",
            "NODE_PATH": str(HOST_DIR / "node_modules"),
            "CODEX_SETTINGS_FILE": str(tmp_path / "profile" / "User" / "settings.json"),
            "CODEX_FIXED_SETTINGS": (tmp_path / "fixed-settings.json").read_text(),
            **(extra or {}),
        },
    )
    proc = run_client(["node", str(DRIVER)], env, HOST_DIR, timeout=270)
    record = read_json(result_file)
    assert proc.returncode == 0, f"{record.get('fatal')}\n{proc.stderr[-3000:]}"
    return record


def test_sign_in_status_ask_with_approval_and_sign_out_in_a_real_vscode(
    host: tuple[Host, Path],
    tmp_path: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    running, tokens_file = host
    login = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    rotated = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    tokens_file.write_text(json.dumps(login))
    script_turn_with_401_and_command(backend, login, rotated)
    record = drive(
        running, tmp_path, workspace, "open,signIn,status,askWithApproval,signOut", "vscode-host"
    )
    steps = record["steps"]
    failed = {k: v for k, v in steps.items() if not v["ok"]}
    assert not failed, f"{failed}\ncode-server log:\n{running.log.read_text()[-2000:]}"
    assert steps["open"]["result"]["status"].endswith("Codex: signed out")
    # Sign-in loaded the rate limits into the status bar (no turn has run yet).
    assert "Codex: pro · 5h 23% · wk 61%" in steps["signIn"]["result"]["status"]
    assert "me@example.com" in steps["signIn"]["result"]["message"]
    ask = steps["askWithApproval"]["result"]
    assert (
        "Codex wants to run a command." in ask["dialog"]
        and "touch made-by-agent.txt" in ask["dialog"]
    )
    assert (workspace / "made-by-agent.txt").exists()
    assert steps["signOut"]["result"]["status"].endswith("Codex: signed out")
    assert len(record["screenshots"]) >= 5 and all(
        Path(p).stat().st_size > 10_000 for p in record["screenshots"]
    )


@pytest.mark.broken_settings
def test_a_wrong_server_command_points_to_the_setting_and_fixed_settings_apply_without_reload(
    host: tuple[Host, Path], tmp_path: Path, workspace: Path, issuer: FakeIssuer
) -> None:
    running, tokens_file = host
    tokens_file.write_text(
        json.dumps(jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro"))
    )
    record = drive(
        running, tmp_path, workspace, "badCommand,fixSettings,signIn,signOut", "vscode-settings"
    )
    steps = record["steps"]
    failed = {k: v for k, v in steps.items() if not v["ok"]}
    assert not failed, f"{failed}\ncode-server log:\n{running.log.read_text()[-2000:]}"
    assert "/nonexistent/codex-lsp" in steps["badCommand"]["result"]["message"]
    assert "Set codex.server.command" in steps["badCommand"]["result"]["message"]
    # The token file set after activation is the one sign-in used.
    assert "me@example.com" in steps["signIn"]["result"]["message"]


def failed_steps(record: dict[str, Any], host: Host) -> str:
    failed = {k: v for k, v in record["steps"].items() if not v["ok"]}
    return f"{failed}\ncode-server log:\n{host.log.read_text()[-2000:]}" if failed else ""


def test_resume_picker_after_a_window_reload_shows_the_conversation_and_continues_it(
    host: tuple[Host, Path],
    tmp_path: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    """Reloading the window restarts the extension host and with it the server (which then starts
    signed out); the resume picker offers the earlier server's conversation."""
    running, tokens_file = host
    login = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    tokens_file.write_text(json.dumps(login))
    backend.script_next([text("Noted: the codeword is fig.")])
    backend.script_next([text("It was fig.")])
    record = drive(
        running,
        tmp_path,
        workspace,
        "open,signIn,ask,reload,signIn,resume,ask",
        "vscode-resume",
        extra={
            "CODEX_PROMPTS": json.dumps(["the codeword is fig", "which codeword?"]),
            "CODEX_RESUMED_TEXT": "Noted: the codeword is fig.",
        },
    )
    assert not failed_steps(record, running), failed_steps(record, running)
    steps = record["steps"]
    assert steps["reload"]["result"]["status"].endswith("Codex: signed out")  # a new server
    resume = steps["resume"]["result"]
    assert len(resume["offered"]) == 1 and "the codeword is fig" in resume["offered"][0]
    assert 'resumed "the codeword is fig"' in resume["message"]
    shown = resume["output"]
    assert shown.index("> the codeword is fig") < shown.index("Noted: the codeword is fig.")
    assert "It was fig." in steps["ask"]["result"]["output"]
    sent = backend.requests_to("/responses")
    assert len(sent) == 2
    texts = [
        part.get("text")
        for item in sent[-1].body["input"]
        for part in item.get("content", [])
        if isinstance(part, dict)
    ]
    assert texts.index("the codeword is fig") < texts.index("Noted: the codeword is fig.")
    assert texts.index("Noted: the codeword is fig.") < texts.index("which codeword?")
    assert all(Path(p).stat().st_size > 10_000 for p in record["screenshots"])


def test_stop_the_running_answer_interrupts_a_slow_turn(
    host: tuple[Host, Path],
    tmp_path: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    running, tokens_file = host
    tokens_file.write_text(
        json.dumps(jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro"))
    )
    backend.event_delay_s = 0.4  # a slow stream: still answering when the user stops it
    record = drive(
        running,
        tmp_path,
        workspace,
        "open,signIn,askInterrupt",
        "vscode-interrupt",
        extra={"CODEX_PROMPTS": json.dumps(["tell me a long story"])},
    )
    assert not failed_steps(record, running), failed_steps(record, running)
    result = record["steps"]["askInterrupt"]["result"]
    assert "turn completed" not in result["output"]
    assert "--- turn interrupted ---" in result["output"]
    # The stream stopped early: the fake's whole answer never arrived.
    assert "You said: tell me a long story" not in result["output"]


def test_a_file_change_opens_a_diff_and_accept_applies_it(
    host: tuple[Host, Path],
    tmp_path: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    running, tokens_file = host
    tokens_file.write_text(
        json.dumps(jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro"))
    )
    backend.script_next(
        [
            patch_call(
                "*** Begin Patch\n*** Update File: hello.txt\n@@\n"
                "-hello from the workspace\n+hello from codex\n*** End Patch\n",
                call_id="call_patch_1",
            )
        ]
    )
    record = drive(
        running,
        tmp_path,
        workspace,
        "open,signIn,askWithFileChange",
        "vscode-file-change",
        extra={
            "CODEX_PROMPTS": json.dumps(["change the greeting"]),
            "CODEX_FILE_DECISION": "Accept",
        },
    )
    assert not failed_steps(record, running), failed_steps(record, running)
    review = record["steps"]["askWithFileChange"]["result"]
    assert review["tabTitle"].startswith("Codex: hello.txt (update)")
    assert "hello from the workspace" in review["original"]
    assert (
        "hello from codex" in review["modified"]
        and "hello from the workspace" not in review["modified"]
    )
    assert "Codex wants to change hello.txt" in review["message"]
    assert (workspace / "hello.txt").read_text() == "hello from codex\n"
    assert "[file changes completed]" in review["output"]
    shots = [Path(p).name for p in record["screenshots"]]
    assert any(name.endswith("file-change-review.png") for name in shots)
    assert all(Path(p).stat().st_size > 10_000 for p in record["screenshots"])


def test_a_plan_shows_in_the_status_bar_while_the_turn_runs_and_in_the_output(
    host: tuple[Host, Path],
    tmp_path: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
) -> None:
    running, tokens_file = host
    tokens_file.write_text(
        json.dumps(jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro"))
    )
    plan = {
        "explanation": "Two steps left.",
        "plan": [
            {"step": "read the file", "status": "completed"},
            {"step": "change the greeting", "status": "in_progress"},
            {"step": "run the tests", "status": "pending"},
        ],
    }
    backend.script_next([function_call("update_plan", plan, call_id="plan_1")])
    backend.script_next([text("Working on the greeting now, step by step, as planned.")])
    backend.event_delay_s = 0.3  # the answer after the plan takes a few seconds
    record = drive(
        running,
        tmp_path,
        workspace,
        "open,signIn,askWithPlan",
        "vscode-plan",
        extra={"CODEX_PROMPTS": json.dumps(["plan the change"])},
    )
    assert not failed_steps(record, running), failed_steps(record, running)
    result = record["steps"]["askWithPlan"]["result"]
    assert result["during"].endswith("Codex: pro · 5h 23% · wk 61% · plan 1/3")
    assert "plan" not in result["after"]
    output = result["output"]
    assert (
        output.index("Plan:")
        < output.index("Two steps left.")
        < output.index("[x] read the file")
        < output.index("[>] change the greeting")
        < output.index("[ ] run the tests")
        < output.index("--- turn completed ---")
    )
    assert all(Path(p).stat().st_size > 10_000 for p in record["screenshots"])
