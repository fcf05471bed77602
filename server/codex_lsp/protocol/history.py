"""Stored threads: list, read, resume, fork, archive/unarchive, name (upstream's wire shapes).

Threads are persisted as upstream rollouts under `$CODEX_HOME/sessions`, so sessions of the Codex
CLI and IDE extension are listed, read and continued here, and ours there.
"""

from __future__ import annotations

from typing import Literal

import attrs

from codex_lsp.protocol.methods import define
from codex_lsp.protocol.threads import ApprovalPolicy, SandboxMode, Thread, ThreadStartResult
from codex_lsp.protocol.wire import field

ThreadSortKey = Literal["created_at", "updated_at"]
ThreadSourceKind = Literal[
    "cli",
    "vscode",
    "exec",
    "appServer",
    "subAgent",
    "subAgentReview",
    "subAgentCompact",
    "subAgentThreadSpawn",
    "subAgentOther",
    "unknown",
]


@attrs.define
class ThreadListParams:
    """Params of `thread/list` (all optional)."""

    cursor: str | None = field("Opaque cursor from a previous page's `nextCursor`.", default=None)
    limit: int | None = field("Page size; default 25, at most 500.", default=None)
    sort_key: ThreadSortKey | None = field(
        "`created_at` (default) or `updated_at` (the rollout file's modification time).",
        default=None,
    )
    sort_direction: Literal["asc", "desc"] | None = field(
        "Default `desc` (newest first).", default=None
    )
    archived: bool | None = field(
        "True: only archived threads; false or null: only active ones.", default=None
    )
    cwd: str | list[str] | None = field(
        "Only threads whose recorded cwd equals this path (or one of these).", default=None
    )
    search_term: str | None = field(
        "Case-insensitive substring of the thread's name or preview.", default=None
    )
    model_providers: list[str] | None = field(
        "Only threads recorded under these providers; empty or null: all.", default=None
    )
    source_kinds: list[ThreadSourceKind] | None = field(
        "Only threads from these sources; empty or null: interactive ones (`cli`, `vscode`).",
        default=None,
    )


@attrs.define
class ThreadListResult:
    """One page of stored threads."""

    data: list[Thread] = field("Threads of this page (`turns` empty).")
    next_cursor: str | None = field("Pass as `cursor` for the next page; null on the last page.")


THREAD_LIST = define(
    "thread/list",
    direction="client->server",
    kind="request",
    group="history",
    params=ThreadListParams,
    result=ThreadListResult,
    doc="List stored threads (ours and the Codex CLI's), newest first, with stable cursor paging.",
)


@attrs.define
class ThreadReadParams:
    """Params of `thread/read`."""

    thread_id: str = field("Thread id.")
    include_turns: bool = field("Rebuild `thread.turns` from the rollout.", default=False)


@attrs.define
class ThreadResult:
    """A thread."""

    thread: Thread = field("The thread.")


THREAD_READ = define(
    "thread/read",
    direction="client->server",
    kind="request",
    group="history",
    params=ThreadReadParams,
    result=ThreadResult,
    doc="Read a stored or loaded thread without loading it; `includeTurns` rebuilds its turns.",
)


@attrs.define
class ThreadResumeParams:
    """Params of `thread/resume`. Overrides apply to the resumed thread; unset ones come from its
    latest `turn_context` (then from config)."""

    thread_id: str = field("Thread to continue.")
    cwd: str | None = field("Working directory override.", default=None)
    model: str | None = field("Model override.", default=None)
    model_provider: str | None = field(
        "Provider override (a provider id from config).", default=None
    )
    approval_policy: ApprovalPolicy | None = field("Approval policy override.", default=None)
    sandbox: SandboxMode | None = field("Sandbox mode override.", default=None)
    base_instructions: str | None = field(
        "Replaces the built-in system instructions.", default=None
    )
    developer_instructions: str | None = field("Extra developer instructions.", default=None)
    exclude_turns: bool = field("Return `thread.turns` empty.", default=False)


