"""One example payload per method, built from the payload classes.

Tests validate these against our generated schema and, for methods shared with upstream, against
upstream's app-server JSON Schema, so our wire shapes stay compatible.
"""

from __future__ import annotations

from typing import Any

from codex_lsp.protocol import account as a
from codex_lsp.protocol import commands as c
from codex_lsp.protocol import edits as e
from codex_lsp.protocol import history as h
from codex_lsp.protocol import models as m
from codex_lsp.protocol import status as s
from codex_lsp.protocol import threads as t
from codex_lsp.protocol import turn_errors as te

_CHATGPT = a.ChatGptAccount(type="chatgpt", email="dev@example.com", plan_type="pro")
_WINDOW = a.RateLimitWindow(used_percent=23, window_duration_mins=300, resets_at=1764000000)
_SNAPSHOT = a.RateLimitSnapshot(
    limit_id="codex",
    limit_name=None,
    primary=_WINDOW,
    secondary=a.RateLimitWindow(used_percent=61, window_duration_mins=10080, resets_at=1764080000),
    credits=a.CreditsSnapshot(has_credits=True, unlimited=False, balance="12.50"),
    plan_type="pro",
    individual_limit=None,
    rate_limit_reached_type=None,
)
_THREAD = t.Thread(
    id="5f0c3f0e-2b7d-4c53-9a55-0d3f3b1c2a10",
    session_id="5f0c3f0e-2b7d-4c53-9a55-0d3f3b1c2a10",
    project_id=None,
    preview="",
    ephemeral=False,
    model="gpt-5.2-codex",
    model_provider="openai",
    created_at=1764000000,
    updated_at=1764000000,
    status=t.ThreadStatus(type="idle"),
    cwd="/home/dev/project",
    cli_version="0.1.0",
    source="vscode",
    turns=[],
    path="/home/dev/.codex/sessions/2025/11/24/rollout-2025-11-24T16-00-00-5f0c3f0e-2b7d-4c53-9a55-0d3f3b1c2a10.jsonl",
    name=None,
    forked_from_id=None,
    git_info=t.GitInfo(sha="abc123", branch="main", origin_url=None),
)
_STORED = t.Thread(
    id="0199a213-81c0-7800-8aa1-bbab2a035a53",
    session_id="0199a213-81c0-7800-8aa1-bbab2a035a53",
    project_id=None,
    preview="Fix the failing test",
    ephemeral=False,
    model="gpt-5.1-codex",
    model_provider="openai",
    created_at=1763990000,
    updated_at=1763990600,
    status=t.ThreadStatus(type="notLoaded"),
    cwd="/home/dev/project",
    cli_version="0.169.0",
    source="cli",
    turns=[],
    path="/home/dev/.codex/sessions/2025/11/24/rollout-2025-11-24T13-13-20-0199a213-81c0-7800-8aa1-bbab2a035a53.jsonl",
    name="flaky test",
    forked_from_id=None,
    git_info=None,
)
_RESUMED = t.ThreadStartResult(
    thread=_STORED,
    model="gpt-5.1-codex",
    model_provider="openai",
    cwd="/home/dev/project",
    approval_policy="on-request",
    approvals_reviewer="user",
    sandbox=t.WorkspaceWriteSandboxPolicy(type="workspaceWrite"),
    reasoning_effort="high",
)
_TURN = t.Turn(id="turn-1", status="inProgress", items=[], error=None)
_AUTH_ERROR = t.TurnError(
    message="sign in again", codex_error_info="unauthorized", additional_details=None
)
_FAILED_TURN = t.Turn(id="turn-1", status="failed", items=[], error=_AUTH_ERROR)
_COMMAND_ITEM = t.CommandExecutionItem(
    type="commandExecution",
    id="item-3",
    command="ls -la",
    cwd="/home/dev/project",
    status="completed",
    command_actions=[],
    aggregated_output="README.md\n",
    exit_code=0,
    duration_ms=12,
)
_BREAKDOWN = t.TokenUsageBreakdown(
    total_tokens=120,
    input_tokens=100,
    cached_input_tokens=40,
    output_tokens=20,
    reasoning_output_tokens=5,
)

