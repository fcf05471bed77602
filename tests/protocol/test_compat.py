"""Our payloads validate against our own schema and, where shared, upstream's app-server schema."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from codex_lsp.protocol import METHODS, from_wire, to_wire
from codex_lsp.protocol.examples import EXAMPLES
from codex_lsp.protocol.schema import build_schema
from harness import ROOT

# Upstream's generated schema sits beside the repo in this workplace (../shared/reference); the
# issue asks for this check only where the folder exists. CODEX_LSP_UPSTREAM_SCHEMA points elsewhere.
UPSTREAM = Path(
    os.environ.get(
        "CODEX_LSP_UPSTREAM_SCHEMA", ROOT.parent / "shared" / "reference" / "app-server-schema"
    )
)

# our method -> (upstream params schema, upstream result schema); None where upstream has no file.
SHARED = {
    "account/read": ("v2/GetAccountParams", "v2/GetAccountResponse"),
    "account/login/start": ("v2/LoginAccountParams", "v2/LoginAccountResponse"),
    "account/login/cancel": ("v2/CancelLoginAccountParams", "v2/CancelLoginAccountResponse"),
    "account/logout": (None, "v2/LogoutAccountResponse"),
    "account/rateLimits/read": (None, "v2/GetAccountRateLimitsResponse"),
    "account/login/completed": ("v2/AccountLoginCompletedNotification", None),
    "account/updated": ("v2/AccountUpdatedNotification", None),
    "account/rateLimits/updated": ("v2/AccountRateLimitsUpdatedNotification", None),
    "account/chatgptAuthTokens/refresh": (
        "ChatgptAuthTokensRefreshParams",
        "ChatgptAuthTokensRefreshResponse",
    ),
    "model/list": ("v2/ModelListParams", "v2/ModelListResponse"),
    "thread/start": ("v2/ThreadStartParams", "v2/ThreadStartResponse"),
    "thread/started": ("v2/ThreadStartedNotification", None),
    "turn/start": ("v2/TurnStartParams", "v2/TurnStartResponse"),
    "turn/interrupt": ("v2/TurnInterruptParams", "v2/TurnInterruptResponse"),
    "turn/started": ("v2/TurnStartedNotification", None),
    "turn/completed": ("v2/TurnCompletedNotification", None),
    "error": ("v2/ErrorNotification", None),
    "item/started": ("v2/ItemStartedNotification", None),
    "item/completed": ("v2/ItemCompletedNotification", None),
    "item/agentMessage/delta": ("v2/AgentMessageDeltaNotification", None),
    "item/commandExecution/outputDelta": ("v2/CommandExecutionOutputDeltaNotification", None),
    "item/reasoning/summaryTextDelta": ("v2/ReasoningSummaryTextDeltaNotification", None),
    "item/reasoning/summaryPartAdded": ("v2/ReasoningSummaryPartAddedNotification", None),
    "thread/tokenUsage/updated": ("v2/ThreadTokenUsageUpdatedNotification", None),
    "item/commandExecution/requestApproval": (
        "CommandExecutionRequestApprovalParams",
        "CommandExecutionRequestApprovalResponse",
    ),
    "serverRequest/resolved": ("v2/ServerRequestResolvedNotification", None),
    "command/exec": ("v2/CommandExecParams", "v2/CommandExecResponse"),
    "fuzzyFileSearch": ("FuzzyFileSearchParams", "FuzzyFileSearchResponse"),
    "turn/steer": ("v2/TurnSteerParams", "v2/TurnSteerResponse"),
    "thread/compact/start": ("v2/ThreadCompactStartParams", "v2/ThreadCompactStartResponse"),
    "turn/plan/updated": ("v2/TurnPlanUpdatedNotification", None),
    "item/fileChange/requestApproval": (
        "FileChangeRequestApprovalParams",
        "FileChangeRequestApprovalResponse",
    ),
    "turn/diff/updated": ("v2/TurnDiffUpdatedNotification", None),
    "item/fileChange/patchUpdated": ("v2/FileChangePatchUpdatedNotification", None),
    "thread/list": ("v2/ThreadListParams", "v2/ThreadListResponse"),
    "thread/read": ("v2/ThreadReadParams", "v2/ThreadReadResponse"),
    "thread/resume": ("v2/ThreadResumeParams", "v2/ThreadResumeResponse"),
    "thread/fork": ("v2/ThreadForkParams", "v2/ThreadForkResponse"),
    "thread/archive": ("v2/ThreadArchiveParams", "v2/ThreadArchiveResponse"),
    "thread/unarchive": ("v2/ThreadUnarchiveParams", "v2/ThreadUnarchiveResponse"),
    "thread/name/set": ("v2/ThreadSetNameParams", "v2/ThreadSetNameResponse"),
    "thread/archived": ("v2/ThreadArchivedNotification", None),
    "thread/unarchived": ("v2/ThreadUnarchivedNotification", None),
    "thread/name/updated": ("v2/ThreadNameUpdatedNotification", None),
}


def test_every_method_has_an_example() -> None:
    assert set(EXAMPLES) == set(METHODS) - {"initialize"}


@pytest.mark.parametrize("method", sorted(EXAMPLES))
def test_examples_validate_against_our_schema_and_round_trip(method: str) -> None:
    schema = build_schema()
    entry = schema["methods"][method]
    params, result = EXAMPLES[method]
    for payload, part in ((params, "params"), (result, "result")):
        if payload is None:
            continue
        sub = {"$defs": schema["$defs"], **entry[part]}
        jsonschema.Draft202012Validator(sub).validate(to_wire(payload))
    declared = METHODS[method].params
    assert to_wire(from_wire(declared, to_wire(params))) == to_wire(params)


@pytest.mark.skipif(
    not UPSTREAM.exists(),
    reason=f"no upstream schema at {UPSTREAM} (set CODEX_LSP_UPSTREAM_SCHEMA)",
)
@pytest.mark.parametrize("method", sorted(SHARED))
def test_shared_examples_validate_against_the_upstream_schema(method: str) -> None:
    params, result = EXAMPLES[method]
    for payload, name in zip((params, result), SHARED[method], strict=True):
        if name is None or payload is None:
            continue
        upstream = json.loads((UPSTREAM / f"{name}.json").read_text())
        jsonschema.Draft7Validator(upstream).validate(to_wire(payload))
