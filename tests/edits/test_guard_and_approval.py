"""Where a patch may write, and when the user is asked: real files, real symlinks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codex_lsp.edits.apply import apply_plan
from codex_lsp.edits.approval import OUTSIDE_REJECTED, Apply, Ask, Reject, decide
from codex_lsp.edits.guard import EditRefused, WriteGuard, classify, writable_roots
from codex_lsp.edits.parser import parse_patch
from codex_lsp.edits.plan import plan_patch
from codex_lsp.sandbox.policy import DangerFullAccess, ReadOnly, WorkspaceWrite


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    work = tmp_path / "work"
    outside = tmp_path / "outside"
    (work / ".git").mkdir(parents=True)
    (work / "sub" / ".git").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (work / "link.txt").symlink_to(outside / "secret.txt")
    (work / "linkdir").symlink_to(outside)
    (work / "inner.txt").write_text("inner\n")
    (work / "ok-link.txt").symlink_to(work / "inner.txt")
    return work, outside


def test_classify(layout: tuple[Path, Path]) -> None:
    work, outside = layout
    roots = (work.resolve(),)
    assert classify(work / "a.txt", roots) == "inside"
    assert classify(work / "new" / "deep" / "a.txt", roots) == "inside"
    assert classify(work / ".git" / "config", roots) == "git"
    assert classify(work / "sub" / ".git" / "HEAD", roots) == "git"
    assert classify(work / "link.txt", roots) == "escape"
    assert classify(work / "linkdir" / "x.txt", roots) == "escape"
    assert classify(work / "ok-link.txt", roots) == "inside"
    assert classify(outside / "x.txt", roots) == "outside"
    assert classify(outside / "x.txt", None) == "inside"
    assert classify(work / ".git" / "config", None) == "git"


def test_writable_roots_follow_the_sandbox(layout: tuple[Path, Path]) -> None:
    work, _ = layout
    assert writable_roots(ReadOnly(), work) == ()
    assert writable_roots(DangerFullAccess(), work) is None
    roots = writable_roots(
        WorkspaceWrite(exclude_slash_tmp=True, exclude_tmpdir_env_var=True), work
    )
    assert roots == (work.resolve(),)


def _paths(work: Path, *names: str) -> list[tuple[Path, str]]:
    return [(Path(os.path.normpath(work / n)), n) for n in names]


@pytest.mark.parametrize(
    ("policy", "names", "expected"),
    [
        ("untrusted", ["a.txt"], Ask),
        ("on-request", ["a.txt"], Apply),
        ("on-failure", ["a.txt"], Apply),
        ("never", ["a.txt"], Apply),
        ("untrusted", ["../outside/x.txt"], Ask),
        ("on-request", ["../outside/x.txt"], Ask),
        ("on-failure", ["../outside/x.txt"], Ask),
        ("never", ["../outside/x.txt"], Reject),
        ("on-request", [".git/hooks/pre-commit"], Reject),
        ("never", ["sub/.git/config"], Reject),
        ("untrusted", ["link.txt"], Reject),
        ("on-request", ["linkdir/evil.txt"], Reject),
    ],
)
def test_decision_table(
    layout: tuple[Path, Path], policy: str, names: list[str], expected: type
) -> None:
    work, _ = layout
    decision = decide(_paths(work, *names), approval_policy=policy, roots=(work.resolve(),))
    assert isinstance(decision, expected), decision
    if policy == "never" and expected is Reject and ".git" not in names[0]:
        assert isinstance(decision, Reject) and decision.reason == OUTSIDE_REJECTED


def test_read_only_sandbox_never_writes_unasked(layout: tuple[Path, Path]) -> None:
    work, _ = layout
    roots = writable_roots(ReadOnly(), work)
    assert isinstance(decide(_paths(work, "a.txt"), approval_policy="on-request", roots=roots), Ask)
    assert isinstance(decide(_paths(work, "a.txt"), approval_policy="never", roots=roots), Reject)


def test_accept_for_session_is_per_path(layout: tuple[Path, Path]) -> None:
    work, outside = layout
    approved = {(outside / "x.txt").resolve()}
    roots = (work.resolve(),)
    assert isinstance(
        decide(
            _paths(work, "../outside/x.txt"),
            approval_policy="on-request",
            roots=roots,
            approved=approved,
        ),
        Apply,
    )
    assert isinstance(
        decide(
            _paths(work, "../outside/x.txt", "../outside/y.txt"),
            approval_policy="on-request",
            roots=roots,
            approved=approved,
        ),
        Ask,
    )
    # untrusted honours a session approval of that very path too
    assert isinstance(
        decide(
            _paths(work, "../outside/x.txt"),
            approval_policy="untrusted",
            roots=roots,
            approved=approved,
        ),
        Apply,
    )


@pytest.mark.parametrize(
    "patch",
    [
        "*** Add File: .git/hooks/post-checkout\n+#!/bin/sh\n",
        "*** Update File: link.txt\n@@\n-secret\n+pwned\n",
        "*** Add File: linkdir/new.txt\n+x\n",
        "*** Add File: ../outside/new.txt\n+x\n",
        "*** Delete File: link.txt\n",
    ],
)
def test_the_writer_refuses_before_writing_anything(layout: tuple[Path, Path], patch: str) -> None:
    work, outside = layout
    text = f"*** Begin Patch\n*** Add File: first.txt\n+1\n{patch}*** End Patch\n"
    plan = plan_patch(parse_patch(text), work)
    with pytest.raises(EditRefused):
        apply_plan(plan, WriteGuard((work.resolve(),)))
    assert not (work / "first.txt").exists()
    assert (outside / "secret.txt").read_text() == "secret\n"
    assert not (work / ".git" / "hooks").exists()
    assert not (outside / "new.txt").exists()
    assert (work / "link.txt").is_symlink()


def test_approved_outside_path_is_written_and_symlink_inside_is_written_through(
    layout: tuple[Path, Path],
) -> None:
    work, outside = layout
    text = (
        "*** Begin Patch\n*** Add File: ../outside/new.txt\n+x\n"
        "*** Update File: ok-link.txt\n@@\n-inner\n+changed\n*** End Patch\n"
    )
    plan = plan_patch(parse_patch(text), work)
    outcome = apply_plan(plan, WriteGuard((work.resolve(),), approved=[outside / "new.txt"]))
    assert outcome.ok
    assert (outside / "new.txt").read_text() == "x\n"
    assert (work / "ok-link.txt").is_symlink() and (work / "inner.txt").read_text() == "changed\n"