_FILE_CHANGE = e.FileUpdateChange(
    path="/home/dev/project/app.py",
    kind=e.UpdatePatchChangeKind(type="update", move_path=None),
    diff="@@ -1 +1 @@\n-print('hi')\n+print('hello')\n",
)

EXAMPLES: dict[str, tuple[Any, Any]] = {
    "account/read": (
        a.AccountReadParams(refresh_token=False),
        a.AccountReadResult(account=_CHATGPT, requires_openai_auth=True),
    ),
    "account/login/start": (
        a.ChatGptAuthTokensLoginParams(
            type="chatgptAuthTokens", access_token="eyJ...", chatgpt_account_id="acct-1"
        ),
        a.ChatGptAuthTokensLoginResult(type="chatgptAuthTokens"),
    ),
    "account/login/cancel": (
        a.LoginCancelParams(login_id="0d3f3b1c-2b7d-4c53-9a55-5f0c3f0e2a10"),
        a.LoginCancelResult(status="canceled"),
    ),
    "account/logout": (a.Empty(), a.Empty()),
    "account/rateLimits/read": (
        a.Empty(),
        a.RateLimitsReadResult(rate_limits=_SNAPSHOT, rate_limits_by_limit_id=None),
    ),
    "getAuthStatus": (
        a.GetAuthStatusParams(include_token=False),
        a.GetAuthStatusResult(
            auth_method="chatgptAuthTokens", auth_token=None, requires_openai_auth=True
        ),
    ),
    "account/login/completed": (
        a.AccountLoginCompleted(login_id=None, success=True, error=None),
        None,
    ),
    "account/updated": (a.AccountUpdated(auth_mode="chatgptAuthTokens", plan_type="pro"), None),
    "account/rateLimits/updated": (a.AccountRateLimitsUpdated(rate_limits=_SNAPSHOT), None),
    "account/chatgptAuthTokens/refresh": (
        a.ChatgptAuthTokensRefreshParams(reason="unauthorized", previous_account_id="acct-1"),
        a.ChatgptAuthTokensRefreshResponse(
            access_token="eyJ...", chatgpt_account_id="acct-1", chatgpt_plan_type="pro"
        ),
    ),
    "model/list": (
        m.ModelListParams(limit=20),
        m.ModelListResult(
            data=[
                m.Model(
                    id="gpt-5.2-codex",
                    model="gpt-5.2-codex",
                    upgrade=None,
                    upgrade_info=None,
                    availability_nux=None,
                    display_name="gpt-5.2-codex",
                    description="Frontier agentic coding model.",
                    hidden=False,
                    supported_reasoning_efforts=[
                        m.ReasoningEffortOption(reasoning_effort="medium", description="Balanced")
                    ],
                    default_reasoning_effort="medium",
                    input_modalities=["text", "image"],
                    supports_personality=False,
                    additional_speed_tiers=[],
                    service_tiers=[],
                    default_service_tier=None,
                    is_default=True,
                )
            ],
            next_cursor=None,
        ),
    ),
    "thread/start": (
        t.ThreadStartParams(
            cwd="/home/dev/project", approval_policy="on-request", sandbox="workspace-write"
        ),
        t.ThreadStartResult(
            thread=_THREAD,
            model="gpt-5.2-codex",
            model_provider="openai",
            cwd="/home/dev/project",
            approval_policy="on-request",
            approvals_reviewer="user",
            sandbox=t.WorkspaceWriteSandboxPolicy(type="workspaceWrite"),
            reasoning_effort=None,
        ),
    ),
    "thread/started": (t.ThreadStarted(thread=_THREAD), None),
    "turn/start": (
        t.TurnStartParams(
            thread_id=_THREAD.id, input=[t.TextInput(type="text", text="List the files")]
        ),
        t.TurnStartResult(turn=_TURN),
    ),
    "turn/interrupt": (
        t.TurnInterruptParams(thread_id=_THREAD.id, turn_id="turn-1"),
        t.EmptyResult(),
    ),
    "turn/started": (t.TurnNotification(thread_id=_THREAD.id, turn=_TURN), None),
    "turn/completed": (t.TurnNotification(thread_id=_THREAD.id, turn=_FAILED_TURN), None),
    "error": (
        te.ErrorNotification(
            error=_AUTH_ERROR, will_retry=False, thread_id=_THREAD.id, turn_id=_FAILED_TURN.id
        ),
        None,
    ),
    "item/started": (
        t.ItemStarted(
            thread_id=_THREAD.id,
            turn_id="turn-1",
            started_at_ms=1764000000000,
            item=t.AgentMessageItem(type="agentMessage", id="item-2", text=""),
        ),
        None,
    ),
    "item/completed": (
        t.ItemCompleted(
            thread_id=_THREAD.id,
            turn_id="turn-1",
            completed_at_ms=1764000000500,
            item=_COMMAND_ITEM,
        ),
        None,
    ),
    "item/agentMessage/delta": (
        t.ItemDelta(thread_id=_THREAD.id, turn_id="turn-1", item_id="item-2", delta="Hel"),
        None,
    ),
    "item/commandExecution/outputDelta": (
        t.ItemDelta(thread_id=_THREAD.id, turn_id="turn-1", item_id="item-3", delta="README.md\n"),
        None,
    ),
    "item/reasoning/summaryTextDelta": (
        t.ReasoningSummaryTextDelta(
            thread_id=_THREAD.id,
            turn_id="turn-1",
            item_id="item-1",
            delta="Looking",
            summary_index=0,
        ),
        None,
    ),
    "item/reasoning/summaryPartAdded": (
        t.ReasoningSummaryPartAdded(
            thread_id=_THREAD.id, turn_id="turn-1", item_id="item-1", summary_index=0
        ),
        None,
    ),
    "thread/tokenUsage/updated": (
        t.ThreadTokenUsageUpdated(
            thread_id=_THREAD.id,
            turn_id="turn-1",
            token_usage=t.ThreadTokenUsage(
                total=_BREAKDOWN, last=_BREAKDOWN, model_context_window=None
            ),
        ),
        None,
    ),
    "item/commandExecution/requestApproval": (
        t.CommandExecutionRequestApprovalParams(
            thread_id=_THREAD.id,
            turn_id="turn-1",
            item_id="item-3",
            started_at_ms=1764000000000,
            approval_id="approval-1",
            command="rm -rf build",
            cwd="/home/dev/project",
            reason=None,
        ),
        t.CommandExecutionRequestApprovalResponse(decision="acceptForSession"),
    ),
    "serverRequest/resolved": (
        t.ServerRequestResolved(thread_id=_THREAD.id, request_id="approval-1"),
        None,
    ),
    "item/fileChange/requestApproval": (
        e.FileChangeRequestApprovalParams(
            thread_id=_THREAD.id,
            turn_id="turn-1",
            item_id="call_patch_1",
            started_at_ms=1764000000000,
            reason="The patch writes outside the writable roots: ../notes.md",
            grant_root=None,
        ),
        e.FileChangeRequestApprovalResponse(decision="accept"),
    ),
    "turn/diff/updated": (
        e.TurnDiffUpdated(
            thread_id=_THREAD.id,
            turn_id="turn-1",
            diff="diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-print('hi')\n"
            "+print('hello')\n",
        ),
        None,
    ),
    "item/fileChange/patchUpdated": (
        e.FileChangePatchUpdated(
            thread_id=_THREAD.id,
            turn_id="turn-1",
            item_id="call_patch_1",
            changes=[_FILE_CHANGE],
        ),
        None,
    ),
    "command/exec": (
        c.CommandExecParams(command=["ls"], cwd="/home/dev/project", timeout_ms=5000),
        c.CommandExecResult(exit_code=0, stdout="README.md\n", stderr=""),
    ),
    "codex/status": (
        a.Empty(),
        s.CodexStatusResult(
            account=_CHATGPT,
            auth_mode="chatgptAuthTokens",
            model="gpt-5.2-codex",
            model_provider="openai",
            sandbox_backend="bwrap",
            rate_limits=_SNAPSHOT,
            lines=[
                "Account: dev@example.com (pro)",
                "5h limit: 23% used",
                "Weekly limit: 61% used",
            ],
        ),
    ),
    "thread/list": (
        h.ThreadListParams(limit=25, sort_key="created_at", search_term="test"),
        h.ThreadListResult(
            data=[_STORED], next_cursor="WyJjcmVhdGVkX2F0IiwxNzYzOTkwMDAwLCIwMTk5Il0"
        ),
    ),
    "thread/read": (
        h.ThreadReadParams(thread_id=_STORED.id, include_turns=True),
        h.ThreadResult(thread=_STORED),
    ),
    "thread/resume": (h.ThreadResumeParams(thread_id=_STORED.id), _RESUMED),
    "thread/fork": (h.ThreadForkParams(thread_id=_STORED.id), _RESUMED),
    "thread/archive": (h.ThreadIdParams(thread_id=_STORED.id), h.ThreadArchiveResult()),
    "thread/unarchive": (h.ThreadIdParams(thread_id=_STORED.id), h.ThreadResult(thread=_STORED)),
    "thread/name/set": (
        h.ThreadSetNameParams(thread_id=_STORED.id, name="flaky test"),
        h.ThreadSetNameResult(),
    ),
    "thread/archived": (h.ThreadArchivedNotification(thread_id=_STORED.id), None),
    "thread/unarchived": (h.ThreadUnarchivedNotification(thread_id=_STORED.id), None),
    "thread/name/updated": (
        h.ThreadNameUpdatedNotification(thread_id=_STORED.id, thread_name="flaky test"),
        None,
    ),
}

