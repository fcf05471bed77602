"""Threads, turns, items and their streaming notifications."""

from __future__ import annotations

from typing import Literal

import attrs

from codex_lsp.protocol.edits import FileChangeItem
from codex_lsp.protocol.inputs import TextInput as TextInput  # re-exported
from codex_lsp.protocol.inputs import UserInput
from codex_lsp.protocol.methods import define
from codex_lsp.protocol.wire import JsonValue, field

ApprovalPolicy = Literal["untrusted", "on-failure", "on-request", "never"]
SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


# ---- sandbox policy (wire) ----------------------------------------------------------------------


@attrs.define
class ReadOnlySandboxPolicy:
    """Read everything, write nothing (except `/dev/null`); no network."""

    type: Literal["readOnly"] = field("Discriminator.")


@attrs.define
class WorkspaceWriteSandboxPolicy:
    """Write inside the cwd and `writableRoots` (and /tmp, $TMPDIR unless excluded); `.git` stays read-only."""

    type: Literal["workspaceWrite"] = field("Discriminator.")
    writable_roots: list[str] = field(
        "Extra absolute paths that may be written.", default=attrs.Factory(list)
    )
    network_access: bool = field("Allow network access.", default=False)
    exclude_tmpdir_env_var: bool = field("Don't make $TMPDIR writable.", default=False)
    exclude_slash_tmp: bool = field("Don't make /tmp writable.", default=False)


@attrs.define
class DangerFullAccessSandboxPolicy:
    """No sandbox at all."""

    type: Literal["dangerFullAccess"] = field("Discriminator.")


SandboxPolicyWire = (
    ReadOnlySandboxPolicy | WorkspaceWriteSandboxPolicy | DangerFullAccessSandboxPolicy
)


# ---- threads ------------------------------------------------------------------------------------


@attrs.define
class ThreadStatus:
    """Thread status."""

    type: Literal["idle", "active", "notLoaded", "systemError"] = field(
        "`active` while a turn runs."
    )


@attrs.define
class GitInfo:
    """Git metadata recorded when the thread was created."""

    sha: str | None = field("Commit hash.")
    branch: str | None = field("Branch name.")
    origin_url: str | None = field("Remote URL.")


@attrs.define
class Thread:
    """A conversation: loaded in this server, or stored as a rollout (ours or the Codex CLI's)."""

    id: str = field("Thread id (UUID; ours are UUIDv7).")
    session_id: str = field("Session id from the rollout (the thread id for threads started here).")
    project_id: str | None = field("Project id; always null here.")
    preview: str = field("First user message, truncated (empty before the first turn).")
    ephemeral: bool = field(
        "True when the thread is kept in memory only (`thread/start {ephemeral: true}`)."
    )
    model: str | None = field(
        "Model of a loaded thread, else the latest recorded model (null if unknown)."
    )
    model_provider: str = field("Model provider id, e.g. `openai`.")
    created_at: int = field("Creation time, unix seconds.")
    updated_at: int = field(
        "Last update, unix seconds (the rollout's modification time when stored)."
    )
    status: ThreadStatus = field("`notLoaded` for stored threads; `idle` or `active` once loaded.")
    cwd: str = field("Working directory recorded for the thread.")
    cli_version: str = field(
        "Version of the program that created the thread (codex-lsp or the Codex CLI)."
    )
    source: JsonValue = field(
        "Origin: `cli`, `vscode` (threads started here, as upstream's app-server records them), `exec`, "
        "`appServer`, `unknown`, or `{subAgent: ...}` / `{custom: ...}`."
    )
    turns: list[JsonValue] = field(
        "Only filled by `thread/resume`, `thread/fork` and `thread/read {includeTurns: true}`; else empty."
    )
    path: str | None = field(
        "[UNSTABLE] The rollout file; null until the first item is recorded.", default=None
    )
    name: str | None = field(
        "User-facing name set with `thread/name/set` (or by the Codex CLI).", default=None
    )
    forked_from_id: str | None = field("The thread this one was forked from.", default=None)
    git_info: GitInfo | None = field("Git metadata recorded at creation, when known.", default=None)


