"""Pure rebuilds from a parsed rollout: the editor's `Thread.turns`, and the model context.

:func:`turns_from_rollout` follows the ``event_msg`` lines (``task_started`` … ``task_complete`` /
``turn_aborted``; older rollouts without turn events get one turn per user message; rollouts
without any events fall back to the ``response_item`` lines). Items come out in the app-server's
wire shapes (``userMessage``, ``agentMessage``, ``reasoning``, ``commandExecution``,
``fileChange``, …) with ids that are stable across reads.

:func:`resume_state` replays the ``response_item`` lines into the conversation sent to the model,
honouring ``compacted`` (its ``replacement_history`` replaces everything before it) and
``thread_rolled_back``; the latest ``turn_context`` supplies the thread's defaults.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

import attrs

from codex_lsp.history.reader import RolloutLine, is_context_message, message_text, user_text

_TURN_START = ("task_started", "turn_started")
_TURN_END = ("task_complete", "turn_complete")


@attrs.define
class _Turn:
    id: str
    explicit: bool
    status: str = "inProgress"
    items: list[dict[str, Any]] = attrs.Factory(list)
    error: dict[str, Any] | None = None
    has_user: bool = False

    def wire(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "items": self.items, "error": self.error}


class _Builder:
    def __init__(self) -> None:
        self.turns: list[_Turn] = []
        self.current: _Turn | None = None

    def _item_id(self, turn: _Turn) -> str:
        return f"{turn.id}-item-{len(turn.items)}"

    def open(self, turn_id: Any, *, explicit: bool) -> _Turn:
        self.close(
            "interrupted" if self.current is not None and self.current.explicit else "completed"
        )
        tid = turn_id if isinstance(turn_id, str) and turn_id else f"turn-{len(self.turns) + 1}"
        self.current = _Turn(tid, explicit)
        self.turns.append(self.current)
        return self.current

    def close(self, status: str) -> None:
        turn = self.current
        if turn is not None:
            turn.status = "failed" if turn.error is not None and status == "completed" else status
            self.current = None

    def turn(self) -> _Turn:
        return self.current if self.current is not None else self.open(None, explicit=False)

    def add(self, item: dict[str, Any]) -> None:
        turn = self.turn()
        item.setdefault("id", self._item_id(turn))
        if not item["id"]:
            item["id"] = self._item_id(turn)
        turn.items.append(item)

    def user(self, text: str) -> None:
        turn = self.current
        if turn is None or (not turn.explicit and turn.has_user):
            turn = self.open(None, explicit=False)
        turn.has_user = True
        self.add({"type": "userMessage", "id": "", "content": [{"type": "text", "text": text}]})

    def reasoning(self, text: str) -> None:
        turn = self.turn()
        if turn.items and turn.items[-1].get("type") == "reasoning":
            turn.items[-1]["summary"].append(text)
        else:
            self.add({"type": "reasoning", "id": "", "summary": [text], "content": []})


def _command_item(payload: dict[str, Any]) -> dict[str, Any]:
    exact = payload.get("thread_item")
    if isinstance(exact, dict) and exact.get("type") == "commandExecution":
        return dict(exact)
    command = payload.get("command")
    if isinstance(command, list):
        argv = [str(a) for a in command]
        shown = argv[2] if len(argv) == 3 and argv[1] in ("-lc", "-c") else shlex.join(argv)
    else:
        shown = str(command or "")
    exit_code = payload.get("exit_code")
    duration = payload.get("duration")
    duration_ms = None
    if isinstance(duration, dict):
        duration_ms = (
            int(duration.get("secs", 0)) * 1000 + int(duration.get("nanos", 0)) // 1_000_000
        )
    status = payload.get("status")
    if status not in ("completed", "failed", "declined"):
        status = "completed" if exit_code == 0 else "failed"
    output = payload.get("aggregated_output")
    if not isinstance(output, str):
        output = f"{payload.get('stdout') or ''}{payload.get('stderr') or ''}"
    return {
        "type": "commandExecution",
        "id": str(payload.get("call_id") or ""),
        "command": shown,
        "cwd": str(payload.get("cwd") or ""),
        "status": status,
        "commandActions": [],
        "aggregatedOutput": output,
        "exitCode": exit_code if isinstance(exit_code, int) else None,
        "durationMs": duration_ms,
    }


def _file_change_item(payload: dict[str, Any]) -> dict[str, Any]:
    exact = payload.get("thread_item")
    if isinstance(exact, dict) and exact.get("type") == "fileChange":
        return dict(exact)
    changes = []
    raw_changes = payload.get("changes")
    for path, change in raw_changes.items() if isinstance(raw_changes, dict) else []:
        if not isinstance(change, dict):
            change = {}
        kind = str(change.get("type") or next(iter(change), "update"))
        nested = change.get(kind)
        body: dict[str, Any] = nested if isinstance(nested, dict) else change
        diff = body.get("unified_diff") or body.get("content") or ""
        entry: dict[str, Any] = {"path": path, "kind": {"type": kind}, "diff": diff}
        if body.get("move_path"):
            entry["kind"]["move_path"] = body["move_path"]
        changes.append(entry)
    status = payload.get("status")
    if status not in ("completed", "failed", "declined"):
        status = "completed" if payload.get("success", True) else "failed"
    return {
        "type": "fileChange",
        "id": str(payload.get("call_id") or ""),
        "changes": changes,
        "status": status,
    }


_UPSTREAM_TURN_ITEMS = {"Plan": "plan"}  # upstream TurnItem names persisted via item_completed
_COVERED = {"userMessage", "agentMessage", "reasoning", "commandExecution", "fileChange"}


def _completed_item(payload: dict[str, Any]) -> dict[str, Any] | None:
    item = payload.get("item")
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        return None
    kind = item["type"]
    if kind in _UPSTREAM_TURN_ITEMS:
        return {
            "type": _UPSTREAM_TURN_ITEMS[kind],
            "id": str(item.get("id") or ""),
            "text": str(item.get("text", "")),
        }
    if kind[:1].isupper() or kind in _COVERED:  # other upstream items / already rebuilt from events
        return None
    return dict(item)


def _from_events(lines: Sequence[RolloutLine]) -> list[dict[str, Any]]:
    b = _Builder()
    for line in lines:
        if line.type == "response_item" or line.type != "event_msg":
            continue
        p = line.payload
        kind = p.get("type")
        if kind in _TURN_START:
            b.open(p.get("turn_id"), explicit=True)
        elif kind in _TURN_END:
            if b.current is not None:
                b.close("completed")
        elif kind == "turn_aborted":
            if b.current is not None:
                b.close("interrupted")
        elif kind == "error":
            b.turn().error = {
                "message": str(p.get("message", "")),
                "codexErrorInfo": p.get("codex_error_info"),
                "additionalDetails": None,
            }
        elif kind == "user_message":
            text = user_text(line)
            if text is not None:
                b.user(text)
        elif kind == "agent_message":
            b.add({"type": "agentMessage", "id": "", "text": str(p.get("message", ""))})
        elif kind == "agent_reasoning":
            b.reasoning(str(p.get("text", "")))
        elif kind == "exec_command_end":
            b.add(_command_item(p))
        elif kind == "patch_apply_end":
            b.add(_file_change_item(p))
        elif kind == "item_completed":
            item = _completed_item(p)
            if item is not None:
                b.add(item)
        elif kind == "thread_rolled_back":
            drop = int(p.get("num_turns") or 0)
            b.close("completed")
            if drop > 0:
                del b.turns[-drop:]
    if b.current is not None:
        b.close(
            "interrupted" if b.current.explicit else "completed"
        )  # cut off (crash or still running)
    return [t.wire() for t in b.turns]


def _from_response_items(lines: Sequence[RolloutLine]) -> list[dict[str, Any]]:
    """Rollouts from before events were persisted: rebuild from the model conversation."""
    b = _Builder()
    calls: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line.type != "response_item":
            continue
        p = line.payload
        kind = p.get("type")
        if kind == "message" and p.get("role") == "user":
            text = user_text(line)
            if text is not None:
                b.user(text)
        elif kind == "message" and p.get("role") == "assistant":
            b.add({"type": "agentMessage", "id": "", "text": message_text(p)})
        elif kind == "reasoning":
            for part in p.get("summary") or []:
                if isinstance(part, dict) and part.get("text"):
                    b.reasoning(str(part["text"]))
        elif kind in ("function_call", "local_shell_call", "custom_tool_call"):
            item: dict[str, Any] = {
                "type": "commandExecution",
                "id": str(p.get("call_id") or p.get("id") or ""),
                "command": str(p.get("arguments") or p.get("input") or p.get("action") or ""),
                "cwd": "",
                "status": "completed",
                "commandActions": [],
                "aggregatedOutput": None,
                "exitCode": None,
                "durationMs": None,
            }
            calls[item["id"]] = item
            b.add(item)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            call = calls.get(str(p.get("call_id")))
            output = p.get("output")
            if call is not None:
                call["aggregatedOutput"] = (
                    output if isinstance(output, str) else str((output or {}).get("content", ""))
                )
    b.close("completed")
    return [t.wire() for t in b.turns]


def turns_from_rollout(lines: Sequence[RolloutLine]) -> list[dict[str, Any]]:
    """`Thread.turns` (wire dicts) rebuilt from a rollout's lines."""
    has_events = any(
        line.type == "event_msg" and line.payload.get("type") in ("user_message", *_TURN_START)
        for line in lines
    )
    return _from_events(lines) if has_events else _from_response_items(lines)