THREAD_RESUME = define(
    "thread/resume",
    direction="client->server",
    kind="request",
    group="history",
    params=ThreadResumeParams,
    result=ThreadStartResult,
    doc="Load a stored thread so the next `turn/start` continues it; a loaded thread is returned as is.",
)


@attrs.define
class ThreadForkParams:
    """Params of `thread/fork`."""

    thread_id: str = field("Thread to copy.")
    cwd: str | None = field("Working directory override.", default=None)
    model: str | None = field("Model override.", default=None)
    model_provider: str | None = field("Provider override.", default=None)
    approval_policy: ApprovalPolicy | None = field("Approval policy override.", default=None)
    sandbox: SandboxMode | None = field("Sandbox mode override.", default=None)
    base_instructions: str | None = field(
        "Replaces the built-in system instructions.", default=None
    )
    developer_instructions: str | None = field("Extra developer instructions.", default=None)
    ephemeral: bool = field("Keep the fork in memory only (no rollout).", default=False)
    exclude_turns: bool = field("Return `thread.turns` empty.", default=False)


THREAD_FORK = define(
    "thread/fork",
    direction="client->server",
    kind="request",
    group="history",
    params=ThreadForkParams,
    result=ThreadStartResult,
    doc="Copy a thread's history into a new loaded thread (new id, `forkedFromId`); sends `thread/started`.",
)


@attrs.define
class ThreadIdParams:
    """A thread id."""

    thread_id: str = field("Thread id.")


@attrs.define
class ThreadArchiveResult:
    """No fields."""


THREAD_ARCHIVE = define(
    "thread/archive",
    direction="client->server",
    kind="request",
    group="history",
    params=ThreadIdParams,
    result=ThreadArchiveResult,
    doc="Move a thread's rollout to `$CODEX_HOME/archived_sessions/` (unloading it); sends `thread/archived`.",
)

THREAD_UNARCHIVE = define(
    "thread/unarchive",
    direction="client->server",
    kind="request",
    group="history",
    params=ThreadIdParams,
    result=ThreadResult,
    doc="Move an archived thread back to `$CODEX_HOME/sessions/`; sends `thread/unarchived`.",
)


@attrs.define
class ThreadSetNameParams:
    """Params of `thread/name/set`."""

    thread_id: str = field("Thread id.")
    name: str = field("New name; an empty string clears it.")


@attrs.define
class ThreadSetNameResult:
    """No fields."""


THREAD_NAME_SET = define(
    "thread/name/set",
    direction="client->server",
    kind="request",
    group="history",
    params=ThreadSetNameParams,
    result=ThreadSetNameResult,
    doc="Name a thread (persisted in `$CODEX_HOME/session_index.jsonl`, as upstream); sends `thread/name/updated`.",
)


@attrs.define
class ThreadArchivedNotification:
    """A thread was archived."""

    thread_id: str = field("Thread id.")


@attrs.define
class ThreadUnarchivedNotification:
    """A thread was unarchived."""

    thread_id: str = field("Thread id.")


@attrs.define
class ThreadNameUpdatedNotification:
    """A thread's name changed."""

    thread_id: str = field("Thread id.")
    thread_name: str | None = field("The new name; null when cleared.")


THREAD_ARCHIVED = define(
    "thread/archived",
    direction="server->client",
    kind="notification",
    group="history",
    params=ThreadArchivedNotification,
    doc="Sent after `thread/archive` answers.",
)
THREAD_UNARCHIVED = define(
    "thread/unarchived",
    direction="server->client",
    kind="notification",
    group="history",
    params=ThreadUnarchivedNotification,
    doc="Sent after `thread/unarchive` answers.",
)
THREAD_NAME_UPDATED = define(
    "thread/name/updated",
    direction="server->client",
    kind="notification",
    group="history",
    params=ThreadNameUpdatedNotification,
    doc="Sent after `thread/name/set` answers.",
)
