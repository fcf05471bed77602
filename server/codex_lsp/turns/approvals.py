"""When to ask the editor before running a command, following upstream's approval policies.

- ``untrusted``: ask before anything not on the known-safe read-only list.
- ``on-request``: run sandboxed; ask only when the model asks for escalated permissions.
- ``on-failure``: run sandboxed; when that fails, ask whether to run it again without the sandbox.
- ``never``: never ask; failures go back to the model.

An ``acceptForSession`` answer remembers the exact argv for the rest of the thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from codex_lsp.sandbox.policy import DangerFullAccess, SandboxPolicy

Decision = Literal["accept", "acceptForSession", "decline", "cancel"]
DECISIONS: tuple[Decision, ...] = ("accept", "acceptForSession", "decline", "cancel")

UNTRUSTED = "untrusted"
ON_REQUEST = "on-request"
ON_FAILURE = "on-failure"
NEVER = "never"


def ask_before_running(
    policy: str, argv: Sequence[str], *, escalate: bool, approved: set[tuple[str, ...]]
) -> str | None:
    """The reason to ask before the first run, or None to run without asking."""
    if policy == NEVER or tuple(argv) in approved:
        return None
    if escalate:
        return "The agent asks to run this command without the sandbox."
    from codex_lsp.turns.tools.shell import is_known_safe  # the shell tool imports this module

    if policy == UNTRUSTED and not is_known_safe(argv):
        return "The approval policy is untrusted and this command is not on the known-safe list."
    return None


def ask_after_failure(
    policy: str, sandbox: SandboxPolicy, exit_code: int, *, timed_out: bool
) -> str | None:
    """The reason to offer an unsandboxed re-run after a failed sandboxed run, or None."""
    if policy != ON_FAILURE or isinstance(sandbox, DangerFullAccess) or timed_out or exit_code == 0:
        return None
    return (
        f"The command failed in the sandbox (exit code {exit_code}). "
        "Run it again without the sandbox?"
    )


def ask_when_sandbox_unavailable(policy: str) -> bool:
    """Under on-failure a missing sandbox is a sandbox failure: offer an unsandboxed run."""
    return policy == ON_FAILURE


def parse_decision(answer: object) -> Decision:
    """The editor's `{decision}`; anything unexpected is a decline (never run on a bad answer)."""
    decision = answer.get("decision") if isinstance(answer, dict) else None
    for known in DECISIONS:
        if decision == known:
            return known
    return "decline"
