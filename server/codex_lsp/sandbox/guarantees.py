"""What the active sandbox backend enforces, and what it cannot: for `codex/status`, the demo
and the turn engine (which asks before workspace-write commands where `.git` is unprotected).

Pure: built from a `Detection` and whether the server runs as root.
"""

from __future__ import annotations

import os

import attrs

from codex_lsp.sandbox import cgroup
from codex_lsp.sandbox.detect import BWRAP, LANDLOCK, NONE, SEATBELT, Detection, detect
from codex_lsp.sandbox.policy import SandboxPolicy, WorkspaceWrite

_COMMON = (
    "writes only inside the writable roots (cwd at thread/turn start plus configured roots; never a command's workdir)",
    "network off unless allowed: no IP sockets, no unix sockets (socket(2) denied; socketpair works), io_uring denied",
    "no capabilities, no new privileges",
)
_MOUNTS = (
    ".git, .codex and gitdir targets read-only in every writable root (nested repositories too); missing ones cannot be created",
    "directories between a writable root and the workspace or a .git cannot be renamed",
    "chmod/chown/utime/xattr outside the writable roots refused (read-only mounts)",
    "private /tmp (read-only mode) and /dev/shm",
)
_GIT_GAP = (
    ".git and .codex inside writable roots are NOT protected (Landlock cannot exclude a subtree "
    "without root): workspace-write shell commands from the model need approval"
)


_DAEMON_GAP = "no pid namespace: a daemonised (setsid) child outlives the command, still confined"


@attrs.frozen
class Guarantees:
    backend: str
    enforced: tuple[str, ...]
    gaps: tuple[str, ...]
    protects_git: bool


def guarantees_for(detection: Detection, *, is_root: bool, cgroup_kill: bool = False) -> Guarantees:
    """``cgroup_kill``: the fallback can put each command in its own cgroup v2 (root only)."""
    backend = detection.backend
    if backend == BWRAP:
        return Guarantees(
            backend,
            (
                *_COMMON,
                *_MOUNTS,
                "own network and pid namespaces: nothing started by a command outlives it",
                "host /run and $XDG_RUNTIME_DIR hidden while network is off",
                "/proc read-only",
            ),
            ("reads are not restricted", "hard links made before the command stay writable"),
            protects_git=True,
        )
    if backend == LANDLOCK:
        scoped = detection.landlock_abi >= 6
        enforced: list[str] = [*_COMMON, f"Landlock ABI {detection.landlock_abi} write allow-list"]
        if scoped:
            enforced.append("signals and abstract unix sockets scoped to the sandbox (ABI 6+)")
        gaps: list[str] = [
            "reads are not restricted",
            _DAEMON_GAP,
        ]
        if is_root:
            enforced[3:3] = _MOUNTS
            if cgroup_kill:
                gaps.remove(_DAEMON_GAP)
                enforced.append(
                    "own cgroup v2 per command: nothing started by a command outlives it"
                )
            return Guarantees(backend, tuple(enforced), tuple(gaps), protects_git=True)
        gaps[:0] = [
            _GIT_GAP,
            "metadata (chmod/utime/xattr) of the user's own files outside the roots is not mediated",
            "no private /tmp: read-only mode cannot write /tmp; /dev/shm is shared with the host",
        ]
        if not scoped:
            gaps.append(
                "signals are not scoped (Landlock ABI < 6): the command can signal the user's processes"
            )
        return Guarantees(backend, tuple(enforced), tuple(gaps), protects_git=False)
    if backend == SEATBELT:
        return Guarantees(
            backend, _COMMON[:1], ("not run in this project's CI",), protects_git=True
        )
    assert backend == NONE
    return Guarantees(
        backend,
        (),
        ("no sandbox: restricted policies are refused, nothing runs unsandboxed",),
        True,
    )


def current_guarantees() -> Guarantees:
    """For the active backend (may probe once, ~20 ms: call it off the event loop)."""
    return guarantees_for(detect(), is_root=os.geteuid() == 0, cgroup_kill=cgroup.available())


def git_protection_gap(policy: SandboxPolicy) -> str | None:
    """Why a model's workspace-write command must be approved first on this backend, or None.
    (Blocking on first use: call it in a worker thread.)"""
    if not isinstance(policy, WorkspaceWrite):
        return None
    found = current_guarantees()
    if found.protects_git:
        return None
    return (
        f"The {found.backend} sandbox here cannot keep .git read-only, so this command could "
        "plant a git hook or change .git/config."
    )