@attrs.define
class ThreadStartParams:
    """Params of `thread/start` (all optional)."""

    cwd: str | None = field(
        "Working directory; defaults to the first LSP workspace folder.", default=None
    )
    model: str | None = field("Model slug; defaults to the models manager's choice.", default=None)
    model_provider: str | None = field(
        "Provider id from config; defaults to `model_provider`.", default=None
    )
    approval_policy: ApprovalPolicy | None = field(
        "When to ask the editor before running commands.", default=None
    )
    sandbox: SandboxMode | None = field("Sandbox mode for commands.", default=None)
    base_instructions: str | None = field(
        "Replaces the built-in system instructions.", default=None
    )
    developer_instructions: str | None = field("Extra developer instructions.", default=None)
    ephemeral: bool | None = field(
        "Keep the thread in memory only: no rollout is written.", default=None
    )


@attrs.define
class ThreadStartResult:
    """Result of `thread/start`."""

    thread: Thread = field("The new thread.")
    model: str = field("Model resolved once for this thread.")
    model_provider: str = field("Provider id.")
    cwd: str = field("Working directory.")
    approval_policy: ApprovalPolicy = field("Approval policy in force.")
    approvals_reviewer: Literal["user"] = field(
        "Who reviews approvals; always `user` (the editor)."
    )
    sandbox: SandboxPolicyWire = field("Sandbox policy in force.")
    reasoning_effort: ReasoningEffort | None = field("Reasoning effort, when set.")


THREAD_START = define(
    "thread/start",
    direction="client->server",
    kind="request",
    group="threads",
    params=ThreadStartParams,
    result=ThreadStartResult,
    doc="Create a thread; the model is resolved once here. Followed by `thread/started`.",
)


@attrs.define
class ThreadStarted:
    """A thread was created."""

    thread: Thread = field("The thread.")


THREAD_STARTED = define(
    "thread/started",
    direction="server->client",
    kind="notification",
    group="threads",
    params=ThreadStarted,
    doc="Sent after `thread/start` answers.",
)


# ---- turns --------------------------------------------------------------------------------------


@attrs.define
class TurnError:
    """Why a turn failed."""

    message: str = field("What went wrong and what to do.")
    codex_error_info: JsonValue = field(
        "Machine-readable kind: `unauthorized`, `usageLimitExceeded`, `internalServerError`, `badRequest`, "
        "`sandboxError`, `other`, `{responseStreamDisconnected: {httpStatusCode}}`, "
        "`{responseTooManyFailedAttempts: {httpStatusCode}}`, `{httpConnectionFailed: {httpStatusCode}}`..."
    )
    additional_details: str | None = field("More detail, when available.")


@attrs.define
class Turn:
    """One user request and everything the agent did for it."""

    id: str = field("Turn id.")
    status: Literal["inProgress", "completed", "interrupted", "failed"] = field("Turn status.")
    items: list[JsonValue] = field("Items of the turn (filled in `turn/completed`).")
    error: TurnError | None = field("Set when `status` is `failed`.")


@attrs.define
class TurnStartParams:
    """Params of `turn/start`. Overrides persist for later turns of the thread."""

    thread_id: str = field("Thread to continue.")
    input: list[UserInput] = field(
        "User input items: `text`, `image`, `localImage`, `mention`, `skill` (see context.md)."
    )
    model: str | None = field("Model override.", default=None)
    effort: ReasoningEffort | None = field("Reasoning effort override.", default=None)
    summary: Literal["auto", "concise", "detailed", "none"] | None = field(
        "Reasoning summary mode.", default=None
    )
    approval_policy: ApprovalPolicy | None = field("Approval policy override.", default=None)
    sandbox_policy: SandboxPolicyWire | None = field("Sandbox policy override.", default=None)
    cwd: str | None = field("Working directory override.", default=None)


@attrs.define
class TurnStartResult:
    """Result of `turn/start`: the turn, `inProgress`. Progress arrives as notifications."""

    turn: Turn = field("The new turn.")


TURN_START = define(
    "turn/start",
    direction="client->server",
    kind="request",
    group="threads",
    params=TurnStartParams,
    result=TurnStartResult,
    doc="Start a turn. One active turn per thread; a second one is refused with -32600.",
)


@attrs.define
class TurnInterruptParams:
    """Params of `turn/interrupt`."""

    thread_id: str = field("Thread id.")
    turn_id: str = field("Turn to interrupt.")


