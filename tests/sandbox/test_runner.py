"""The command runner: results, output caps and streaming, timeout, cancellation, errors."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sandbox_support import Dirs, processes_with, run, sh, unique, wait_until

from codex_lsp.errors import InvalidParams
from codex_lsp.sandbox.policy import DangerFullAccess, SandboxPolicy, WorkspaceWrite
from codex_lsp.sandbox.runner import TIMEOUT_EXIT_CODE, run_command

DANGER = DangerFullAccess()


async def test_exit_code_output_and_duration(dirs: Dirs) -> None:
    result = await run(sh("echo out; echo err >&2; sleep 0.2; exit 7"), dirs.ws, DANGER)
    assert (result.exit_code, result.stdout, result.stderr) == (7, "out\n", "err\n")
    assert 200 <= result.duration_ms < 5000
    assert not result.timed_out and not result.stdout_truncated and not result.stderr_truncated
    assert result.sandbox_backend == "none"


async def test_signal_death_maps_to_128_plus_signal(dirs: Dirs) -> None:
    result = await run(sh("kill -TERM $$"), dirs.ws, DANGER)
    assert result.exit_code == 128 + 15


async def test_output_is_capped_per_stream_and_keeps_draining(backend: str, dirs: Dirs) -> None:
    script = "head -c 3000000 /dev/zero | tr '\\0' a; echo small >&2"
    result = await run(sh(script), dirs.ws, WorkspaceWrite())
    assert result.exit_code == 0  # the writer was never blocked by the cap
    assert len(result.stdout) == 1024 * 1024 and set(result.stdout) == {"a"}
    assert result.stdout_truncated
    assert result.stderr == "small\n" and not result.stderr_truncated


async def test_custom_cap_and_streaming_callback(dirs: Dirs) -> None:
    chunks: list[tuple[str, bytes, float]] = []
    started = time.monotonic()
    result = await run(
        sh("echo first; sleep 0.5; echo second-line-is-long; echo oops >&2"),
        dirs.ws,
        DANGER,
        output_cap=10,
        on_output=lambda name, data: chunks.append((name, data, time.monotonic() - started)),
    )
    assert result.stdout == "first\nseco" and result.stdout_truncated
    streamed = b"".join(data for name, data, _ in chunks if name == "stdout")
    assert streamed == b"first\nseco"
    assert b"".join(data for name, data, _ in chunks if name == "stderr") == b"oops\n"
    first_at = next(at for name, data, at in chunks if data.startswith(b"first"))
    assert first_at < result.duration_ms / 1000 - 0.3  # arrived while the command still ran


async def test_failing_callback_does_not_break_capture(dirs: Dirs) -> None:
    def explode(name: str, data: bytes) -> None:
        raise RuntimeError("callback bug")

    result = await run(sh("echo a; echo b"), dirs.ws, DANGER, on_output=explode)
    assert result.exit_code == 0 and result.stdout == "a\nb\n"


@pytest.mark.parametrize("policy", [DANGER, WorkspaceWrite()], ids=["none", "sandboxed"])
async def test_timeout_kills_tree(backend: str, dirs: Dirs, policy: SandboxPolicy) -> None:
    marker = unique("codex-sbx-rt")
    result = await run(
        sh(f"bash -c 'exec -a {marker} sleep 30' & bash -c 'exec -a {marker} sleep 30'"),
        dirs.ws,
        policy,
        timeout_s=0.5,
    )
    assert result.timed_out and result.exit_code == TIMEOUT_EXIT_CODE
    assert result.duration_ms < 5000
    assert await wait_until(lambda: not processes_with(marker), 3.0), processes_with(marker)


@pytest.mark.parametrize("policy", [DANGER, WorkspaceWrite()], ids=["none", "sandboxed"])
async def test_cancellation_kills_tree_and_reraises(
    backend: str, dirs: Dirs, policy: SandboxPolicy
) -> None:
    marker = unique("codex-sbx-cancel")
    task = asyncio.create_task(
        run(
            sh(f"bash -c 'exec -a {marker} sleep 30' & bash -c 'exec -a {marker} sleep 30'"),
            dirs.ws,
            policy,
            timeout_s=30,
        )
    )
    started = await wait_until(lambda: len(processes_with(marker)) >= 2, 10.0)
    assert started, f"command did not start: {processes_with(marker)}, done={task.done()}"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    assert await wait_until(lambda: not processes_with(marker), 3.0), processes_with(marker)


async def test_env_overrides_are_merged(dirs: Dirs) -> None:
    result = await run(
        sh('echo "$CODEX_TEST_VALUE:$HOME"'), dirs.ws, DANGER, env={"CODEX_TEST_VALUE": "merged"}
    )
    assert result.stdout.startswith("merged:/")


async def test_missing_executable_reports_127(dirs: Dirs) -> None:
    result = await run(["/nonexistent/tool"], dirs.ws, DANGER)
    assert result.exit_code == 127 and "No such file" in result.stderr


@pytest.mark.parametrize(
    ("argv", "cwd", "message"),
    [
        ([], None, "command must be a non-empty array"),
        ("ls", None, "command must be a non-empty array"),
        (["ls", 3], None, "command must contain only strings"),
        (["ls"], "relative/dir", "cwd must be an absolute path"),
        (["ls"], "/nonexistent/dir", "is not an existing directory"),
    ],
)
async def test_invalid_requests(dirs: Dirs, argv: object, cwd: str | None, message: str) -> None:
    with pytest.raises(InvalidParams, match=message):
        await run_command(argv, cwd=Path(cwd) if cwd else dirs.ws, policy=DANGER)  # type: ignore[arg-type]


async def test_concurrent_runs_share_placeholders_safely(bwrap_only: str, dirs: Dirs) -> None:
    """Two sandboxes in one workspace: the first to finish must not unprotect the other."""
    slow = asyncio.create_task(run(sh("sleep 0.6; mkdir .git"), dirs.ws, WorkspaceWrite()))
    await asyncio.sleep(0.2)
    fast = await run(["true"], dirs.ws, WorkspaceWrite())
    slow_result = await slow
    assert fast.exit_code == 0
    assert slow_result.exit_code != 0  # .git creation still blocked after `fast` finished
    assert not (dirs.ws / ".git").exists() and not (dirs.ws / ".codex").exists()
