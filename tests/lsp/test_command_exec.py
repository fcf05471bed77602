"""`command/exec` end to end: the real server runs commands through the real sandbox."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from harness import start_session


async def test_default_policy_is_read_only_from_config(codex_home: Path, workspace: Path) -> None:
    async with start_session(codex_home, workspace=workspace) as s:
        ok = await s.call("command/exec", {"command": ["cat", "hello.txt"]})
        assert ok == {"exitCode": 0, "stdout": "hello from the workspace\n", "stderr": ""}
        denied = await s.call("command/exec", {"command": ["sh", "-c", "echo x > new.txt"]})
        assert denied["exitCode"] != 0 and "Read-only file system" in denied["stderr"]
    assert not (workspace / "new.txt").exists()


async def test_workspace_write_policy_writes_in_cwd_only(codex_home: Path, workspace: Path) -> None:
    # Not under /tmp: workspace-write makes /tmp writable unless excludeSlashTmp is set.
    outside = Path.home() / f".codex-lsp-escape-{uuid.uuid4().hex}"
    async with start_session(codex_home, workspace=workspace) as s:
        policy = {"type": "workspaceWrite"}
        inside = await s.call(
            "command/exec", {"command": ["sh", "-c", "echo in > made.txt"], "sandboxPolicy": policy}
        )
        assert inside["exitCode"] == 0
        escape = await s.call(
            "command/exec",
            {
                "command": ["sh", "-c", f"echo out > {outside}"],
                "sandboxPolicy": policy,
                "cwd": str(workspace),
            },
        )
        assert escape["exitCode"] != 0
    assert (workspace / "made.txt").read_text() == "in\n"
    assert not outside.exists()


async def test_config_sandbox_mode_and_network_flag_reach_the_command(
    codex_home: Path, workspace: Path
) -> None:
    async with start_session(
        codex_home, workspace=workspace, args=["-c", 'sandbox_mode="workspace-write"']
    ) as s:
        result = await s.call(
            "command/exec",
            {"command": ["sh", "-c", "echo ok > w.txt; echo $CODEX_SANDBOX_NETWORK_DISABLED"]},
        )
        assert result == {"exitCode": 0, "stdout": "1\n", "stderr": ""}
    assert (workspace / "w.txt").exists()


async def test_timeout_kills_the_command(codex_home: Path, workspace: Path) -> None:
    async with start_session(codex_home, workspace=workspace) as s:
        result = await s.call(
            "command/exec", {"command": ["sleep", "30"], "timeoutMs": 300}, timeout=20
        )
        assert result["exitCode"] == 124


async def test_secrets_in_the_environment_are_not_passed_to_commands(
    codex_home: Path, workspace: Path
) -> None:
    env = {
        "CODEX_API_KEY": "sk-never-show-this-123456",
        "SOME_TOKEN": "tok-hidden",
        "PLAIN_VALUE": "visible",
    }
    async with start_session(codex_home, workspace=workspace, env=env) as s:
        result = await s.call(
            "command/exec", {"command": ["env"], "sandboxPolicy": {"type": "dangerFullAccess"}}
        )
        assert "PLAIN_VALUE=visible" in result["stdout"]
        assert (
            "sk-never-show-this-123456" not in result["stdout"]
            and "tok-hidden" not in result["stdout"]
        )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"command": []}, "params.command"),
        ({"command": ["ls"], "cwd": "relative"}, "params.cwd"),
        ({"command": ["ls"], "timeoutMs": 0}, "params.timeoutMs"),
        (
            {
                "command": ["ls"],
                "sandboxPolicy": {"type": "workspaceWrite", "writableRoots": ["rel"]},
            },
            "sandboxPolicy",
        ),
        ({"command": ["ls"], "sandboxPolicy": {"type": "yolo"}}, "params.sandboxPolicy.type"),
    ],
)
async def test_bad_params_name_the_field(
    codex_home: Path, workspace: Path, params: dict, field: str
) -> None:
    async with start_session(codex_home, workspace=workspace) as s:
        with pytest.raises(JsonRpcException) as exc:
            await s.call("command/exec", params)
        assert exc.value.code == -32602 and field in exc.value.message


async def test_no_sandbox_available_is_a_clear_error_never_an_unsandboxed_run(
    codex_home: Path, workspace: Path
) -> None:
    async with start_session(
        codex_home, workspace=workspace, env={"CODEX_SANDBOX_BACKEND": "none"}
    ) as s:
        with pytest.raises(JsonRpcException) as exc:
            await s.call(
                "command/exec",
                {
                    "command": ["sh", "-c", "echo x > should-not-exist.txt"],
                    "sandboxPolicy": {"type": "workspaceWrite"},
                },
            )
        assert "CODEX_SANDBOX_BACKEND=none" in exc.value.message and "not run" in exc.value.message
    assert not (workspace / "should-not-exist.txt").exists()
