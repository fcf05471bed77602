"""The policy model: wire shapes, config modes and the errors users see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codex_lsp.errors import INVALID_PARAMS, InvalidParams
from codex_lsp.sandbox.policy import (
    DangerFullAccess,
    ReadOnly,
    SandboxPolicy,
    WorkspaceWrite,
    mode_name,
    policy_from_mode,
    policy_from_wire,
    policy_to_wire,
)


def test_wire_read_only_and_danger() -> None:
    assert policy_from_wire({"type": "readOnly"}) == ReadOnly()
    assert policy_from_wire({"type": "dangerFullAccess"}) == DangerFullAccess()
    assert policy_to_wire(ReadOnly()) == {"type": "readOnly"}
    assert policy_to_wire(DangerFullAccess()) == {"type": "dangerFullAccess"}


def test_wire_workspace_write_defaults_and_fields() -> None:
    assert policy_from_wire({"type": "workspaceWrite"}) == WorkspaceWrite()
    parsed = policy_from_wire(
        {
            "type": "workspaceWrite",
            "writableRoots": ["/srv/a", "/srv/b"],
            "networkAccess": True,
            "excludeTmpdirEnvVar": True,
            "excludeSlashTmp": True,
        }
    )
    assert parsed == WorkspaceWrite(
        writable_roots=(Path("/srv/a"), Path("/srv/b")),
        network_access=True,
        exclude_tmpdir_env_var=True,
        exclude_slash_tmp=True,
    )
    assert policy_to_wire(parsed) == {
        "type": "workspaceWrite",
        "writableRoots": ["/srv/a", "/srv/b"],
        "networkAccess": True,
        "excludeTmpdirEnvVar": True,
        "excludeSlashTmp": True,
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"type": "workspaceWrite", "writableRoots": ["/ok", "relative"]},
            "sandboxPolicy.writableRoots[1] must be an absolute path",
        ),
        (
            {"type": "workspaceWrite", "writableRoots": ["/ok", 3]},
            "sandboxPolicy.writableRoots[1] must be an absolute path",
        ),
        (
            {"type": "workspaceWrite", "writableRoots": "/ok"},
            "sandboxPolicy.writableRoots must be an array",
        ),
        (
            {"type": "workspaceWrite", "networkAccess": "yes"},
            "sandboxPolicy.networkAccess must be a boolean",
        ),
        (
            {"type": "workspaceWrite", "excludeSlashTmp": 1},
            "sandboxPolicy.excludeSlashTmp must be a boolean",
        ),
        ({"type": "sideways"}, "sandboxPolicy.type must be one of readOnly"),
        ({}, "sandboxPolicy.type must be one of"),
        ("readOnly", "sandboxPolicy must be an object"),
        ({"type": "externalSandbox"}, "'externalSandbox' is not supported"),
    ],
)
def test_wire_errors_name_the_field(value: Any, message: str) -> None:
    with pytest.raises(InvalidParams) as caught:
        policy_from_wire(value)
    assert message in str(caught.value)
    assert caught.value.code == INVALID_PARAMS


def test_wire_error_uses_the_callers_field_name() -> None:
    with pytest.raises(InvalidParams, match=r"^params\.sandbox\.writableRoots\[0\]"):
        policy_from_wire({"type": "workspaceWrite", "writableRoots": ["x"]}, field="params.sandbox")


def test_modes_from_config() -> None:
    assert policy_from_mode("read-only") == ReadOnly()
    assert policy_from_mode("danger-full-access", {"network_access": True}) == DangerFullAccess()
    assert policy_from_mode("workspace-write") == WorkspaceWrite()
    table = {
        "writable_roots": ["/data"],
        "network_access": True,
        "exclude_tmpdir_env_var": True,
        "exclude_slash_tmp": False,
    }
    assert policy_from_mode("workspace-write", table) == WorkspaceWrite(
        writable_roots=(Path("/data"),), network_access=True, exclude_tmpdir_env_var=True
    )


@pytest.mark.parametrize(
    ("mode", "table", "message"),
    [
        ("readonly", None, "sandbox_mode must be one of read-only"),
        (
            "workspace-write",
            {"writable_roots": ["data"]},
            r"sandbox_workspace_write.writable_roots\[0\] must be an absolute path",
        ),
        (
            "workspace-write",
            {"network_access": "true"},
            "sandbox_workspace_write.network_access must be true or false",
        ),
    ],
)
def test_mode_errors(mode: str, table: dict[str, Any] | None, message: str) -> None:
    with pytest.raises(InvalidParams, match=message):
        policy_from_mode(mode, table)


@pytest.mark.parametrize(
    ("policy", "name"),
    [
        (ReadOnly(), "read-only"),
        (WorkspaceWrite(), "workspace-write"),
        (DangerFullAccess(), "danger-full-access"),
    ],
)
def test_mode_name_round_trips(policy: SandboxPolicy, name: str) -> None:
    assert mode_name(policy) == name
    assert policy_from_mode(name) == policy


absolute_paths = st.lists(
    st.text(alphabet="abcxyz-_.", min_size=1, max_size=8), min_size=1, max_size=3
).map(lambda parts: Path("/", *parts))
policies = st.one_of(
    st.builds(ReadOnly, network_access=st.booleans()),
    st.just(DangerFullAccess()),
    st.builds(
        WorkspaceWrite,
        writable_roots=st.lists(absolute_paths, max_size=3).map(tuple),
        network_access=st.booleans(),
        exclude_tmpdir_env_var=st.booleans(),
        exclude_slash_tmp=st.booleans(),
    ),
)


@given(policies)
def test_wire_round_trip(policy: SandboxPolicy) -> None:
    assert policy_from_wire(policy_to_wire(policy)) == policy


def test_policies_are_frozen_and_hashable() -> None:
    policy = WorkspaceWrite(writable_roots=[Path("/a")])
    assert policy.writable_roots == (Path("/a"),)
    assert hash(policy) == hash(WorkspaceWrite(writable_roots=(Path("/a"),)))
    with pytest.raises(AttributeError):
        policy.network_access = True  # type: ignore[misc]


# ---- writable roots come from the thread's policy, never from a command's workdir (issue 15) --


def test_writable_roots_are_anchored_at_the_thread_cwd_plus_configured_roots() -> None:
    from codex_lsp.sandbox.policy import policy_writable_roots

    policy = WorkspaceWrite(writable_roots=[Path("/srv/extra")], exclude_tmpdir_env_var=False)
    roots = policy_writable_roots(policy, Path("/work/ws"), tmpdir="/var/tmp/t")
    assert roots == (Path("/work/ws"), Path("/srv/extra"), Path("/tmp"), Path("/var/tmp/t"))
    excluded = WorkspaceWrite(exclude_slash_tmp=True, exclude_tmpdir_env_var=True)
    assert policy_writable_roots(excluded, Path("/work/ws/../ws"), tmpdir="/x") == (
        Path("/work/ws"),
    )
    assert policy_writable_roots(ReadOnly(), Path("/work/ws")) == ()


@pytest.mark.parametrize(
    ("workdir", "expected"),
    [
        ("/work/ws", "writable"),
        ("/work/ws/sub/deeper", "writable"),
        (
            "/work/ws/.git",
            "writable",
        ),  # inside a root; .git itself is a protected path of the layout
        ("/srv/extra/x", "writable"),
        ("/tmp/scratch", "writable"),
        ("/root", "read-only"),
        ("/etc", "read-only"),
        ("/work/ws/../..", "read-only"),
        ("/work/ws/../other", "read-only"),
        ("/work/wsx", "read-only"),  # a sibling sharing the prefix
    ],
)
def test_workdir_access_never_widens_the_policy(workdir: str, expected: str) -> None:
    from codex_lsp.sandbox.policy import workdir_access

    policy = WorkspaceWrite(writable_roots=[Path("/srv/extra")])
    assert workdir_access(policy, Path("/work/ws"), Path(workdir)) == expected
    assert workdir_access(ReadOnly(), Path("/work/ws"), Path(workdir)) == "read-only"
    assert workdir_access(DangerFullAccess(), Path("/work/ws"), Path(workdir)) == "unrestricted"


def test_read_only_workdir_note_only_for_workspace_write_outside_the_roots() -> None:
    from codex_lsp.sandbox.policy import read_only_workdir_note

    ws = Path("/work/ws")
    assert "outside the writable roots" in read_only_workdir_note(
        WorkspaceWrite(), ws, Path("/etc")
    )
    assert read_only_workdir_note(WorkspaceWrite(), ws, ws / "sub") == ""
    assert read_only_workdir_note(ReadOnly(), ws, Path("/etc")) == ""
