"""Rollout files as upstream Codex writes them (0.4x and 0.169 shapes), for tests and benches.

Built from what upstream's recorder emits, field for field where it matters (session_meta first,
response_item / event_msg / turn_context lines, fields we don't read included), so the reader is
exercised against the real format rather than our own writer's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codex_lsp.history.rollout import new_thread_id, rollout_path

ENV_CONTEXT = (
    "<environment_context>\n  <cwd>{cwd}</cwd>\n  <approval_policy>on-request</approval_policy>\n"
    "  <sandbox_mode>workspace-write</sandbox_mode>\n  <shell>bash</shell>\n</environment_context>"
)


def _ts(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def _line(t: float, line_type: str, payload: dict[str, Any]) -> str:
    return json.dumps(
        {"timestamp": _ts(t), "type": line_type, "payload": payload}, separators=(",", ":")
    )


def _msg(role: str, text: str) -> dict[str, Any]:
    kind = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


def upstream_lines(
    thread_id: str,
    *,
    created: float,
    cwd: str,
    exchanges: Sequence[tuple[str, str]],
    shape: str = "0.169",
    model: str = "gpt-5.1-codex",
    provider: str = "openai",
    source: Any = "cli",
    with_command: bool = True,
) -> list[str]:
    """The lines of an upstream rollout with one turn per (user text, assistant text)."""
    t = created
    lines: list[str] = []
    if shape == "0.4x":
        meta: dict[str, Any] = {
            "id": thread_id,
            "timestamp": _ts(t),
            "instructions": None,
            "cwd": cwd,
            "originator": "codex_cli_rs",
            "cli_version": "0.46.0",
            "source": source,
            "model_provider": provider,
        }
        lines.append(
            _line(t, "session_meta", {**meta, "git": {"commit_hash": "abc123", "branch": "main"}})
        )
        lines.append(_line(t, "response_item", _msg("user", ENV_CONTEXT.format(cwd=cwd))))
        lines.append(
            _line(
                t,
                "event_msg",
                {
                    "type": "user_message",
                    "message": ENV_CONTEXT.format(cwd=cwd),
                    "kind": "environment_context",
                },
            )
        )
    else:
        meta = {
            "id": thread_id,
            "session_id": thread_id,
            "timestamp": _ts(t),
            "cwd": cwd,
            "originator": "codex_cli_rs",
            "cli_version": "0.169.0",
            "source": source,
            "model_provider": provider,
            "base_instructions": {"text": "You are Codex, a coding agent."},
            "account_scoped": False,
            "creator_account_id": None,
            "memory_mode": "disabled",
            "history_mode": "legacy",
            "git": {
                "commit_hash": "abc123",
                "branch": "main",
                "repository_url": "https://example.com/r.git",
            },
        }
        lines.append(_line(t, "session_meta", meta))
        lines.append(_line(t, "world_state", {"kind": "initial", "entries": []}))
    for n, (user, assistant) in enumerate(exchanges):
        t += 1
        turn_id = f"{thread_id[:8]}-turn-{n}"
        if shape == "0.4x":
            lines.append(
                _line(
                    t,
                    "turn_context",
                    {
                        "cwd": cwd,
                        "approval_policy": "on-request",
                        "sandbox_policy": {"mode": "workspace-write", "network_access": False},
                        "model": model,
                        "effort": "medium",
                        "summary": "auto",
                    },
                )
            )
        else:
            lines.append(
                _line(
                    t,
                    "event_msg",
                    {
                        "type": "task_started",
                        "turn_id": turn_id,
                        "model_context_window": 272000,
                        "collaboration_mode_kind": "default",
                    },
                )
            )
            lines.append(
                _line(
                    t,
                    "turn_context",
                    {
                        "turn_id": turn_id,
                        "cwd": cwd,
                        "current_date": "2026-11-29",
                        "timezone": "UTC",
                        "approval_policy": "on-request",
                        "sandbox_policy": {
                            "type": "workspace-write",
                            "writable_roots": [],
                            "network_access": False,
                            "exclude_tmpdir_env_var": False,
                            "exclude_slash_tmp": False,
                        },
                        "model": model,
                        "effort": "high",
                        "summary": "auto",
                        "personality": None,
                        "truncation_policy": {"mode": "tokens", "limit": 10000},
                    },
                )
            )
            if n == 0:
                lines.append(
                    _line(
                        t,
                        "response_item",
                        {
                            "type": "message",
                            "role": "developer",
                            "content": [
                                {
                                    "type": "input_text",
                                    "text": "<permissions instructions>sandboxed</permissions instructions>",
                                }
                            ],
                        },
                    )
                )
                lines.append(_line(t, "response_item", _msg("user", ENV_CONTEXT.format(cwd=cwd))))
        lines.append(_line(t, "response_item", _msg("user", user)))
        event: dict[str, Any] = {"type": "user_message", "message": user, "images": []}
        extra: dict[str, Any] = (
            {"kind": "plain"} if shape == "0.4x" else {"local_images": [], "text_elements": []}
        )
        event.update(extra)
        lines.append(_line(t, "event_msg", event))
        lines.append(
            _line(
                t,
                "response_item",
                {
                    "type": "reasoning",
                    "id": f"rs_{n}",
                    "summary": [{"type": "summary_text", "text": f"**Thinking {n}**"}],
                    "content": None,
                    "encrypted_content": "gAAAAABpZ" + "x" * 40,
                },
            )
        )
        lines.append(
            _line(t, "event_msg", {"type": "agent_reasoning", "text": f"**Thinking {n}**"})
        )
        if with_command:
            call_id = f"call_{thread_id[:8]}_{n}"
            lines.append(
                _line(
                    t,
                    "response_item",
                    {
                        "type": "function_call",
                        "id": f"fc_{n}",
                        "name": "shell_command",
                        "arguments": json.dumps({"command": "ls", "workdir": cwd}),
                        "call_id": call_id,
                    },
                )
            )
            lines.append(
                _line(
                    t,
                    "response_item",
                    {
                        "type": "function_call_output",
                        "call_id": call_id,
                        "output": "Exit code: 0\nWall time: 0.1 seconds\nOutput:\nREADME.md\n",
                    },
                )
            )
        lines.append(_line(t, "response_item", {**_msg("assistant", assistant), "id": f"msg_{n}"}))
        lines.append(
            _line(t, "event_msg", {"type": "agent_message", "message": assistant, "phase": None})
        )
        lines.append(
            _line(
                t,
                "event_msg",
                {
                    "type": "token_count",
                    "info": {
                        "total_token_usage": {
                            "input_tokens": 1000 * (n + 1),
                            "cached_input_tokens": 0,
                            "output_tokens": 50,
                            "reasoning_output_tokens": 10,
                            "total_tokens": 1050 * (n + 1),
                        },
                        "last_token_usage": {
                            "input_tokens": 1000,
                            "cached_input_tokens": 0,
                            "output_tokens": 50,
                            "reasoning_output_tokens": 10,
                            "total_tokens": 1050,
                        },
                        "model_context_window": 272000,
                    },
                    "rate_limits": None,
                },
            )
        )
        if shape != "0.4x":
            lines.append(
                _line(
                    t,
                    "event_msg",
                    {"type": "task_complete", "turn_id": turn_id, "last_agent_message": assistant},
                )
            )
            lines.append(_line(t, "token_usage_record", {"turn_id": turn_id, "usage": {}}))
    return lines


def write_upstream_rollout(
    codex_home: Path,
    *,
    thread_id: str | None = None,
    created: float | None = None,
    cwd: str = "/home/dev/project",
    exchanges: Sequence[tuple[str, str]] = (("List the files", "There is a README.md."),),
    **kwargs: Any,
) -> Path:
    """Write an upstream-format rollout under ``codex_home/sessions`` and return its path."""
    thread_id = thread_id or new_thread_id()
    created = time.time() if created is None else created
    path = rollout_path(codex_home, thread_id, created)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = upstream_lines(thread_id, created=created, cwd=cwd, exchanges=exchanges, **kwargs)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
