"""macOS Seatbelt profile generation (as text) and the Windows restricted-token plan."""

from __future__ import annotations

from pathlib import Path, PureWindowsPath

import pytest

from codex_lsp.sandbox.detect import SandboxUnavailable
from codex_lsp.sandbox.layout import FilesystemLayout, WritableRoot
from codex_lsp.sandbox.policy import DangerFullAccess, ReadOnly, WorkspaceWrite
from codex_lsp.sandbox.seatbelt import SANDBOX_EXEC, build_profile, build_seatbelt_command
from codex_lsp.sandbox.windows import TOKEN_FLAGS, execute_plan, plan_windows_sandbox

WS_ROOT = WritableRoot(
    Path("/Users/me/project"),
    read_only_paths=(Path("/Users/me/project/.git"),),
    blocked_paths=(Path("/Users/me/project/.codex"),),
)
TMP_ROOT = WritableRoot(Path("/private/tmp"))


def test_read_only_profile_denies_by_default_and_writes_nothing() -> None:
    profile, params = build_profile(
        FilesystemLayout((), host_tmp_writable=False, network_access=False)
    )
    lines = profile.splitlines()
    assert lines[:2] == ["(version 1)", "(deny default)"]
    assert "(allow file-read*)" in lines
    assert not any(line.startswith("(allow file-write*") for line in lines)
    assert "(allow network-outbound)" not in profile
    assert params == {}


def test_workspace_profile_uses_parameters_not_spliced_paths() -> None:
    layout = FilesystemLayout((TMP_ROOT, WS_ROOT), host_tmp_writable=True, network_access=False)
    profile, params = build_profile(layout)
    assert params == {
        "PROTECTED_0": "/Users/me/project/.git",
        "PROTECTED_1": "/Users/me/project/.codex",
        "WRITABLE_ROOT_0": "/private/tmp",
        "WRITABLE_ROOT_1": "/Users/me/project",
    }
    assert "/Users/me" not in profile  # paths only travel as -D parameters
    exclusions = '(require-not (subpath (param "PROTECTED_0"))) (require-not (subpath (param "PROTECTED_1")))'
    assert (
        f'(allow file-write* (require-all (subpath (param "WRITABLE_ROOT_1")) {exclusions}))'
        in profile
    )
    assert f'(subpath (param "WRITABLE_ROOT_0")) {exclusions}' in profile


def test_network_rules_only_when_allowed() -> None:
    layout = FilesystemLayout((WS_ROOT,), host_tmp_writable=False, network_access=True)
    profile, _ = build_profile(layout)
    assert "(allow network-outbound)" in profile and "(allow system-socket)" in profile


def test_seatbelt_command_line() -> None:
    layout = FilesystemLayout((WS_ROOT,), host_tmp_writable=False, network_access=False)
    argv = build_seatbelt_command(["git", "status"], layout)
    assert argv[:2] == [SANDBOX_EXEC, "-p"] and SANDBOX_EXEC.startswith("/")
    assert "-DWRITABLE_ROOT_0=/Users/me/project" in argv
    assert "-DPROTECTED_0=/Users/me/project/.git" in argv
    assert argv[-3:] == ["--", "git", "status"]


def test_windows_plan_for_workspace_write() -> None:
    # A drive-less "/data" is not absolute on Windows, so it is not granted.
    policy = WorkspaceWrite(writable_roots=(Path(r"D:\data"), Path("/data")))
    env = {"TEMP": r"C:\Users\me\AppData\Local\Temp", "TMP": r"c:\users\ME\appdata\local\temp"}
    plan = plan_windows_sandbox(policy, r"C:\work\proj", env)
    assert plan.token_flags == TOKEN_FLAGS and "WRITE_RESTRICTED" in plan.token_flags
    assert plan.allowed == (
        PureWindowsPath(r"C:\work\proj"),
        PureWindowsPath(r"D:\data"),
        PureWindowsPath(r"C:\Users\me\AppData\Local\Temp"),  # TMP duplicate folded (case)
    )
    assert PureWindowsPath(r"C:\work\proj\.git") in plan.denied
    assert PureWindowsPath(r"C:\work\proj\.codex") in plan.denied
    assert plan.network_blocked and plan.kill_on_job_close


def test_windows_plan_read_only_and_exclusions() -> None:
    ro = plan_windows_sandbox(ReadOnly(), r"C:\work", {"TEMP": r"C:\Temp"})
    assert ro.entries == () and ro.network_blocked
    ws = plan_windows_sandbox(
        WorkspaceWrite(network_access=True, exclude_tmpdir_env_var=True),
        r"C:\work",
        {"TEMP": r"C:\Temp"},
    )
    assert ws.allowed == (PureWindowsPath(r"C:\work"),)
    assert not ws.network_blocked
    with pytest.raises(ValueError):
        plan_windows_sandbox(DangerFullAccess(), r"C:\work", {})


def test_windows_execution_is_honestly_unsupported() -> None:
    plan = plan_windows_sandbox(WorkspaceWrite(), r"C:\work", {})
    with pytest.raises(SandboxUnavailable, match="not supported on this platform"):
        execute_plan(plan)
