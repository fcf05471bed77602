"""What the model is told besides the conversation: the base prompt and the items sent before
the conversation on every request.

:func:`prompt_prefix` holds the developer instructions of `thread/start`. AGENTS.md and the
environment context are not here: they are user messages recorded in the history at the start of
a turn (:mod:`codex_lsp.context.turn_context`), as upstream records them.
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
    """The request's `instructions`: the thread's own (`baseInstructions`), else the model
    family's from its `/models` entry (`base_instructions`), else ours."""
    if thread.base_instructions:
        return thread.base_instructions
    info = thread.model_info
    family = info.raw.get("base_instructions") if info is not None else None
    if isinstance(family, str) and family.strip():
        return family
    return BASE_INSTRUCTIONS


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
    # AGENTS.md and the environment context are history items (context/turn_context.py), so a
    # resumed thread already holds them and compaction keeps them first.
    return items
