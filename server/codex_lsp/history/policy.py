"""What goes into a rollout, and what never does.

Pure. Upstream's persistence policy (``rollout/src/policy.rs``) plus the command and error events
upstream keeps in its extended mode, so `thread/read` can rebuild commands and failed turns.
:func:`scrub_line` runs on every encoded line before it is written: registered credentials
(tokens, API keys), anything JWT- or key-shaped, bearer values and credential-named JSON fields
are replaced, so a rollout never holds a secret even if one ends up in a message or an output.
:func:`events_for_notification` turns what a turn sends to the editor into ``event_msg``
payloads in upstream's shapes.
"""

from __future__ import annotations

import re
import shlex
import time
from typing import Any

from codex_lsp import logs

REDACTED = "[REDACTED]"

PERSISTED_RESPONSE_ITEMS = frozenset(
    {
        "message",
        "reasoning",
        "local_shell_call",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "tool_search_call",
        "tool_search_output",
        "web_search_call",
        "image_generation_call",
        "compaction",
        "context_compaction",
        "additional_tools",
    }
)

PERSISTED_EVENTS = frozenset(
    {
        "user_message",
        "agent_message",
        "agent_reasoning",
        "agent_reasoning_raw_content",
        "patch_apply_end",
        "exec_command_end",
        "token_count",
        "context_compacted",
        "entered_review_mode",
        "exited_review_mode",
        "mcp_tool_call_end",
        "thread_rolled_back",
        "turn_aborted",
        "task_started",
        "turn_started",
        "task_complete",
        "turn_complete",
        "web_search_end",
        "item_completed",
        "error",
    }
)

ALWAYS_PERSISTED = frozenset({"session_meta", "turn_context", "compacted"})


def is_persisted(line_type: str, payload: Any) -> bool:
    """Whether a line of this type and payload belongs in a rollout."""
    if line_type in ALWAYS_PERSISTED:
        return True
    if not isinstance(payload, dict):
        return False
    if line_type == "response_item":
        return payload.get("type") in PERSISTED_RESPONSE_ITEMS
    if line_type == "event_msg":
        return payload.get("type") in PERSISTED_EVENTS
    return False


# ---- secrets -----------------------------------------------------------------------------------

_SECRET_PATTERNS = [
    re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),  # JWT
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style API key
    re.compile(r"\bsess-[A-Za-z0-9]{16,}"),
    re.compile(r"(?i)(?<=bearer )[A-Za-z0-9._~+/=-]{16,}"),
]
# JSON fields that hold credentials, whatever their value looks like.
_SECRET_FIELDS = re.compile(
    r'(?i)("(?:authorization|access_token|refresh_token|id_token|api_key|openai_api_key|'
    r'accessToken|refreshToken|idToken|apiKey|bearer_token|client_secret)"\s*:\s*)"(?:[^"\\]|\\.)*"'
)


def scrub_line(text: str) -> str:
    """``text`` with every secret replaced by ``[REDACTED]`` (JSON stays valid)."""
    for secret in logs.known_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return _SECRET_FIELDS.sub(lambda m: m.group(1) + f'"{REDACTED}"', text)


# ---- turn_context -------------------------------------------------------------------------------


def sandbox_policy_line(wire: dict[str, Any]) -> dict[str, Any]:
    """Our camelCase sandbox policy in upstream's rollout shape (``{"type": "workspace-write", ...}``)."""
    kind = wire.get("type")
    if kind == "workspaceWrite":
        return {
            "type": "workspace-write",
            "writable_roots": list(wire.get("writableRoots") or []),
            "network_access": bool(wire.get("networkAccess")),
            "exclude_tmpdir_env_var": bool(wire.get("excludeTmpdirEnvVar")),
            "exclude_slash_tmp": bool(wire.get("excludeSlashTmp")),
        }
    if kind == "readOnly":
        return {"type": "read-only"}
    return {"type": "danger-full-access"}


def turn_context_line(
    *,
    turn_id: str,
    cwd: str,
    model: str,
    effort: str | None,
    summary: str | None,
    approval_policy: str,
    sandbox_policy_wire: dict[str, Any],
) -> dict[str, Any]:
    """The ``turn_context`` payload written at the start of every turn."""
    return {
        "turn_id": turn_id,
        "cwd": cwd,
        "approval_policy": approval_policy,
        "sandbox_policy": sandbox_policy_line(sandbox_policy_wire),
        "model": model,
        "effort": effort,
        "summary": summary or "auto",
        "current_date": time.strftime("%Y-%m-%d"),
        "timezone": time.strftime("%Z") or "UTC",
    }


# ---- turn notifications → event_msg ------------------------------------------------------------


