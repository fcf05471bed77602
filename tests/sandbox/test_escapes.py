"""The adversarial suite: every escape found by the red-team pass (issue 15), replayed through
the real server (`command/exec` and the model's `shell` calls) under both Linux backends.

Each case asserts the effect on disk (or on the victim), not just an exit code, so a future
change that weakens the sandbox fails here. Workspaces live under /var/tmp (see conftest).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from escape_support import Approvals, agent_turn, server_session
from sandbox_support import Dirs

from codex_lsp.fakes.backend import FakeBackend, shell_call


@pytest.fixture
def model() -> Iterator[FakeBackend]:
    """The loopback model backend (the attacker's voice)."""
    with FakeBackend() as running:
        yield running


# ---------------------------------------------------------------- finding 1: model-chosen workdir


@pytest.mark.parametrize("how", ["absolute", "dotdot"])
async def test_model_workdir_outside_the_workspace_is_not_writable(
    backend: str, dirs: Dirs, codex_home: Path, model: FakeBackend, how: str
) -> None:
    """Before the fix the workdir became a writable root: `pwned` landed in OUTSIDE, unasked."""
    workdir = str(dirs.outside) if how == "absolute" else "../outside"
    async with server_session(codex_home, dirs.ws, backend=backend, model=model) as s:
        approvals = Approvals(s)
        (item,) = await agent_turn(
            s, model, [shell_call(["sh", "-c", "echo x > pwned"], workdir=workdir)], cwd=dirs.ws
        )
        assert item["exitCode"] != 0 and os.path.normpath(item["cwd"]) == str(dirs.outside)
        assert approvals.calls == []
        assert (
            "outside the writable roots"
            in model.requests_to("/responses")[-1].body["input"][-1]["output"]
        )
    assert not (dirs.outside / "pwned").exists()


async def test_model_workdir_root_home_is_not_writable(
    backend: str, dirs: Dirs, codex_home: Path, model: FakeBackend
) -> None:
    target = Path.home() / f"codex-escape-{os.getpid()}"
    try:
        async with server_session(codex_home, dirs.ws, backend=backend, model=model) as s:
            (item,) = await agent_turn(
                s,
                model,
                [shell_call(["sh", "-c", f"echo x > {target.name}"], workdir=str(Path.home()))],
                cwd=dirs.ws,
            )
            assert item["exitCode"] != 0
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


async def test_model_workdir_in_dot_git_stays_read_only(
    bwrap_only: str, dirs: Dirs, codex_home: Path, model: FakeBackend
) -> None:
    """(Under Landlock, .git has its own rule: see finding 4.)"""
    (dirs.ws / ".git" / "hooks").mkdir(parents=True)
    async with server_session(codex_home, dirs.ws, backend=bwrap_only, model=model) as s:
        (item,) = await agent_turn(
            s,
            model,
            [shell_call(["sh", "-c", "echo evil > hooks/pre-commit"], workdir=".git")],
            cwd=dirs.ws,
        )
        assert item["exitCode"] != 0
    assert not (dirs.ws / ".git" / "hooks" / "pre-commit").exists()


async def test_model_workdir_inside_the_workspace_still_writes(
    backend: str, dirs: Dirs, codex_home: Path, model: FakeBackend
) -> None:
    (dirs.ws / "sub").mkdir()
    async with server_session(codex_home, dirs.ws, backend=backend, model=model) as s:
        (item,) = await agent_turn(
            s, model, [shell_call(["sh", "-c", "echo ok > made"], workdir="sub")], cwd=dirs.ws
        )
        assert item["exitCode"] == 0, item
    assert (dirs.ws / "sub" / "made").read_text() == "ok\n"


# ---------------------------------------------------------------- finding 2: host unix sockets

UNIX_CONNECT = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
    "s.connect(sys.argv[1])\n"
    "s.sendall(b'escaped')\n"
    "print('connected')\n"
)


