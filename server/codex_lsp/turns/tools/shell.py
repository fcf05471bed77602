"""The `shell` function tool: its schema, argument parsing, the known-safe list, output shaping,
and :class:`ShellTool`, which runs a call through the orchestrator as a `commandExecution` item."""

from __future__ import annotations

import asyncio
import codecs
import json
import shlex
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import attrs

from codex_lsp.errors import InvalidParams
from codex_lsp.protocol.threads import (
    ITEM_COMMAND_EXECUTION_OUTPUT_DELTA,
    CommandExecutionItem,
    CommandExecutionRequestApprovalParams,
    ItemDelta,
)
from codex_lsp.sandbox.guarantees import git_protection_gap
from codex_lsp.sandbox.policy import SandboxPolicy, read_only_workdir_note
from codex_lsp.sandbox.runner import CommandResult, run_command
from codex_lsp.turns.approvals import NEVER, ON_REQUEST, Decision, ask_before_running
from codex_lsp.turns.items import new_item_id, now_ms
from codex_lsp.turns.orchestrator import SandboxedAction
from codex_lsp.turns.tools.apply_patch import intercept_shell_patch
from codex_lsp.turns.tools.base import (
    RespondToModel,
    SpecContext,
    ToolCall,
    ToolDeclined,
    ToolInvocation,
)

SHELL_TOOL_NAME = "shell"
DEFAULT_TIMEOUT_MS = 10_000
MAX_TIMEOUT_MS = 10 * 60 * 1000  # the model can't make a command outlive ten minutes
ITEM_OUTPUT_CAP_CHARS = 64 * 1024  # aggregatedOutput and the streamed deltas
MODEL_OUTPUT_CAP_CHARS = 16 * 1024  # what the model gets back (head + tail)
RUN_OUTPUT_CAP_BYTES = 1024 * 1024  # per stream, enforced by the sandbox runner

_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {
            "type": "array",
            "items": {"type": "string"},
            "description": 'The command to execute, as argv (e.g. ["bash", "-lc", "ls -la"]).',
        },
        "workdir": {
            "type": "string",
            "description": "The working directory to run the command in (default: the thread's cwd).",
        },
        "timeout_ms": {
            "type": "number",
            "description": "The timeout for the command in milliseconds (default 10000).",
        },
    },
    "required": ["command"],
    "additionalProperties": False,
}
_ESCALATION_PARAMETERS: dict[str, Any] = {
    "with_escalated_permissions": {
        "type": "boolean",
        "description": "Ask the user to run this command without the sandbox (only when it needs "
        "network access or writes outside the workspace).",
    },
    "justification": {
        "type": "string",
        "description": "One sentence telling the user why escalated permissions are needed.",
    },
}


def shell_tool(*, allow_escalation: bool) -> dict[str, Any]:
    """The Responses-API function tool; escalation fields only where the policy honours them."""
    parameters = json.loads(json.dumps(_PARAMETERS))
    if allow_escalation:
        parameters["properties"].update(_ESCALATION_PARAMETERS)
    return {
        "type": "function",
        "name": SHELL_TOOL_NAME,
        "description": "Runs a shell command in the sandbox and returns its output and exit code.",
        "strict": False,
        "parameters": parameters,
    }


@attrs.frozen
class ShellArgs:
    """Validated `shell` arguments."""

    command: tuple[str, ...]
    workdir: Path
    timeout_ms: int
    with_escalated_permissions: bool = False
    justification: str | None = None


def parse_shell_args(arguments: str, cwd: Path) -> ShellArgs:
    """Parse the model's JSON arguments; raise InvalidParams saying what is wrong."""
    try:
        raw = json.loads(arguments or "{}")
    except ValueError:
        raise InvalidParams("the arguments are not valid JSON") from None
    if not isinstance(raw, dict):
        raise InvalidParams("the arguments must be a JSON object")
    command = raw.get("command")
    if (
        not isinstance(command, list)
        or not command
        or not all(isinstance(part, str) for part in command)
        or not command[0]
    ):
        raise InvalidParams("`command` must be a non-empty array of strings")
    workdir = _workdir(raw.get("workdir"), cwd)
    timeout_ms = _timeout_ms(raw.get("timeout_ms"))
    escalate = raw.get("with_escalated_permissions") is True
    justification = raw.get("justification")
    return ShellArgs(
        command=tuple(command),
        workdir=workdir,
        timeout_ms=timeout_ms,
        with_escalated_permissions=escalate,
        justification=justification if isinstance(justification, str) else None,
    )


def _workdir(value: Any, cwd: Path) -> Path:
    if value is None or value == "":
        return cwd
    if not isinstance(value, str):
        raise InvalidParams("`workdir` must be a string path")
    return cwd / value  # an absolute value replaces cwd


def _timeout_ms(value: Any) -> int:
    if value is None:
        return DEFAULT_TIMEOUT_MS
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidParams("`timeout_ms` must be a positive number of milliseconds")
    return int(min(value, MAX_TIMEOUT_MS))


