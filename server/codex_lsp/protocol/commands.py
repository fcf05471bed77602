"""Standalone command execution payloads."""

from __future__ import annotations

import attrs

from codex_lsp.protocol.methods import define
from codex_lsp.protocol.threads import SandboxPolicyWire
from codex_lsp.protocol.wire import field


@attrs.define
class CommandExecParams:
    """Params of `command/exec`."""

    command: list[str] = field("argv; the first element is the program.")
    cwd: str | None = field(
        "Absolute working directory; defaults to the first workspace folder.", default=None
    )
    sandbox_policy: SandboxPolicyWire | None = field(
        "Policy; defaults to config `sandbox_mode`.", default=None
    )
    timeout_ms: int | None = field(
        "Kill the process tree after this many ms (default 10000).", default=None
    )


@attrs.define
class CommandExecResult:
    """Result of `command/exec`."""

    exit_code: int = field("Exit code (124 when the timeout killed it).")
    stdout: str = field("Standard output, capped at 1 MiB.")
    stderr: str = field("Standard error, capped at 1 MiB.")


COMMAND_EXEC = define(
    "command/exec",
    direction="client->server",
    kind="request",
    group="commands",
    params=CommandExecParams,
    result=CommandExecResult,
    doc="Run one command through the sandbox, independent of any thread.",
)
