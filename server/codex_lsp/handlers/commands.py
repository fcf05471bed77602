"""`command/exec`: one command through the sandbox, with the config's default policy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codex_lsp.errors import InvalidParams
from codex_lsp.paths import existing_directory
from codex_lsp.protocol.commands import COMMAND_EXEC, CommandExecParams, CommandExecResult
from codex_lsp.protocol.wire import to_wire
from codex_lsp.sandbox.policy import policy_from_config, policy_from_wire
from codex_lsp.sandbox.runner import run_command

if TYPE_CHECKING:
    from codex_lsp.server import CodexLanguageServer
    from codex_lsp.services import Services

DEFAULT_TIMEOUT_MS = 10_000


def register(server: CodexLanguageServer, services: Services) -> None:
    @server.request_handler(COMMAND_EXEC)
    async def command_exec(params: CommandExecParams) -> CommandExecResult:
        if not params.command or not params.command[0]:
            raise InvalidParams("params.command: must name a program (a non-empty array)")
        cwd = (
            existing_directory(params.cwd, "params.cwd")
            if params.cwd
            else (server.workspace_root() or Path.cwd())
        )
        if params.timeout_ms is not None and params.timeout_ms <= 0:
            raise InvalidParams("params.timeoutMs: must be a positive number of milliseconds")
        policy = (
            policy_from_wire(to_wire(params.sandbox_policy), field="params.sandboxPolicy")
            if params.sandbox_policy is not None
            else policy_from_config(services.config)
        )
        result = await run_command(
            params.command,
            cwd=cwd,
            policy=policy,
            timeout_s=(params.timeout_ms or DEFAULT_TIMEOUT_MS) / 1000,
        )
        return CommandExecResult(
            exit_code=result.exit_code, stdout=result.stdout, stderr=result.stderr
        )
