"""What the model is told besides the conversation: the base prompt and the items sent before
the conversation on every request.

:func:`prompt_prefix` is where per-thread context attaches: today the developer instructions of
`thread/start`; AGENTS.md and the environment context go here too (one line each).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codex_lsp.turns.store import ThreadState

BASE_INSTRUCTIONS = """\
You are a coding agent running inside the user's editor. You help with the project in the \
working directory: read code, run commands, explain and change things.

- Use the `shell` tool to run commands (argv form, e.g. ["bash", "-lc", "ls"]). Commands run in \
a sandbox that may forbid writes outside the workspace and network access; if a command fails \
because of the sandbox, say so instead of retrying blindly.
- Prefer small, safe, read-only commands to learn about the project before changing it.
- When you are done, answer concisely: what you found or changed, and anything left to do.
"""


def base_instructions(thread: ThreadState) -> str:
    """The request's `instructions`: the thread's own, or ours."""
    return thread.base_instructions or BASE_INSTRUCTIONS


def developer_message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "developer",
        "content": [{"type": "input_text", "text": text}],
    }


def prompt_prefix(thread: ThreadState) -> list[dict[str, Any]]:
    """Items sent before the conversation on every request."""
    items: list[dict[str, Any]] = []
    if thread.developer_instructions:
        items.append(developer_message(thread.developer_instructions))
    # AGENTS.md (context/agents_md.py) and the environment context (context/environment.py)
    # append their items here.
    return items