@pytest.fixture
async def unix_listener(dirs: Dirs) -> AsyncIterator[tuple[Path, list[bytes]]]:
    """A host unix socket OUTSIDE the workspace (as an editor's `--listen` socket would be)."""
    path = dirs.outside / "editor.sock"
    received: list[bytes] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(2):
                received.append(await reader.read(100))
        except TimeoutError:
            received.append(b"")
        writer.close()

    server = await asyncio.start_unix_server(on_connect, path=str(path))
    yield path, received
    server.close()
    await asyncio.wait_for(server.wait_closed(), 5)


@pytest.mark.parametrize("policy", [{"type": "readOnly"}, {"type": "workspaceWrite"}])
async def test_host_unix_socket_unreachable_with_network_off(
    backend: str,
    dirs: Dirs,
    codex_home: Path,
    unix_listener: tuple[Path, list[bytes]],
    policy: dict[str, Any],
) -> None:
    """Before the fix the command connected and wrote `escaped` into the host socket."""
    path, received = unix_listener
    async with server_session(codex_home, dirs.ws, backend=backend) as s:
        params = {
            "command": [sys.executable, "-c", UNIX_CONNECT, str(path)],
            "cwd": str(dirs.ws),
            "sandboxPolicy": policy,
        }
        denied = await s.call("command/exec", params, timeout=30)
        assert denied["exitCode"] != 0 and "connected" not in denied["stdout"]
        assert "PermissionError" in denied["stderr"]
        await asyncio.sleep(0.1)
        assert received == []
        # Positive control: the same probe does reach the socket when network is allowed.
        # (readOnly's wire shape has no networkAccess here, so the control uses workspaceWrite.)
        params["sandboxPolicy"] = {"type": "workspaceWrite", "networkAccess": True}
        allowed = await s.call("command/exec", params, timeout=30)
        assert allowed["exitCode"] == 0 and allowed["stdout"] == "connected\n", allowed
        await asyncio.sleep(0.1)
        assert received == [b"escaped"]


async def test_socketpair_and_multiprocessing_still_work_with_network_off(
    backend: str, dirs: Dirs, codex_home: Path
) -> None:
    script = (
        "import asyncio, socket, multiprocessing as mp\n"
        "a, b = socket.socketpair(); a.sendall(b'x'); assert b.recv(1) == b'x'\n"
        "asyncio.run(asyncio.sleep(0))\n"
        "if __name__ == '__main__':\n"
        "    with mp.Pool(2) as pool: print(sum(pool.map(abs, [-1, -2])))\n"
    )
    (dirs.ws / "probe.py").write_text(script)
    async with server_session(codex_home, dirs.ws, backend=backend) as s:
        for policy in ({"type": "readOnly"}, {"type": "workspaceWrite"}):
            result = await s.call(
                "command/exec",
                {
                    "command": [sys.executable, "probe.py"],
                    "cwd": str(dirs.ws),
                    "sandboxPolicy": policy,
                },
                timeout=30,
            )
            assert result["exitCode"] == 0 and result["stdout"] == "3\n", (policy, result)


async def test_bwrap_hides_host_run_with_network_off(
    bwrap_only: str, dirs: Dirs, codex_home: Path
) -> None:
    async with server_session(codex_home, dirs.ws, backend=bwrap_only) as s:
        off = await s.call(
            "command/exec",
            {
                "command": ["ls", "-A", "/run"],
                "cwd": str(dirs.ws),
                "sandboxPolicy": {"type": "readOnly"},
            },
        )
        on = await s.call(
            "command/exec",
            {
                "command": ["ls", "-A", "/run"],
                "cwd": str(dirs.ws),
                "sandboxPolicy": {"type": "workspaceWrite", "networkAccess": True},
            },
        )
    assert off == {"exitCode": 0, "stdout": "", "stderr": ""}
    assert on["stdout"].split() == sorted(os.listdir("/run"))