# ---- agent context (issue 14) ---------------------------------------------------------------

from codex_lsp.protocol import context as x  # noqa: E402
from codex_lsp.protocol import turn_errors as te  # noqa: E402

EXAMPLES.update(
    {
        "fuzzyFileSearch": (
            x.FuzzyFileSearchParams(
                query="srvcfg", roots=["/home/dev/project"], cancellation_token="picker-1"
            ),
            x.FuzzyFileSearchResponse(
                files=[
                    x.FuzzyFileSearchResult(
                        root="/home/dev/project",
                        path="server/config.py",
                        file_name="config.py",
                        score=1290,
                        indices=[0, 3, 4, 7, 8, 13],
                        match_type="file",
                    )
                ]
            ),
        ),
        "turn/steer": (
            x.TurnSteerParams(
                thread_id=_THREAD.id,
                expected_turn_id="turn-1",
                input=[t.TextInput(type="text", text="Also update the README")],
            ),
            x.TurnSteerResult(turn_id="turn-1"),
        ),
        "thread/compact/start": (
            x.ThreadCompactStartParams(thread_id=_THREAD.id),
            t.EmptyResult(),
        ),
        "turn/plan/updated": (
            x.TurnPlanUpdated(
                thread_id=_THREAD.id,
                turn_id="turn-1",
                explanation="Found the bug",
                plan=[
                    x.TurnPlanStep(step="Reproduce", status="completed"),
                    x.TurnPlanStep(step="Fix the parser", status="inProgress"),
                    x.TurnPlanStep(step="Add a test", status="pending"),
                ],
            ),
            None,
        ),
        "error": (
            te.ErrorNotification(
                error=t.TurnError(
                    message="You've hit your usage limit. Wait for it to reset or add credits, then try again.",
                    codex_error_info="usageLimitExceeded",
                    additional_details=None,
                ),
                will_retry=False,
                thread_id=_THREAD.id,
                turn_id="turn-1",
            ),
            None,
        ),
    }
)
