"""Windows backend plan: a restricted primary token plus temporary ACEs and a kill-on-close job.

Only the plan is computed (and unit-tested): which token flags, which ACL grants and denies,
whether network is blocked. Executing it needs Win32 calls (CreateRestrictedToken,
SetNamedSecurityInfo, job objects) that cannot run or be tested here, so `execute_plan`
reports "not supported on this platform" instead of pretending.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PureWindowsPath

import attrs

from codex_lsp.sandbox.detect import SandboxUnavailable
from codex_lsp.sandbox.layout import PROTECTED_NAMES
from codex_lsp.sandbox.policy import DangerFullAccess, ReadOnly, SandboxPolicy, WorkspaceWrite

# With WRITE_RESTRICTED, write access is checked only against the restricted SIDs, so the
# per-sandbox SID below is what the allow/deny ACEs name.
TOKEN_FLAGS = ("DISABLE_MAX_PRIVILEGE", "LUA_TOKEN", "WRITE_RESTRICTED")
SANDBOX_SID_NAME = "CodexSandboxWriters"
WRITE_RIGHTS = "FILE_GENERIC_WRITE|DELETE"  # modify: write, append, create, delete, rename


@attrs.frozen
class AccessEntry:
    """One temporary ACE: `allow` or `deny` WRITE_RIGHTS for the sandbox SID on `path`."""

    kind: str
    path: PureWindowsPath
    rights: str = WRITE_RIGHTS
    inherit: bool = True  # object + container inherit, so the whole subtree is covered


@attrs.frozen
class WindowsSandboxPlan:
    token_flags: tuple[str, ...]
    sandbox_sid: str
    entries: tuple[AccessEntry, ...]
    network_blocked: bool
    kill_on_job_close: bool = True

    @property
    def allowed(self) -> tuple[PureWindowsPath, ...]:
        return tuple(entry.path for entry in self.entries if entry.kind == "allow")

    @property
    def denied(self) -> tuple[PureWindowsPath, ...]:
        return tuple(entry.path for entry in self.entries if entry.kind == "deny")


def _unique(paths: list[PureWindowsPath]) -> list[PureWindowsPath]:
    """Drop duplicates the way NTFS sees them: case-insensitively."""
    seen: dict[str, PureWindowsPath] = {}
    for path in paths:
        seen.setdefault(str(path).lower(), path)
    return list(seen.values())


def _writable_roots(
    policy: WorkspaceWrite, cwd: PureWindowsPath, env: Mapping[str, str]
) -> list[PureWindowsPath]:
    roots = [cwd, *(PureWindowsPath(str(root)) for root in policy.writable_roots)]
    if not policy.exclude_tmpdir_env_var:
        roots += [PureWindowsPath(env[key]) for key in ("TEMP", "TMP") if env.get(key)]
    # exclude_slash_tmp has no meaning here: Windows has no /tmp.
    return _unique([root for root in roots if root.is_absolute()])


def plan_windows_sandbox(
    policy: SandboxPolicy, cwd: PureWindowsPath | str, env: Mapping[str, str]
) -> WindowsSandboxPlan:
    """The token, ACEs and network decision for one command (pure: touches no filesystem).

    Deny ACEs are listed for `.git`/`.codex` in every root whether or not they exist yet; at
    execution time a missing one would be created as an empty denied directory first.
    """
    if isinstance(policy, DangerFullAccess):
        raise ValueError("danger-full-access runs without a sandbox; there is no plan")
    roots: list[PureWindowsPath] = []
    if isinstance(policy, WorkspaceWrite):
        roots = _writable_roots(policy, PureWindowsPath(cwd), env)
    entries = [AccessEntry("allow", root) for root in roots]
    protected = _unique([root / name for root in roots for name in PROTECTED_NAMES])
    entries += [AccessEntry("deny", path) for path in protected]  # deny ACEs win over allows
    network_access = (
        policy.network_access if isinstance(policy, ReadOnly | WorkspaceWrite) else True
    )
    return WindowsSandboxPlan(
        token_flags=TOKEN_FLAGS,
        sandbox_sid=SANDBOX_SID_NAME,
        entries=tuple(entries),
        network_blocked=not network_access,
    )


def execute_plan(plan: WindowsSandboxPlan) -> None:
    """Always raises: the restricted-token runner is not implemented for this platform yet."""
    raise SandboxUnavailable(
        "The Windows restricted-token sandbox is not supported on this platform yet "
        f"(it would grant {len(plan.allowed)} and deny {len(plan.denied)} paths). "
        "The command was not run; use 'danger-full-access' only if you trust it.",
        missing=("windows restricted-token sandbox",),
    )
