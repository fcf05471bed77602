"""Which context items a turn adds, decided from the history alone (pure)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from codex_lsp.context.turn_context import (
    ContextSettings,
    context_items,
    initial_context,
    reads_files,
)
from codex_lsp.sandbox.policy import ReadOnly, WorkspaceWrite

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
ENV = {"SHELL": "/bin/bash", "TZ": "Etc/UTC"}


def texts(items: list[dict]) -> list[str]:
    return [i["content"][0]["text"] for i in items]


def test_first_turn_gets_agents_md_then_environment_later_turns_only_changes(
    tmp_path: Path,
) -> None:
    home, repo = tmp_path / "home", tmp_path / "repo"
    home.mkdir()
    (repo / ".git").mkdir(parents=True)
    (repo / "AGENTS.md").write_text("be nice")
    (repo / "sub").mkdir()
    settings = ContextSettings(codex_home=home)
    args = {
        "approval_policy": "never",
        "sandbox": ReadOnly(),
        "settings": settings,
        "now": NOW,
        "env": ENV,
    }
    history: list[dict] = []
    first = context_items(history, cwd=repo, **args)
    assert texts(first)[0].startswith(f"# AGENTS.md instructions for {repo}")
    assert texts(first)[1].startswith("<environment_context>")
    history += first
    assert context_items(history, cwd=repo, **args) == []  # nothing changed: nothing sent
    moved = context_items(history, cwd=repo / "sub", **args)
    assert texts(moved)[0].startswith(f"# AGENTS.md instructions for {repo / 'sub'}")
    assert (
        texts(moved)[1]
        == f"<environment_context>\n  <cwd>{repo / 'sub'}</cwd>\n</environment_context>"
    )
    history += moved
    changed_sandbox = context_items(
        history, cwd=repo / "sub", **{**args, "sandbox": WorkspaceWrite()}
    )
    assert (
        len(changed_sandbox) == 1
        and "<sandbox_mode>workspace-write</sandbox_mode>" in texts(changed_sandbox)[0]
    )


def test_without_agents_md_only_the_environment_is_sent(tmp_path: Path) -> None:
    settings = ContextSettings(codex_home=tmp_path / "nohome")
    items = initial_context(
        cwd=tmp_path,
        approval_policy="never",
        sandbox=ReadOnly(),
        settings=settings,
        now=NOW,
        env=ENV,
    )
    assert len(items) == 1 and texts(items)[0].startswith("<environment_context>")


def test_agents_md_is_looked_up_once_per_thread_and_cwd(tmp_path: Path) -> None:
    """A thread that found no AGENTS.md for its cwd doesn't look again every turn (file reads,
    off the event loop); a new cwd is looked up, and so is a thread that never looked."""
    home, repo = tmp_path / "home", tmp_path / "repo"
    home.mkdir()
    (repo / "sub").mkdir(parents=True)
    args = {
        "approval_policy": "never",
        "sandbox": ReadOnly(),
        "settings": ContextSettings(codex_home=home),
        "now": NOW,
        "env": ENV,
    }
    assert reads_files([], repo, None)
    history = context_items([], cwd=repo, **args)  # nothing found: the environment only
    assert len(history) == 1
    (repo / "AGENTS.md").write_text("added later")
    assert not reads_files(history, repo, str(repo))
    assert context_items(history, cwd=repo, agents_md_checked=str(repo), **args) == []
    assert reads_files(history, repo / "sub", str(repo))  # a new cwd is looked up
    assert reads_files(history, repo, None)  # a resumed thread looks once more
    found = context_items(history, cwd=repo, agents_md_checked=None, **args)
    assert texts(found) == [
        f"# AGENTS.md instructions for {repo}\n\n<INSTRUCTIONS>\nadded later\n</INSTRUCTIONS>"
    ]
    assert not reads_files(history + found, repo, None)  # sent: the history says so
