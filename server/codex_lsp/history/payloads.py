"""Wire payloads for stored threads (pure)."""

from __future__ import annotations

from typing import Any

from codex_lsp.history.reader import ThreadSummary
from codex_lsp.protocol.threads import GitInfo, Thread, ThreadStatus


def git_info(git: dict[str, Any] | None) -> GitInfo | None:
    """Upstream records ``{commit_hash, branch, repository_url}``; the wire says ``{sha, branch, originUrl}``."""
    if not git:
        return None

    def text(key: str) -> str | None:
        value = git.get(key)
        return value if isinstance(value, str) else None

    return GitInfo(
        sha=text("commit_hash"), branch=text("branch"), origin_url=text("repository_url")
    )


def thread_from_summary(
    summary: ThreadSummary, *, status: str = "notLoaded", turns: list[Any] | None = None
) -> Thread:
    """A stored thread as the wire `Thread`."""
    return Thread(
        id=summary.id,
        session_id=summary.session_id,
        project_id=None,
        preview=summary.preview,
        ephemeral=False,
        model=summary.model,
        model_provider=summary.model_provider,
        created_at=summary.created_at,
        updated_at=summary.updated_at,
        status=ThreadStatus(type=status),  # type: ignore[arg-type]
        cwd=summary.cwd,
        cli_version=summary.cli_version,
        source=summary.source,
        turns=list(turns or []),
        path=str(summary.path),
        name=summary.name,
        forked_from_id=summary.forked_from_id,
        git_info=git_info(summary.git),
    )
