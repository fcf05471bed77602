"""The `shell` function tool: its schema, argument parsing, the known-safe list, output shaping."""

from __future__ import annotations

import codecs
import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from ..errors import InvalidParams

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