@attrs.define
class EmptyResult:
    """No fields."""


TURN_INTERRUPT = define(
    "turn/interrupt",
    direction="client->server",
    kind="request",
    group="threads",
    params=TurnInterruptParams,
    result=EmptyResult,
    doc="Interrupt a running turn; it then completes as `interrupted` and running commands are killed.",
)


@attrs.define
class TurnNotification:
    """A turn started or completed."""

    thread_id: str = field("Thread id.")
    turn: Turn = field("The turn.")


TURN_STARTED = define(
    "turn/started",
    direction="server->client",
    kind="notification",
    group="threads",
    params=TurnNotification,
    doc="First notification of a turn.",
)

TURN_COMPLETED = define(
    "turn/completed",
    direction="server->client",
    kind="notification",
    group="threads",
    params=TurnNotification,
    doc="Last notification of a turn: `completed`, `interrupted` or `failed` (with `error`).",
)


# ---- items --------------------------------------------------------------------------------------


@attrs.define
class UserMessageItem:
    """The user's input."""

    type: Literal["userMessage"] = field("Discriminator.")
    id: str = field("Item id.")
    content: list[UserInput] = field("The input.")


@attrs.define
class AgentMessageItem:
    """Text from the model."""

    type: Literal["agentMessage"] = field("Discriminator.")
    id: str = field("Item id.")
    text: str = field("Full text so far (complete in `item/completed`).")


@attrs.define
class ReasoningItem:
    """Reasoning summary from the model."""

    type: Literal["reasoning"] = field("Discriminator.")
    id: str = field("Item id.")
    summary: list[str] = field("Summary parts.")
    content: list[str] = field("Raw reasoning text (not exposed by the backend; empty).")


@attrs.define
class CommandExecutionItem:
    """A shell command the model ran."""

    type: Literal["commandExecution"] = field("Discriminator.")
    id: str = field("Item id.")
    command: str = field("The command, shell-quoted.")
    cwd: str = field("Working directory.")
    status: Literal["inProgress", "completed", "failed", "declined"] = field("Command status.")
    command_actions: list[JsonValue] = field("Parsed actions (always empty here).")
    aggregated_output: str | None = field("Combined stdout/stderr (capped).")
    exit_code: int | None = field("Exit code, when finished.")
    duration_ms: int | None = field("Run time, when finished.")


@attrs.define
class ContextCompactionItem:
    """The conversation was compacted (summarised) to fit the model's context window."""

    type: Literal["contextCompaction"] = field("Discriminator.")
    id: str = field("Item id.")


ThreadItem = (
    UserMessageItem
    | AgentMessageItem
    | ReasoningItem
    | CommandExecutionItem
    | ContextCompactionItem
    | FileChangeItem
)


@attrs.define
class ItemStarted:
    """An item started."""

    thread_id: str = field("Thread id.")
    turn_id: str = field("Turn id.")
    item: ThreadItem = field("The item as it starts.")
    started_at_ms: int = field("Unix milliseconds.")


@attrs.define
class ItemCompleted:
    """An item completed."""

    thread_id: str = field("Thread id.")
    turn_id: str = field("Turn id.")
    item: ThreadItem = field("The complete item.")
    completed_at_ms: int = field("Unix milliseconds.")


ITEM_STARTED = define(
    "item/started",
    direction="server->client",
    kind="notification",
    group="threads",
    params=ItemStarted,
    doc="An item began; deltas for it follow.",
)
ITEM_COMPLETED = define(
    "item/completed",
    direction="server->client",
    kind="notification",
    group="threads",
    params=ItemCompleted,
    doc="An item finished; it carries the complete item.",
)


@attrs.define
class ItemDelta:
    """A chunk of streamed text for an item."""

    thread_id: str = field("Thread id.")
    turn_id: str = field("Turn id.")
    item_id: str = field("Item id.")
    delta: str = field("The text chunk.")


ITEM_AGENT_MESSAGE_DELTA = define(
    "item/agentMessage/delta",
    direction="server->client",
    kind="notification",
    group="threads",
    params=ItemDelta,
    doc="Streamed model text, forwarded as soon as it arrives.",
)
ITEM_COMMAND_EXECUTION_OUTPUT_DELTA = define(
    "item/commandExecution/outputDelta",
    direction="server->client",
    kind="notification",
    group="threads",
    params=ItemDelta,
    doc="Streamed command output (stdout and stderr, capped).",
)


