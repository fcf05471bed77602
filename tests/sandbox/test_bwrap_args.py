"""The filesystem layout and the pure bwrap argument builder, checked as lists of args."""

from __future__ import annotations

from pathlib import Path

import pytest
from sandbox_support import Dirs

from codex_lsp.sandbox.bwrap import build_bwrap_args
from codex_lsp.sandbox.layout import FilesystemLayout, WritableRoot, compute_layout
from codex_lsp.sandbox.policy import DangerFullAccess, ReadOnly, WorkspaceWrite


def _pairs(args: list[str], flag: str) -> list[tuple[str, str]]:
    return [(args[i + 1], args[i + 2]) for i, arg in enumerate(args) if arg == flag]


def _index(args: list[str], *sequence: str) -> int:
    for i in range(len(args) - len(sequence) + 1):
        if tuple(args[i : i + len(sequence)]) == sequence:
            return i
    raise AssertionError(f"{sequence} not in {args}")


def test_read_only_args_are_hardened_for_root() -> None:
    layout = compute_layout(ReadOnly(), Path("/srv"))
    args = build_bwrap_args(
        ["ls", "-l"], layout=layout, cwd=Path("/srv"), is_root=True, seccomp_fd=7
    )
    assert args[:4] == ["bwrap", "--ro-bind", "/", "/"]
    assert _index(args, "--tmpfs", "/tmp") < _index(args, "--proc", "/proc")
    assert _index(args, "--proc", "/proc") + 2 == _index(args, "--remount-ro", "/proc")
    assert _index(args, "--dev", "/dev") > 0
    for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--new-session"):
        assert flag in args
    assert _index(args, "--cap-drop", "ALL") > 0
    assert _index(args, "--seccomp", "7") > 0
    assert _pairs(args, "--bind") == []
    assert args[-5:] == ["--chdir", "/srv", "--", "ls", "-l"]


def test_non_root_network_allowed_drops_those_flags() -> None:
    layout = compute_layout(ReadOnly(network_access=True), Path("/srv"))
    args = build_bwrap_args(["true"], layout=layout, cwd=Path("/srv"), is_root=False)
    assert "--unshare-net" not in args
    assert "--cap-drop" not in args
    assert "--seccomp" not in args
    assert "--unshare-pid" in args


def test_tmpfs_comes_before_binds_under_tmp(dirs: Dirs) -> None:
    layout = FilesystemLayout(
        (WritableRoot(Path("/tmp/ws")),), host_tmp_writable=False, network_access=False
    )
    args = build_bwrap_args(["true"], layout=layout, cwd=Path("/tmp/ws"), is_root=True)
    assert _index(args, "--tmpfs", "/tmp") < _index(args, "--bind", "/tmp/ws", "/tmp/ws")


def test_read_only_cwd_under_tmp_stays_visible() -> None:
    layout = compute_layout(ReadOnly(), Path("/tmp"))
    args = build_bwrap_args(["true"], layout=layout, cwd=Path("/tmp/project"), is_root=True)
    assert _index(args, "--tmpfs", "/tmp") < _index(
        args, "--ro-bind", "/tmp/project", "/tmp/project"
    )


def test_workspace_layout_binds_roots_then_protects(dirs: Dirs) -> None:
    (dirs.ws / ".git").mkdir()
    extra = dirs.base / "extra"
    extra.mkdir()
    policy = WorkspaceWrite(
        writable_roots=(extra, dirs.base / "missing"), exclude_tmpdir_env_var=True
    )
    layout = compute_layout(policy, dirs.ws, {})
    roots = [root.path for root in layout.writable_roots]
    assert roots == [Path("/tmp"), extra, dirs.ws]  # parents first, missing root skipped
    assert layout.host_tmp_writable
    args = build_bwrap_args(["true"], layout=layout, cwd=dirs.ws, is_root=True)
    assert ("/tmp", "/tmp") in _pairs(args, "--bind")
    assert (str(dirs.ws), str(dirs.ws)) in _pairs(args, "--bind")
    ws_bind = _index(args, "--bind", str(dirs.ws), str(dirs.ws))
    git_bind = _index(args, "--ro-bind", str(dirs.ws / ".git"), str(dirs.ws / ".git"))
    assert ws_bind < git_bind
    # A missing .codex (and the missing .git of `extra`) gets /dev/null over it.
    assert ("/dev/null", str(dirs.ws / ".codex")) in _pairs(args, "--ro-bind")
    assert ("/dev/null", str(extra / ".git")) in _pairs(args, "--ro-bind")
    # Scratch space is not blocked: no placeholder files in /tmp.
    assert ("/dev/null", "/tmp/.git") not in _pairs(args, "--ro-bind")


def test_layout_canonicalises_symlinked_roots(dirs: Dirs) -> None:
    link = dirs.base / "link-to-ws"
    link.symlink_to(dirs.ws)
    layout = compute_layout(WorkspaceWrite(exclude_slash_tmp=True), link, {})
    assert [root.path for root in layout.writable_roots] == [dirs.ws]
    assert not layout.host_tmp_writable


def test_tmpdir_env_is_a_writable_root_unless_excluded(dirs: Dirs) -> None:
    tmpdir = dirs.base / "tmpdir"
    tmpdir.mkdir()
    env = {"TMPDIR": str(tmpdir)}
    with_tmpdir = compute_layout(WorkspaceWrite(exclude_slash_tmp=True), dirs.ws, env)
    assert tmpdir in [root.path for root in with_tmpdir.writable_roots]
    excluded = compute_layout(
        WorkspaceWrite(exclude_slash_tmp=True, exclude_tmpdir_env_var=True), dirs.ws, env
    )
    assert [root.path for root in excluded.writable_roots] == [dirs.ws]


def test_gitdir_file_protects_its_target(dirs: Dirs) -> None:
    target = dirs.base / "repo" / "worktrees" / "wt"
    target.mkdir(parents=True)
    (dirs.ws / ".git").write_text(f"gitdir: {target}\n")
    layout = compute_layout(WorkspaceWrite(exclude_slash_tmp=True), dirs.ws, {})
    (root,) = layout.writable_roots
    assert root.read_only_paths == (dirs.ws / ".git", target)
    relative = dirs.base / "ws2"
    relative.mkdir()
    (relative / ".git").write_text("gitdir: ../repo/worktrees/wt\n")
    (root2,) = compute_layout(WorkspaceWrite(exclude_slash_tmp=True), relative, {}).writable_roots
    assert target in root2.read_only_paths


def test_symlinked_git_protects_the_target(dirs: Dirs) -> None:
    real = dirs.base / "realgit"
    real.mkdir()
    (dirs.ws / ".git").symlink_to(real)
    (root,) = compute_layout(WorkspaceWrite(exclude_slash_tmp=True), dirs.ws, {}).writable_roots
    assert real in root.read_only_paths
    assert dirs.ws / ".git" not in root.blocked_paths


def test_danger_full_access_has_no_layout() -> None:
    with pytest.raises(ValueError, match="no sandbox layout"):
        compute_layout(DangerFullAccess(), Path("/"))
