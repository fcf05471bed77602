"""Where a patch may write: writable roots, `.git`, symlinks.

A path is classified after resolving every symlink on it (``os.path.realpath``):

- ``git``: it, or what it resolves to, has a `.git` component at any depth. Never written.
- ``escape``: it lies inside a writable root as written, but a symlink takes it outside. Never
  written (the user would approve `src/x` and get `~/.bashrc`).
- ``inside``: its real location is inside a writable root.
- ``outside``: anything else; written only with the user's approval.

``roots=None`` means no sandbox (danger-full-access): everything but `.git` is ``inside``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from codex_lsp.sandbox.layout import canonical, compute_layout
from codex_lsp.sandbox.policy import DangerFullAccess, ReadOnly, SandboxPolicy

PathClass = Literal["inside", "outside", "git", "escape"]
GIT_DIR = ".git"


class EditRefused(Exception):
    """A write the guard does not allow; the message says which path and why."""


def writable_roots(
    policy: SandboxPolicy, cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[Path, ...] | None:
    """Canonical roots a patch may write without asking (None: anywhere)."""
    if isinstance(policy, DangerFullAccess):
        return None
    if isinstance(policy, ReadOnly):
        return ()
    return tuple(root.path for root in compute_layout(policy, cwd, env).writable_roots)


def _under(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def classify(path: Path, roots: tuple[Path, ...] | None) -> PathClass:
    """Classify an absolute, lexically normalised path (see the module docstring)."""
    real = canonical(path)
    if GIT_DIR in path.parts or GIT_DIR in real.parts:
        return "git"
    if roots is None or _under(real, roots):
        return "inside"
    # Lexically inside (compare with the canonical parent too, e.g. /tmp → /private/tmp).
    lexical = Path(os.path.normpath(path))
    parent_real = canonical(lexical.parent) / lexical.name
    if _under(lexical, roots) or (_under(parent_real, roots) and parent_real != real):
        return "escape"
    return "outside"


def refusal(path: Path, kind: PathClass, display: str) -> str | None:
    """Why a path of this class is never written, or None when it may be (perhaps after asking)."""
    if kind == "git":
        return f"{display}: apply_patch never writes inside a .git directory"
    if kind == "escape":
        return f"{display}: a symbolic link leads outside the writable roots; refusing to follow it"
    return None


class WriteGuard:
    """Checked right before each write: the roots, plus real paths the user approved."""

    def __init__(self, roots: tuple[Path, ...] | None, approved: Iterable[Path] = ()) -> None:
        self.roots = roots
        self.approved = frozenset(canonical(p) for p in approved)

    def check(self, path: Path, display: str) -> Path:
        """The real path to write for ``path``; raise EditRefused when it may not be written."""
        kind = classify(path, self.roots)
        reason = refusal(path, kind, display)
        if reason:
            raise EditRefused(reason)
        real = canonical(path)
        if kind == "outside" and real not in self.approved:
            raise EditRefused(f"{display}: outside the writable roots and not approved")
        return real
