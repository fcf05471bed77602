"""Fuzzy file search: ranking, indices, .gitignore handling, the incremental index and
cancellation (pure: no JSON-RPC; the LSP round trip is in test_context_e2e.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from codex_lsp.errors import InvalidParams
from codex_lsp.search.index import FileIndex
from codex_lsp.search.matcher import Cancelled, Candidates, search
from codex_lsp.search.service import FileSearch


def paths_of(candidates: Candidates, query: str, limit: int = 50) -> list[str]:
    return [candidates.paths[m.index] for m in search(candidates, query, limit)]


def tree(root: Path, files: list[str]) -> Path:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    return root


def test_ranking_prefers_file_name_prefix_then_substring_then_fuzzy() -> None:
    candidates = Candidates.build(
        [
            "src/main.py",
            "docs/my_api_notes.md",  # m-a-i-n spread over the name
            "main_utils/helpers.py",  # "main" only in a directory
            "src/app/remainder.ts",  # "main" inside the name
            "tests/test_main_loop.py",  # inside the name at a word boundary
            "zzz.txt",
        ]
    )
    ranked = paths_of(candidates, "main")
    assert ranked[0] == "src/main.py"
    assert set(ranked[1:3]) == {"tests/test_main_loop.py", "src/app/remainder.ts"}
    assert ranked.index("docs/my_api_notes.md") < ranked.index("main_utils/helpers.py")
    assert "zzz.txt" not in ranked


def test_scores_descend_and_indices_point_at_the_matched_characters() -> None:
    candidates = Candidates.build(
        ["server/codex_lsp/config.py", "client/Config.ts", "cfg/other.md"]
    )
    matches = search(candidates, "cfg", 10)
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
    for m in matches:
        path = candidates.paths[m.index]
        assert "".join(path[i] for i in m.indices).lower() == "cfg"
        assert list(m.indices) == sorted(set(m.indices))


def test_smart_case_and_multiple_terms() -> None:
    candidates = Candidates.build(["src/FooBar.ts", "src/foobar.ts", "lib/bar/foo.rs"])
    assert paths_of(candidates, "FB") == ["src/FooBar.ts"]  # upper case: case-sensitive
    assert set(paths_of(candidates, "fb")) == {"src/FooBar.ts", "src/foobar.ts"}  # in order only
    assert set(paths_of(candidates, "foo .rs")) == {"lib/bar/foo.rs"}
    assert paths_of(candidates, "   ") == []


def test_ties_go_to_the_shorter_then_alphabetical_path_and_limit_applies() -> None:
    candidates = Candidates.build(["b/x.py", "a/x.py", "aaaa/x.py"])
    assert paths_of(candidates, "x.py") == ["a/x.py", "b/x.py", "aaaa/x.py"]
    assert len(paths_of(candidates, "x", limit=2)) == 2


def test_a_longer_query_searches_within_the_last_matches_with_the_same_result(
    tmp_path: Path,
) -> None:
    root = tree(tmp_path, ["src/main.py", "src/maintenance.md", "docs/mail.txt", "lib/manual.rs"])
    service = FileSearch()
    try:
        cancel = threading.Event()
        labels = [str(root)]
        for query in ["m", "ma", "mai", "main", "Main", "main py"]:
            typed = [f.path for f in service.run(query, [root], labels, cancel)]
            fresh = [
                candidates_path
                for candidates_path in paths_of(service.index_for(root).snapshot()[0], query)
            ]
            assert typed == fresh, query
    finally:
        service.close()


def test_cancelled_search_raises() -> None:
    candidates = Candidates.build([f"dir{i}/file{i}.py" for i in range(5000)])
    with pytest.raises(Cancelled):
        search(candidates, "fi", 50, cancelled=lambda: True)


def test_index_respects_gitignore_nested_rules_negation_and_skips_dot_git(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        [
            "src/app.py",
            "src/app.log",
            "keep.log",
            "build/out.js",
            "node_modules/pkg/index.js",
            "sub/secret.txt",
            "sub/public.txt",
            ".git/config",
            ".hidden/visible.txt",
        ],
    )
    (root / ".gitignore").write_text("*.log\n!keep.log\nbuild/\nnode_modules/\n")
    (root / "sub" / ".gitignore").write_text("secret.txt\n")
    paths, is_dir = FileIndex(root).snapshot()
    listed = dict(zip(paths.paths, is_dir, strict=True))
    assert "src/app.py" in listed and listed["src"] is True
    assert "keep.log" in listed and "src/app.log" not in listed
    assert not any(p.startswith(("build", "node_modules", ".git/", "sub/secret")) for p in listed)
    assert ".git" not in listed
    assert "sub/public.txt" in listed and ".hidden/visible.txt" in listed


def test_parent_gitignore_and_info_exclude_apply_below_the_git_root(tmp_path: Path) -> None:
    repo = tree(tmp_path / "repo", ["pkg/a.py", "pkg/gen/b.py", "pkg/tmp.bak", ".git/HEAD"])
    (repo / ".gitignore").write_text("gen/\n")
    (repo / ".git" / "info").mkdir()
    (repo / ".git" / "info" / "exclude").write_text("*.bak\n")
    candidates, _ = FileIndex(repo / "pkg").snapshot()
    assert candidates.paths == ["a.py"]


def test_index_picks_up_changes_after_a_refresh(tmp_path: Path) -> None:
    root = tree(tmp_path, ["a/one.py"])
    index = FileIndex(root)
    assert "a/one.py" in index.snapshot()[0].paths
    tree(root, ["a/two.py", "b/three.py"])
    (root / "a" / "one.py").unlink()
    paths = index.snapshot(fresh=True)[0].paths
    assert "a/two.py" in paths and "b/three.py" in paths and "a/one.py" not in paths
    (root / ".gitignore").write_text("b/\n")
    assert "b/three.py" not in index.snapshot(fresh=True)[0].paths


def test_a_stale_snapshot_is_refreshed_in_the_background(tmp_path: Path) -> None:
    root = tree(tmp_path, ["a.py"])
    index = FileIndex(root, max_age_s=0.0)
    index.snapshot()
    tree(root, ["b.py"])
    deadline = time.monotonic() + 10
    assert "b.py" not in index.snapshot()[0].paths  # answered from the published snapshot
    while "b.py" not in index.snapshot()[0].paths:
        assert time.monotonic() < deadline, "the background check never published b.py"
        index.check_soon()
        time.sleep(0.02)


def test_symlinks_are_listed_not_followed(tmp_path: Path) -> None:
    root = tree(tmp_path / "root", ["real/file.py"])
    tree(tmp_path / "outside", ["secret.py"])
    os.symlink(tmp_path / "outside", root / "link")
    paths = FileIndex(root).snapshot()[0].paths
    assert "link" in paths and not any(p.startswith("link/") for p in paths)


async def test_service_merges_roots_and_a_newer_call_with_the_same_token_cancels_the_older(
    tmp_path: Path,
) -> None:
    one = tree(tmp_path / "one", ["alpha.py"])
    two = tree(tmp_path / "two", ["alphabet.md"])
    service = FileSearch()
    try:
        found = await service.search("alpha", [str(one), str(two)])
        assert [(f.root, f.path) for f in found] == [
            (str(one), "alpha.py"),
            (str(two), "alphabet.md"),
        ]
        # The older search is held in the worker; the newer one with the same token cancels it.
        gate = threading.Event()
        original = service.run

        def slow_run(*args: object) -> object:
            gate.wait(5)
            return original(*args)  # type: ignore[arg-type]

        service.run = slow_run  # type: ignore[method-assign]
        older = asyncio.ensure_future(service.search("alpha", [str(one)], "tok"))
        await asyncio.sleep(0.05)
        service.run = original  # type: ignore[method-assign]
        newer = await service.search("alpha", [str(one)], "tok")
        assert await asyncio.wait_for(older, 2) == []
        assert [f.path for f in newer] == ["alpha.py"]
        gate.set()
    finally:
        service.close()


async def test_service_rejects_bad_roots_naming_them(tmp_path: Path) -> None:
    service = FileSearch()
    try:
        with pytest.raises(InvalidParams, match=r"params.roots\[0\]: must be an absolute"):
            await service.search("x", ["relative/dir"])
        with pytest.raises(InvalidParams, match=r"params.roots\[1\]: .* not an existing directory"):
            await service.search("x", [str(tmp_path), str(tmp_path / "missing")])
        assert await service.search("", [str(tmp_path)]) == []
    finally:
        service.close()


def test_git_check_ignore_agrees_with_the_index(tmp_path: Path) -> None:
    """Cross-check against git itself on a tricky .gitignore (when git is installed)."""
    git = subprocess.run(["git", "--version"], capture_output=True).returncode == 0
    if not git:
        pytest.fail("git is needed for this cross-check (apt-get install git)")
    files = [
        "a/b/c.txt",
        "a/b/d.md",
        "docs/x.md",
        "docs/api/y.md",
        "logs/today.log",
        "x/logs/y.log",
        "root.tmp",
    ]
    root = tree(tmp_path, files)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("/logs/\n*.tmp\ndocs/*\n!docs/api/\na/**/d.md\n")
    listed = set(FileIndex(root).snapshot()[0].paths)
    proc = subprocess.run(
        ["git", "-C", str(root), "check-ignore", "--no-index", *files],
        capture_output=True,
        text=True,
    )
    ignored_by_git = set(proc.stdout.split())
    for rel in files:
        assert (rel in listed) == (rel not in ignored_by_git), rel
