"""`codex-lsp demo` runs offline as a subprocess, checks every step and exits 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


def _run_demo(**extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEX_", "OPENAI_"))}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "-m", "codex_lsp", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_demo_passes_every_step() -> None:
    proc = _run_demo()
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    for line in [
        "[1] log in with editor-owned ChatGPT tokens",
        "server -> account/login/completed, account/updated (authMode=chatgptAuthTokens)",
        "server -> approval request: `echo 'notes written by the agent' > notes.txt && cat notes.txt`",
        "completed (exit 0): notes written by the agent",
        "server -> account/chatgptAuthTokens/refresh (reason=unauthorized)",
        "the request was retried once with the refreshed token",
        "5h limit: 23% used",
        "account/rateLimits/read: primary 23% of 300 min",
        "Auth mode: chatgptAuthTokens",
        "PASS: all 7 steps behaved as expected",
    ]:
        assert line in out, f"missing {line!r} in:\n{out}"
    assert "FAIL" not in out
    assert "eyJ" not in out  # no token is ever printed


def _ordered(out: str, lines: list[str]) -> None:
    """Every line is in ``out``, in this order."""
    position = 0
    for line in lines:
        found = out.find(line, position)
        assert found >= 0, f"missing {line!r} (after position {position}) in:\n{out}"
        position = found + len(line)


def test_demo_shows_a_planned_edit_and_a_resumed_thread() -> None:
    proc = _run_demo()
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    step3 = out[out.index("[3] ") : out.index("[4] ")]
    _ordered(
        step3,
        [
            "[3] a planned edit: update_plan and apply_patch (AGENTS.md sent to the model)",
            "server -> turn/plan/updated: Document how to run the demo, as AGENTS.md asks",
            "[inProgress] Add a usage line to README.md",
            "[pending] Record the change in CHANGELOG.md",
            "server -> item/started fileChange call-patch:",
            "update README.md",
            "+Run `make demo` to try it.",
            "add CHANGELOG.md",
            "server -> item/fileChange/requestApproval (item call-patch)",
            "editor -> accept",
            "server -> item/completed fileChange: completed",
            "server -> turn/diff/updated (the turn's diff so far):",
            "+++ b/CHANGELOG.md",
            "+++ b/README.md",
            "server -> turn/plan/updated",
            "[completed] Add a usage line to README.md",
            "[completed] Record the change in CHANGELOG.md",
            "on disk: README.md and CHANGELOG.md now read exactly as the patch says",
            "request to the model carries: '# AGENTS.md instructions for ",
            "('Record every user-visible change in CHANGELOG.md.')",
            "    ok",
        ],
    )
    step7 = out[out.index("[7] ") :]
    _ordered(
        step7,
        [
            "[7] the thread survives a server restart: thread/list, thread/resume",
            "exited; server process",
            "server -> account/login/completed",
            "(preview 'Write a notes file in the project.')",
            "rollout on disk: $CODEX_HOME/sessions/",
            "thread/resume -> 3 earlier turns restored",
            "editor -> turn/start: 'Remind me what you did so far.'",
            "server -> agent: Earlier I wrote notes.txt and documented the demo.",
            "the resumed request carries the earlier conversation",
            "prompts 'Write a notes file in the project.', 'Document how to run the demo.', "
            "'What did you write?'",
            "and the apply_patch call call-patch with its output",
            "    ok",
            "PASS: all 7 steps behaved as expected",
        ],
    )
    ids = re.findall(r"thread/list -> ([0-9a-f-]{36}) ", step7)
    rollout = re.search(r"rollout on disk: (\S+)", step7)
    assert len(ids) == 1 and rollout is not None and ids[0] in rollout.group(1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="bwrap sandbox is Linux-only")
def test_demo_shows_the_sandbox_refusing_a_write() -> None:
    proc = _run_demo()
    assert proc.returncode == 0, proc.stdout
    assert "sandbox backend: bwrap" in proc.stdout
    assert "the sandbox refused the write into .git, as it should" in proc.stdout


def test_demo_under_the_landlock_fallback_protects_git_or_says_why() -> None:
    """Issue 15: the demo used to fail here ("the sandbox let a command write into .git")."""
    proc = _run_demo(CODEX_SANDBOX_BACKEND="landlock")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "sandbox backend: landlock" in proc.stdout
    if os.geteuid() == 0:  # the fallback's private mount namespace keeps .git read-only
        assert "the sandbox refused the write into .git, as it should" in proc.stdout
    else:  # it cannot: the server asks, and the demo's editor declines
        assert "sandbox gap: .git and .codex inside writable roots are NOT protected" in proc.stdout
        assert "the server asked first and the editor declined" in proc.stdout


def test_demo_without_a_sandbox_says_so_and_still_passes() -> None:
    proc = _run_demo(CODEX_SANDBOX_BACKEND="none")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        "NOTE: no sandbox backend is available here; using danger-full-access instead"
        in proc.stdout
    )
    assert "server -> item/fileChange/requestApproval (item call-patch)" in proc.stdout
    assert "PASS: all 7 steps behaved as expected" in proc.stdout