def _usage(breakdown: Any) -> dict[str, int]:
    b = breakdown if isinstance(breakdown, dict) else {}
    return {
        "input_tokens": int(b.get("inputTokens") or 0),
        "cached_input_tokens": int(b.get("cachedInputTokens") or 0),
        "output_tokens": int(b.get("outputTokens") or 0),
        "reasoning_output_tokens": int(b.get("reasoningOutputTokens") or 0),
        "total_tokens": int(b.get("totalTokens") or 0),
    }


def _user_text(item: dict[str, Any]) -> str:
    parts = item.get("content") or []
    return "\n".join(
        str(p.get("text", "")) for p in parts if isinstance(p, dict) and p.get("type") == "text"
    )


def _argv(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return ["bash", "-lc", command]


def _item_events(turn_id: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    kind = item.get("type")
    if kind == "userMessage":
        return [
            {
                "type": "user_message",
                "message": _user_text(item),
                "images": [],
                "local_images": [],
                "text_elements": [],
            }
        ]
    if kind == "agentMessage":
        return [{"type": "agent_message", "message": str(item.get("text", ""))}]
    if kind == "reasoning":
        return [{"type": "agent_reasoning", "text": str(t)} for t in item.get("summary") or [] if t]
    if kind == "commandExecution":
        duration_ms = int(item.get("durationMs") or 0)
        return [
            {
                "type": "exec_command_end",
                "call_id": item.get("id"),
                "turn_id": turn_id,
                "command": _argv(str(item.get("command", ""))),
                "cwd": item.get("cwd"),
                "parsed_cmd": [],
                "source": "agent",
                "stdout": "",
                "stderr": "",
                "aggregated_output": item.get("aggregatedOutput") or "",
                "exit_code": item.get("exitCode") if item.get("exitCode") is not None else -1,
                "duration": {
                    "secs": duration_ms // 1000,
                    "nanos": (duration_ms % 1000) * 1_000_000,
                },
                "formatted_output": "",
                "status": item.get("status"),
                "thread_item": item,  # exact wire item for our reader; upstream ignores the field
            }
        ]
    if kind == "fileChange":
        changes: dict[str, Any] = {}
        for change in item.get("changes") or []:
            if isinstance(change, dict) and isinstance(change.get("path"), str):
                kind_info = change.get("kind")
                change_type = kind_info.get("type") if isinstance(kind_info, dict) else kind_info
                changes[change["path"]] = {
                    "type": change_type or "update",
                    "unified_diff": change.get("diff", ""),
                }
        return [
            {
                "type": "patch_apply_end",
                "call_id": item.get("id"),
                "turn_id": turn_id,
                "stdout": "",
                "stderr": "",
                "success": item.get("status") == "completed",
                "changes": changes,
                "status": item.get("status"),
                "thread_item": item,
            }
        ]
    return [{"type": "item_completed", "turn_id": turn_id, "item": item}]


def events_for_notification(method: str, params: Any) -> list[dict[str, Any]]:
    """The ``event_msg`` payloads to persist for a turn notification (wire-shaped ``params``)."""
    if not isinstance(params, dict):
        return []
    raw_turn = params.get("turn")
    turn: dict[str, Any] = raw_turn if isinstance(raw_turn, dict) else {}
    if method == "turn/started":
        return [{"type": "task_started", "turn_id": turn.get("id"), "model_context_window": None}]
    if method == "item/completed" and isinstance(params.get("item"), dict):
        return _item_events(str(params.get("turnId", "")), params["item"])
    if method == "thread/tokenUsage/updated":
        usage = params.get("tokenUsage") or {}
        info = {
            "total_token_usage": _usage(usage.get("total")),
            "last_token_usage": _usage(usage.get("last")),
            "model_context_window": usage.get("modelContextWindow"),
        }
        return [{"type": "token_count", "info": info, "rate_limits": None}]
    if method == "turn/completed":
        turn_id = turn.get("id")
        status = turn.get("status")
        if status == "interrupted":
            return [{"type": "turn_aborted", "turn_id": turn_id, "reason": "interrupted"}]
        last = None
        for item in turn.get("items") or []:
            if isinstance(item, dict) and item.get("type") == "agentMessage":
                last = item.get("text")
        events: list[dict[str, Any]] = []
        if status == "failed":
            error = turn.get("error") or {}
            events.append(
                {
                    "type": "error",
                    "message": error.get("message", "the turn failed"),
                    "codex_error_info": error.get("codexErrorInfo"),
                }
            )
        events.append({"type": "task_complete", "turn_id": turn_id, "last_agent_message": last})
        return events
    return []
