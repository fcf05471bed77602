"""Whether a planned patch applies at once, needs the user's approval, or is refused.

Upstream's rules (`safety.rs` `assess_patch_safety`), with our hard refusals first:

1. a path inside `.git` (any depth), or a symlink leading out of a writable root → refused;
2. every written path approved with `acceptForSession` earlier in the thread → apply;
3. policy `untrusted` → ask;
4. every path inside the writable roots (all of them under danger-full-access) → apply;
5. policy `never` → refused ("writing outside of the project");
6. otherwise (`on-request`, `on-failure`) → ask.

Under a `readOnly` sandbox there are no writable roots, so a patch is never written unasked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from codex_lsp.edits.guard import classify, refusal
from codex_lsp.sandbox.layout import canonical

UNTRUSTED = "untrusted"
NEVER = "never"
OUTSIDE_REJECTED = "writing outside of the project; rejected by user approval settings"


@attrs.frozen
class Apply:
    """Write without asking."""


@attrs.frozen
class Ask:
    """Ask the editor first."""

    reason: str | None


@attrs.frozen
class Reject:
    """Never write; ``reason`` goes to the model."""

    reason: str


PatchDecision = Apply | Ask | Reject


def decide(
    paths: Sequence[tuple[Path, str]],
    *,
    approval_policy: str,
    roots: tuple[Path, ...] | None,
    approved: Iterable[Path] = (),
) -> PatchDecision:
    """``paths`` are the (absolute path, display path) pairs the patch writes or deletes."""
    kinds = [(path, shown, classify(path, roots)) for path, shown in paths]
    for path, shown, kind in kinds:
        reason = refusal(path, kind, shown)
        if reason:
            return Reject(reason)
    remembered = set(approved)
    if kinds and all(canonical(path) in remembered for path, _, _ in kinds):
        return Apply()
    if approval_policy == UNTRUSTED:
        return Ask("The approval policy is untrusted: every file change is asked first.")
    outside = [shown for _, shown, kind in kinds if kind == "outside"]
    if not outside:
        return Apply()
    if approval_policy == NEVER:
        return Reject(OUTSIDE_REJECTED)
    listed = ", ".join(outside[:5]) + (" …" if len(outside) > 5 else "")
    return Ask(f"The patch writes outside the writable roots: {listed}")
