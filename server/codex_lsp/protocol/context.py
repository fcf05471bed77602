"""What the agent is told and what it reports back: plans, steering, compaction and file search
(issue 14). See protocol-docs/context.md. The `error` notification is in `turn_errors.py`."""

from __future__ import annotations

from typing import Literal

import attrs

from codex_lsp.protocol.inputs import UserInput
from codex_lsp.protocol.methods import define
from codex_lsp.protocol.threads import EmptyResult
from codex_lsp.protocol.wire import field

# ---- plans --------------------------------------------------------------------------------------

PlanStepStatus = Literal["pending", "inProgress", "completed"]


@attrs.define
class TurnPlanStep:
    """One step of the agent's plan."""

    step: str = field("What the step does.")
    status: PlanStepStatus = field("`pending`, `inProgress` (at most one step) or `completed`.")


@attrs.define
class TurnPlanUpdated:
    """The agent published (or revised) its plan with the `update_plan` tool."""

    thread_id: str = field("Thread id.")
    turn_id: str = field("Turn id.")
    explanation: str | None = field("Why the plan changed, when the model said.")
    plan: list[TurnPlanStep] = field("The whole plan, in order.")


TURN_PLAN_UPDATED = define(
    "turn/plan/updated",
    direction="server->client",
    kind="notification",
    group="context",
    params=TurnPlanUpdated,
    doc="The model called `update_plan`; carries the full plan with camelCase statuses.",
)


# ---- steering -----------------------------------------------------------------------------------


@attrs.define
class TurnSteerParams:
    """Params of `turn/steer`."""

    thread_id: str = field("Thread id.")
    expected_turn_id: str = field(
        "The running turn; the call fails (-32600) if it is not the active one."
    )
    input: list[UserInput] = field("More user input; joins the turn at its next model request.")


@attrs.define
class TurnSteerResult:
    """Result of `turn/steer`."""

    turn_id: str = field("The turn the input joined.")


TURN_STEER = define(
    "turn/steer",
    direction="client->server",
    kind="request",
    group="context",
    params=TurnSteerParams,
    result=TurnSteerResult,
    doc="Add input to the running turn; it joins at the turn's next model request.",
)


# ---- compaction ---------------------------------------------------------------------------------


@attrs.define
class ThreadCompactStartParams:
    """Params of `thread/compact/start`."""

    thread_id: str = field("Thread to compact.")


ThreadCompactStartResult = EmptyResult

THREAD_COMPACT_START = define(
    "thread/compact/start",
    direction="client->server",
    kind="request",
    group="context",
    params=ThreadCompactStartParams,
    result=ThreadCompactStartResult,
    doc="Compact the thread's conversation now; runs as a turn with a `contextCompaction` item.",
)


# ---- file search --------------------------------------------------------------------------------


@attrs.define
class FuzzyFileSearchParams:
    """Params of `fuzzyFileSearch`."""

    query: str = field("What the user typed; whitespace separates terms that must all match.")
    roots: list[str] = field("Absolute directories to search (e.g. the workspace folders).")
    cancellation_token: str | None = field(
        "A newer call with the same token cancels this one (it then answers `files: []`).",
        default=None,
    )


@attrs.define
class FuzzyFileSearchResult:
    """One match."""

    root: str = field("The root it was found under, as given.")
    path: str = field("Path relative to `root` (`/`-separated).")
    file_name: str = field("Last component of `path`.", wire="file_name")
    score: int = field("Relevance; higher is better.")
    indices: list[int] | None = field("Matched character positions in `path`, ascending.")
    match_type: Literal["file", "directory"] = field("What `path` is.", wire="match_type")


@attrs.define
class FuzzyFileSearchResponse:
    """Result of `fuzzyFileSearch`: best first (score, then path), at most 50."""

    files: list[FuzzyFileSearchResult] = field("The matches.")


FUZZY_FILE_SEARCH = define(
    "fuzzyFileSearch",
    direction="client->server",
    kind="request",
    group="context",
    params=FuzzyFileSearchParams,
    result=FuzzyFileSearchResponse,
    doc="Fuzzy-find files and directories under the roots; respects .gitignore, skips `.git`.",
)