# ---- model context -----------------------------------------------------------------------------


# Items the Responses API takes back as input; others (ghost snapshots, markers) stay on disk only.
PROMPT_ITEM_TYPES = frozenset(
    {
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "local_shell_call",
        "web_search_call",
        "compaction",
    }
)

_APPROVAL_POLICIES = ("untrusted", "on-failure", "on-request", "never")
_SANDBOX_ORDER = ("read-only", "workspace-write", "danger-full-access")


@attrs.define
class ResumeState:
    """What a resumed thread continues from."""

    history: list[dict[str, Any]]
    turn_context: dict[str, Any] | None
    preview: str
    token_usage: dict[str, Any] | None

    def _text(self, key: str) -> str | None:
        value = (self.turn_context or {}).get(key)
        return value if isinstance(value, str) and value else None

    @property
    def model(self) -> str | None:
        return self._text("model")

    @property
    def effort(self) -> str | None:
        return self._text("effort")

    @property
    def summary(self) -> str | None:
        return self._text("summary")

    @property
    def cwd(self) -> str | None:
        return self._text("cwd")

    @property
    def approval_policy(self) -> str | None:
        value = self._text("approval_policy")
        return value if value in _APPROVAL_POLICIES else None

    def sandbox_mode(self, ceiling: str) -> str | None:
        """The recorded sandbox mode, never wider than ``ceiling`` (the configured mode): a file
        on disk must not widen what commands may do."""
        policy = (self.turn_context or {}).get("sandbox_policy")
        if isinstance(policy, str):
            mode: Any = policy
        elif isinstance(policy, dict):
            mode = policy.get("type") or policy.get("mode")
        else:
            return None
        if mode not in _SANDBOX_ORDER or ceiling not in _SANDBOX_ORDER:
            return None
        return mode if _SANDBOX_ORDER.index(mode) <= _SANDBOX_ORDER.index(ceiling) else ceiling


