"""Command sandbox: policies, backends (bubblewrap, Landlock fallback, Seatbelt) and the runner.

Plain modules with no JSON-RPC; the LSP layer maps `command/exec` onto `run_command`.
"""

from codex_lsp.sandbox.detect import SandboxUnavailable, available_backend
from codex_lsp.sandbox.policy import (
    DangerFullAccess,
    ReadOnly,
    SandboxPolicy,
    WorkspaceWrite,
    mode_name,
    policy_from_mode,
    policy_from_wire,
    policy_to_wire,
)
from codex_lsp.sandbox.runner import CommandResult, OutputCallback, run_command

__all__ = [
    "CommandResult",
    "DangerFullAccess",
    "OutputCallback",
    "ReadOnly",
    "SandboxPolicy",
    "SandboxUnavailable",
    "WorkspaceWrite",
    "available_backend",
    "mode_name",
    "policy_from_mode",
    "policy_from_wire",
    "policy_to_wire",
    "run_command",
]