@attrs.define
class ReasoningSummaryTextDelta:
    """A chunk of a reasoning summary."""

    thread_id: str = field("Thread id.")
    turn_id: str = field("Turn id.")
    item_id: str = field("Item id.")
    delta: str = field("The text chunk.")
    summary_index: int = field("Which summary part.")


ITEM_REASONING_SUMMARY_TEXT_DELTA = define(
    "item/reasoning/summaryTextDelta",
    direction="server->client",
    kind="notification",
    group="threads",
    params=ReasoningSummaryTextDelta,
    doc="Streamed reasoning summary text.",
)


@attrs.define
class ReasoningSummaryPartAdded:
    """A new reasoning summary part started."""

    thread_id: str = field("Thread id.")
    turn_id: str = field("Turn id.")
    item_id: str = field("Item id.")
    summary_index: int = field("Index of the new part.")


ITEM_REASONING_SUMMARY_PART_ADDED = define(
    "item/reasoning/summaryPartAdded",
    direction="server->client",
    kind="notification",
    group="threads",
    params=ReasoningSummaryPartAdded,
    doc="A reasoning summary part began.",
)


@attrs.define
class TokenUsageBreakdown:
    """Token counts."""

    total_tokens: int = field("Total tokens.")
    input_tokens: int = field("Input tokens.")
    cached_input_tokens: int = field("Input tokens served from cache.")
    output_tokens: int = field("Output tokens.")
    reasoning_output_tokens: int = field("Output tokens spent reasoning.")


@attrs.define
class ThreadTokenUsage:
    """Token usage of a thread."""

    total: TokenUsageBreakdown = field("Since the thread started.")
    last: TokenUsageBreakdown = field("Of the last model call.")
    model_context_window: int | None = field("Context window of the model, when known.")


@attrs.define
class ThreadTokenUsageUpdated:
    """Token usage changed."""

    thread_id: str = field("Thread id.")
    turn_id: str = field("Turn id.")
    token_usage: ThreadTokenUsage = field("Usage.")


THREAD_TOKEN_USAGE_UPDATED = define(
    "thread/tokenUsage/updated",
    direction="server->client",
    kind="notification",
    group="threads",
    params=ThreadTokenUsageUpdated,
    doc="Sent after each model response, before `turn/completed`.",
)


# ---- approvals ----------------------------------------------------------------------------------


@attrs.define
class CommandExecutionRequestApprovalParams:
    """The agent wants to run a command and the approval policy says to ask."""

    thread_id: str = field("Thread id.")
    turn_id: str = field("Turn id.")
    item_id: str = field("The `commandExecution` item.")
    started_at_ms: int = field("When the request was made, unix milliseconds.")
    approval_id: str = field("Unique id of this approval request.")
    command: str = field("The command, shell-quoted.")
    cwd: str = field("Working directory.")
    reason: str | None = field("Why approval is asked (e.g. the sandbox refused the command).")


@attrs.define
class CommandExecutionRequestApprovalResponse:
    """The editor's decision."""

    decision: Literal["accept", "acceptForSession", "decline", "cancel"] = field(
        "`accept` runs it; `acceptForSession` also approves the same command for the rest of the thread; "
        "`decline` tells the model it was refused; `cancel` interrupts the turn."
    )


ITEM_COMMAND_EXECUTION_REQUEST_APPROVAL = define(
    "item/commandExecution/requestApproval",
    direction="server->client",
    kind="request",
    group="approvals",
    params=CommandExecutionRequestApprovalParams,
    result=CommandExecutionRequestApprovalResponse,
    doc="Ask the editor whether to run a command. Unanswered requests end with the turn.",
)


@attrs.define
class ServerRequestResolved:
    """A server→client request is no longer pending (answered, or cleared by the turn ending)."""

    thread_id: str = field("Thread id.")
    request_id: str | int = field("JSON-RPC id of the server→client request.")


SERVER_REQUEST_RESOLVED = define(
    "serverRequest/resolved",
    direction="server->client",
    kind="notification",
    group="approvals",
    params=ServerRequestResolved,
    doc="Sent when an approval request is answered or cleared.",
)
