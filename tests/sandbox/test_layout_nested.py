"""The layout's nested-.git search and the pinned directories (issue 15, finding 4)."""

from __future__ import annotations

from pathlib import Path

from sandbox_support import Dirs

from codex_lsp.sandbox.layout import _nested_git, compute_layout
from codex_lsp.sandbox.policy import WorkspaceWrite


def test_nested_git_is_found_within_bounds(dirs: Dirs) -> None:
    shallow = dirs.ws / "a" / "b" / ".git"
    deep = dirs.ws / "1" / "2" / "3" / "4" / "5" / ".git"
    skipped = dirs.ws / "node_modules" / "dep" / ".git"
    for path in (shallow, deep, skipped, dirs.ws / ".git"):
        path.mkdir(parents=True)
    assert _nested_git(dirs.ws) == [shallow]
    assert _nested_git(dirs.ws, limit=2) == []  # the cap stops the walk early


def test_ancestors_of_protected_paths_and_nested_roots_are_pinned(dirs: Dirs) -> None:
    project = dirs.base / "group" / "project"
    (project / "sub" / ".git").mkdir(parents=True)
    layout = compute_layout(
        WorkspaceWrite(writable_roots=[dirs.base], exclude_slash_tmp=True), project, {}
    )
    base, ws = layout.writable_roots
    assert base.path == dirs.base and ws.path == project
    assert dirs.base / "group" in base.pinned_paths  # between the root and the workspace
    assert project / "sub" in ws.pinned_paths  # between the workspace and the nested .git
    assert project / "sub" / ".git" in ws.read_only_paths
    assert Path(project / ".git") in ws.blocked_paths