def _legacy_compaction(history: list[dict[str, Any]], summary: str) -> list[dict[str, Any]]:
    """A ``compacted`` line without replacement_history (older upstream): keep what the user
    typed, then the summary, as upstream rebuilt it."""
    kept = [
        item
        for item in history
        if item.get("type") == "message"
        and item.get("role") == "user"
        and not is_context_message(message_text(item))
    ]
    return [
        *kept,
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": summary}]},
    ]


def _drop_user_turns(history: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    starts = [
        i
        for i, item in enumerate(history)
        if item.get("type") == "message"
        and item.get("role") == "user"
        and not is_context_message(message_text(item))
    ]
    if count <= 0 or not starts:
        return history
    cut = starts[-count] if count <= len(starts) else starts[0]
    return history[:cut]


def resume_state(lines: Sequence[RolloutLine]) -> ResumeState:
    history: list[dict[str, Any]] = []
    turn_context: dict[str, Any] | None = None
    preview = ""
    usage = None
    for line in lines:
        p = line.payload
        if line.type == "response_item":
            if p.get("type") in PROMPT_ITEM_TYPES:
                history.append(p)
        elif line.type == "compacted":
            replacement = p.get("replacement_history")
            if isinstance(replacement, list):
                history = [
                    item
                    for item in replacement
                    if isinstance(item, dict) and item.get("type") in PROMPT_ITEM_TYPES
                ]
            else:
                history = _legacy_compaction(history, str(p.get("message", "")))
        elif line.type == "turn_context":
            turn_context = p
        elif line.type == "event_msg":
            kind = p.get("type")
            if kind == "thread_rolled_back":
                history = _drop_user_turns(history, int(p.get("num_turns") or 0))
            elif kind == "token_count" and isinstance(p.get("info"), dict):
                usage = p["info"]
        if not preview:
            text = user_text(line)
            if text:
                preview = text
    return ResumeState(
        history=history, turn_context=turn_context, preview=preview, token_usage=usage
    )
