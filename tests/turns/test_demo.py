"""`codex-lsp demo` runs offline as a subprocess, checks every step and exits 0."""

from __future__ import annotations

import os
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
        "PASS: all 5 steps behaved as expected",
    ]:
        assert line in out, f"missing {line!r} in:\n{out}"
    assert "FAIL" not in out
    assert "eyJ" not in out  # no token is ever printed


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
    assert "PASS: all 5 steps behaved as expected" in proc.stdout