def display_command(argv: Sequence[str]) -> str:
    """The command as one shell-quoted string (`bash -lc` scripts shown as the script)."""
    if len(argv) == 3 and argv[0] in ("bash", "sh", "zsh") and argv[1] in ("-lc", "-c"):
        return argv[2]
    return shlex.join(argv)


# ---- known-safe commands (approval policy `untrusted`) ---------------------------------------

_SAFE_PROGRAMS = frozenset(
    {"ls", "cat", "pwd", "echo", "head", "tail", "wc", "true", "false", "which", "whoami", "nl"}
)
_SAFE_GIT_SUBCOMMANDS = frozenset({"status", "log", "diff", "show", "branch"})
_SHELL_OPERATORS = frozenset({"|", "||", "&&", ";", "&", ">", ">>", "<", "<<", "(", ")", "`", "$("})


def is_known_safe(argv: Sequence[str]) -> bool:
    """A small read-only allow-list; `bash -lc "<one safe command>"` counts too."""
    if len(argv) == 3 and argv[0] in ("bash", "sh", "zsh") and argv[1] in ("-lc", "-c"):
        return _safe_script(argv[2])
    return _safe_argv(argv)


def _safe_argv(argv: Sequence[str]) -> bool:
    if not argv:
        return False
    program = Path(argv[0]).name
    if program == "git":
        return len(argv) >= 2 and argv[1] in _SAFE_GIT_SUBCOMMANDS
    return program in _SAFE_PROGRAMS


def _safe_script(script: str) -> bool:
    if any(char in script for char in "`$><;|&\n"):
        return False  # redirections, substitutions and chains need a real parser: ask
    try:
        words = shlex.split(script)
    except ValueError:
        return False
    return not any(word in _SHELL_OPERATORS for word in words) and _safe_argv(words)


# ---- output ----------------------------------------------------------------------------------


class OutputCollector:
    """Combines stdout/stderr chunks in arrival order, decoding UTF-8 safely across chunks,
    and caps what is kept (and streamed) at ``cap`` characters."""

    def __init__(self, cap: int = ITEM_OUTPUT_CAP_CHARS) -> None:
        self._cap = cap
        self._decoders = {
            name: codecs.getincrementaldecoder("utf-8")(errors="replace")
            for name in ("stdout", "stderr")
        }
        self._parts: list[str] = []
        self._size = 0
        self.truncated = False

    def add(self, stream: str, chunk: bytes) -> str:
        """Record a chunk; return the text to stream now ("" when over the cap)."""
        text = self._decoders[stream].decode(chunk)
        room = self._cap - self._size
        if room <= 0:
            self.truncated = self.truncated or bool(text)
            return ""
        if len(text) > room:
            text = text[:room]
            self.truncated = True
        self._parts.append(text)
        self._size += len(text)
        return text

    def reset(self) -> None:
        """Start over (a re-run of the command replaces the earlier output)."""
        self._parts.clear()
        self._size = 0
        self.truncated = False
        for decoder in self._decoders.values():
            decoder.reset()

    @property
    def text(self) -> str:
        return "".join(self._parts) + ("\n[... output truncated]" if self.truncated else "")


def model_output(exit_code: int | None, duration_ms: int, output: str, note: str = "") -> str:
    """The function_call_output text: exit code, wall time, then the (capped) output."""
    if len(output) > MODEL_OUTPUT_CAP_CHARS:
        half = MODEL_OUTPUT_CAP_CHARS // 2
        omitted = len(output) - 2 * half
        output = f"{output[:half]}\n[... {omitted} characters omitted ...]\n{output[-half:]}"
    lines = [f"Exit code: {exit_code if exit_code is not None else 'none'}"]
    lines.append(f"Wall time: {duration_ms / 1000:.1f} seconds")
    if note:
        lines.append(f"Note: {note}")
    lines.append("Output:")
    lines.append(output)
    return "\n".join(lines)


# ---- the tool --------------------------------------------------------------------------------


class ShellTool:
    """`shell`: one argv command per call, through the orchestrator, as a `commandExecution` item."""

    name = SHELL_TOOL_NAME

    def spec(self, context: SpecContext) -> dict[str, Any]:
        return shell_tool(allow_escalation=context.approval_policy == ON_REQUEST)

    async def handle(self, call: ToolCall, invocation: ToolInvocation) -> str:
        patched = await intercept_shell_patch(call, invocation)  # `apply_patch <<'EOF'` forms
        if patched is not None:
            return patched
        return await _ShellCall(invocation).run(call.arguments)


