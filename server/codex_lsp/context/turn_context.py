"""The context items a turn adds to the conversation before the user's message: the AGENTS.md
message (first turn, and again when the cwd changed) and the `<environment_context>` message
(first turn, then only what changed). Decided from the history content, so a resumed thread that
already holds them gets nothing twice.

Reads files when :func:`reads_files` says so (an AGENTS.md lookup): then call
:func:`context_items` off the event loop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from codex_lsp.context import agents_md, environment
from codex_lsp.sandbox.policy import SandboxPolicy


@attrs.frozen
class ContextSettings:
    """Where AGENTS.md is looked for and how much of it is sent (from config)."""

    codex_home: Path
    fallback_filenames: tuple[str, ...] = ()
    max_bytes: int = agents_md.DEFAULT_MAX_BYTES


def context_items(
    history: Sequence[Mapping[str, Any]],
    *,
    cwd: Path,
    approval_policy: str,
    sandbox: SandboxPolicy,
    settings: ContextSettings,
    now: dt.datetime | None = None,
    env: Mapping[str, str] | None = None,
    agents_md_checked: str | None = None,
) -> list[dict[str, Any]]:
    """The items to record before this turn's user message (possibly none). ``agents_md_checked``:
    the cwd this thread already looked up AGENTS.md for (found or not); not looked up again."""
    items: list[dict[str, Any]] = []
    if reads_files(history, cwd, agents_md_checked):
        found = agents_md.load_instructions(
            cwd,
            settings.codex_home,
            fallback_names=settings.fallback_filenames,
            max_bytes=settings.max_bytes,
        )
        if found is not None:
            items.append(agents_md.agents_md_item(found))
    current = environment.current(cwd, approval_policy, sandbox, now=now, env=env)
    update = environment.next_environment_item(history, current)
    if update is not None:
        items.append(update)
    return items


def reads_files(
    history: Sequence[Mapping[str, Any]], cwd: Path, agents_md_checked: str | None
) -> bool:
    """Whether :func:`context_items` would look AGENTS.md up (file reads) for this turn."""
    where = str(cwd)
    return agents_md_checked != where and agents_md.last_sent_cwd(history) != where


def initial_context(
    *,
    cwd: Path,
    approval_policy: str,
    sandbox: SandboxPolicy,
    settings: ContextSettings,
    now: dt.datetime | None = None,
    env: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The full context, as for a new thread (what a compacted history starts with)."""
    return context_items(
        [],
        cwd=cwd,
        approval_policy=approval_policy,
        sandbox=sandbox,
        settings=settings,
        now=now,
        env=env,
    )