class _ShellCall:
    """One `shell` call: its item, its output so far, whether it ran."""

    def __init__(self, invocation: ToolInvocation) -> None:
        self.invocation = invocation
        self.thread = invocation.thread
        self.items = invocation.items
        self.output: OutputCollector | None = None  # output of the running command
        self.ran = False  # started (not only asked about)
        self.workdir_note = ""  # set when the workdir lies outside the writable roots
        self.item = CommandExecutionItem(
            type="commandExecution",
            id=new_item_id(),
            command="",
            cwd=str(self.thread.cwd),
            status="inProgress",
            command_actions=[],
            aggregated_output=None,
            exit_code=None,
            duration_ms=None,
        )

    async def run(self, arguments: str) -> str:
        item = self.item
        item.command = arguments[:500]
        try:
            args = parse_shell_args(arguments, self.thread.cwd)
        except InvalidParams as exc:
            self.items.start(item)
            return self._fail(RespondToModel(f"invalid shell arguments: {exc.message}"))
        item.command = display_command(args.command)
        item.cwd = str(args.workdir)
        self.items.start(item)
        try:
            return await self._execute(args)
        except BaseException:
            self._stopped()
            raise

    async def _execute(self, args: ShellArgs) -> str:
        thread = self.thread
        reason = ask_before_running(
            thread.approval_policy,
            args.command,
            escalate=args.with_escalated_permissions,
            approved=thread.approved_commands,
        )
        if reason is None and tuple(args.command) not in thread.approved_commands:
            # Backends that cannot keep .git read-only (issue 15): ask, or refuse under `never`.
            gap = await asyncio.to_thread(git_protection_gap, thread.sandbox_policy)
            if gap is not None and thread.approval_policy == NEVER:
                self._fail(RespondToModel(f"{gap} It was not run: the approval policy is 'never'."))
            reason = gap
        if reason is not None and args.justification:
            reason = f"{reason} Reason given: {args.justification}"

        async def attempt(sandbox: SandboxPolicy) -> CommandResult:
            return await self._run(args, sandbox)

        action = SandboxedAction(
            ask_first=reason,
            escalate=args.with_escalated_permissions,
            session_key=tuple(args.command),
            attempt=attempt,
            ask=self._ask,
        )
        try:
            attempted = await self.invocation.orchestrator.run(action)
        except RespondToModel as exc:
            return self._fail(exc)
        return self._finish(attempted.result, attempted.note or self.workdir_note)

    async def _run(self, args: ShellArgs, sandbox: SandboxPolicy) -> CommandResult:
        output = OutputCollector()
        self.output = output
        self.ran = True
        items, item_id = self.items, self.item.id
        self.workdir_note = read_only_workdir_note(sandbox, self.thread.cwd, args.workdir)

        def on_output(stream: str, chunk: bytes) -> None:
            text = output.add(stream, chunk)
            if text:
                items.notify(
                    ITEM_COMMAND_EXECUTION_OUTPUT_DELTA,
                    ItemDelta(items.thread_id, items.turn_id, item_id, text),
                )

        try:
            return await run_command(
                args.command,
                cwd=args.workdir,
                policy=sandbox,
                policy_cwd=self.thread.cwd,  # writable roots come from the thread, never the workdir
                timeout_s=args.timeout_ms / 1000,
                output_cap=RUN_OUTPUT_CAP_BYTES,
                on_output=on_output,
            )
        except InvalidParams as exc:  # e.g. a workdir that does not exist
            raise RespondToModel(f"the command could not be started: {exc.message}") from None

    async def _ask(self, reason: str) -> Decision:
        item = self.item
        params = CommandExecutionRequestApprovalParams(
            thread_id=self.items.thread_id,
            turn_id=self.items.turn_id,
            item_id=item.id,
            started_at_ms=now_ms(),
            approval_id=str(uuid.uuid4()),
            command=item.command,
            cwd=item.cwd,
            reason=reason,
        )
        return await self.items.sink.request_approval(params)

    def _fail(self, error: RespondToModel) -> NoReturn:
        """The item ends declined or failed; the error goes on to the model as the output."""
        item = self.item
        if isinstance(error, ToolDeclined):
            item.status = "declined"
        else:
            item.status = "failed"
            item.aggregated_output = error.message
        self.items.complete(item)
        raise error

    def _finish(self, result: CommandResult, note: str) -> str:
        item = self.item
        output = self.output.text if self.output is not None else result.stdout + result.stderr
        self.output = None
        if result.timed_out:
            note = f"the command timed out and was killed (exit code {result.exit_code})"
        item.status = "completed" if result.exit_code == 0 else "failed"
        item.exit_code = result.exit_code
        item.duration_ms = result.duration_ms
        item.aggregated_output = output
        self.items.complete(item)
        return model_output(result.exit_code, result.duration_ms, output, note)

    def _stopped(self) -> None:
        """The turn stopped mid-call: the engine completes the item with this status."""
        item = self.item
        if item.status != "inProgress":
            return
        if not self.ran:
            item.status = "declined"  # stopped while waiting for approval
        else:
            item.status = "failed"
            item.aggregated_output = self.output.text if self.output else None
