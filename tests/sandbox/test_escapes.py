"""The adversarial suite: every escape found by the red-team pass (issue 15), replayed through
the real server (`command/exec` and the model's `shell` calls) under both Linux backends.

Each case asserts the effect on disk (or on the victim), not just an exit code, so a future
change that weakens the sandbox fails here. Workspaces live under /var/tmp (see conftest).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from escape_support import Approvals, agent_turn, exec_, server_session
from pygls.exceptions import JsonRpcException
from sandbox_support import (
    SERVER_MODULES,
    Dirs,
    kill_all,
    processes_with,
    readable_pythonpath,
    sandbox_python,
    system_python,
    wait_until,
)

from codex_lsp.fakes.backend import FakeBackend, shell_call
from codex_lsp.sandbox import cgroup
from harness import start_session


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
            "command": [sandbox_python(), "-c", UNIX_CONNECT, str(path)],
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
                    "command": [sandbox_python(), "probe.py"],
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


# ---------------------------------------------------------------- finding 3: the fallback as root


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated root process a sandboxed command must not be able to signal."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait(5)


async def test_sandboxed_command_cannot_signal_host_processes(
    backend: str, dirs: Dirs, codex_home: Path, victim: subprocess.Popen[bytes]
) -> None:
    async with server_session(codex_home, dirs.ws, backend=backend) as s:
        server_pid = s.client._server.pid  # type: ignore[union-attr]
        script = f"kill -9 {victim.pid}; a=$?; kill -0 {server_pid}; b=$?; echo $a $b"
        result = await exec_(s, script, dirs.ws, {"type": "readOnly"})
        assert result["stdout"].split() == ["1", "1"], result  # both kills failed
        assert (await s.call("codex/status"))["sandboxBackend"] == backend  # the server lives
    assert victim.poll() is None


@pytest.mark.skipif(os.geteuid() != 0, reason="the refusal applies to root only")
async def test_fallback_is_refused_as_root_without_signal_scoping(
    dirs: Dirs, codex_home: Path, victim: subprocess.Popen[bytes]
) -> None:
    """Landlock ABI <= 5 (kernels 5.13-6.11) cannot scope signals; this kernel is newer, so the
    ABI is lowered with CODEX_SANDBOX_LANDLOCK_ABI_MAX to exercise that rule."""
    env = {"CODEX_SANDBOX_LANDLOCK_ABI_MAX": "5"}
    async with server_session(codex_home, dirs.ws, backend="landlock", env=env) as s:
        with pytest.raises(JsonRpcException) as caught:
            await exec_(s, f"kill -9 {victim.pid}", dirs.ws, {"type": "readOnly"})
        assert caught.value.code == -32603
        assert "cannot scope signals" in caught.value.message and "not run" in caught.value.message
        status = await s.call("codex/status")
        assert status["sandboxBackend"] == "none"
    assert victim.poll() is None


METADATA_ATTACK = (
    "chmod 4777 {f}; a=$?; touch -d 2001-01-01 {f}; b=$?; "
    "python3 -c \"import os; os.setxattr('{f}', 'user.pwned', b'1')\" 2>/dev/null; c=$?; "
    "chown 1:1 {f}; d=$?; echo $a $b $c $d"
)


@pytest.mark.parametrize("policy", [{"type": "readOnly"}, {"type": "workspaceWrite"}])
async def test_metadata_outside_the_roots_cannot_change(
    backend: str, dirs: Dirs, codex_home: Path, policy: dict[str, Any]
) -> None:
    """Before the fix, as root under Landlock, all four changes succeeded (`0 0 0 0`)."""
    victim_file = dirs.outside / "victim"
    victim_file.write_text("x")
    victim_file.chmod(0o644)
    before = victim_file.stat()
    async with server_session(codex_home, dirs.ws, backend=backend) as s:
        result = await exec_(s, METADATA_ATTACK.format(f=victim_file), dirs.ws, policy)
    codes = result["stdout"].split()
    assert len(codes) == 4 and "0" not in codes, result
    after = victim_file.stat()
    assert (after.st_mode, after.st_mtime, after.st_uid) == (
        before.st_mode,
        before.st_mtime,
        before.st_uid,
    )
    assert os.listxattr(victim_file) == []


async def test_metadata_inside_the_workspace_still_works(
    backend: str, dirs: Dirs, codex_home: Path
) -> None:
    (dirs.ws / "script.sh").write_text("#!/bin/sh\necho ran\n")
    async with server_session(codex_home, dirs.ws, backend=backend) as s:
        result = await exec_(
            s,
            "chmod +x script.sh && touch -d 2001-01-01 script.sh && ./script.sh",
            dirs.ws,
            {"type": "workspaceWrite"},
        )
    assert result["exitCode"] == 0 and result["stdout"] == "ran\n", result
    assert os.access(dirs.ws / "script.sh", os.X_OK)


# ---------------------------------------------------------------- finding 4: .git


def _repo(path: Path) -> Path:
    git = path / ".git"
    (git / "hooks").mkdir(parents=True)
    (git / "config").write_text("[core]\n")
    return git


GIT_ATTACKS = {
    "direct": "echo evil >> .git/config",
    "hook": "printf '#!/bin/sh\\ntouch /var/tmp/hooked\\n' > .git/hooks/pre-commit",
    "hardlink": "ln .git/config cfg && echo evil >> cfg",
    "rename": "mv .git git-old && mkdir -p .git/hooks && echo evil > .git/config",
    "rm": "rm -rf .git",
}


@pytest.mark.parametrize("attack", sorted(GIT_ATTACKS))
async def test_model_cannot_touch_dot_git(
    backend: str, dirs: Dirs, codex_home: Path, model: FakeBackend, attack: str
) -> None:
    """Before the fix every attack succeeded under Landlock (the demo failed there too)."""
    git = _repo(dirs.ws)
    async with server_session(codex_home, dirs.ws, backend=backend, model=model) as s:
        (item,) = await agent_turn(
            s,
            model,
            [shell_call(["sh", "-c", GIT_ATTACKS[attack]])],
            cwd=dirs.ws,
            approval_policy="never",
        )
    assert item["exitCode"] != 0, item
    assert (git / "config").read_text() == "[core]\n"
    assert sorted(os.listdir(git / "hooks")) == []
    assert not (dirs.ws / "git-old").exists()


async def test_nested_repository_git_is_read_only(
    backend: str, dirs: Dirs, codex_home: Path
) -> None:
    """Before the fix ws/sub/.git/hooks was writable on both backends."""
    nested = _repo(dirs.ws / "sub")
    async with server_session(codex_home, dirs.ws, backend=backend) as s:
        hook = await exec_(
            s, "echo evil > sub/.git/hooks/post-checkout", dirs.ws, {"type": "workspaceWrite"}
        )
        rename = await exec_(
            s, "mv sub sub2 && mkdir -p sub/.git/hooks", dirs.ws, {"type": "workspaceWrite"}
        )
        normal = await exec_(s, "echo fine > sub/file.txt", dirs.ws, {"type": "workspaceWrite"})
    assert hook["exitCode"] != 0 and rename["exitCode"] != 0
    assert not (nested / "hooks" / "post-checkout").exists()
    assert not (dirs.ws / "sub2").exists()
    assert normal["exitCode"] == 0 and (dirs.ws / "sub" / "file.txt").read_text() == "fine\n"


async def test_writable_ancestor_of_the_workspace_cannot_be_renamed(
    backend: str, dirs: Dirs, codex_home: Path, model: FakeBackend
) -> None:
    """Before the fix (bwrap): `mv` of a non-mount ancestor of cwd inside a writable root, then a
    look-alike workspace with a hooked .git, ran the hook on the user's next `git commit`."""
    project = dirs.base / "group" / "project"
    git = _repo(project)
    attack = (
        "cd ../.. && mv group group-old && mkdir -p group/project/.git/hooks && "
        "printf '#!/bin/sh\\necho pwned\\n' > group/project/.git/hooks/pre-commit"
    )
    async with server_session(codex_home, project, backend=backend, model=model) as s:
        (item,) = await agent_turn(
            s,
            model,
            [shell_call(["sh", "-c", attack])],
            cwd=project,
            approval_policy="never",
            sandbox_policy={"type": "workspaceWrite", "writableRoots": [str(dirs.base)]},
        )
    assert item["exitCode"] != 0, item
    assert not (dirs.base / "group-old").exists()
    assert (git / "config").read_text() == "[core]\n" and os.listdir(git / "hooks") == []


@pytest.fixture
def unprivileged(dirs: Dirs) -> Iterator[tuple[str, Path]]:
    """A throw-away user owning the test directories (removed afterwards), and its CODEX_HOME."""
    if os.geteuid() != 0:
        pytest.skip("creating a throw-away user needs root; as a normal user run the suite itself")
    name = f"cxsbx{os.getpid() % 100000}"
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True, timeout=30
    )
    try:
        home = dirs.base / "codex-home"
        home.mkdir()
        subprocess.run(["chown", "-R", f"{name}:{name}", str(dirs.base)], check=True, timeout=30)
        yield name, home
    finally:
        subprocess.run(["userdel", name], check=False, timeout=30)


async def test_unprivileged_landlock_asks_before_workspace_writes_and_says_why(
    dirs: Dirs, unprivileged: tuple[str, Path], model: FakeBackend
) -> None:
    """As a normal user the fallback cannot keep .git read-only: before the fix a hook was
    planted silently. Now the command is asked first (declined here: nothing is written), is
    refused under `never`, and codex/status names the gap."""
    user, home = unprivileged
    git = _repo(dirs.ws)
    chown = ["chown", "-R", f"{user}:{user}", str(dirs.ws)]
    await asyncio.to_thread(subprocess.run, chown, check=True, timeout=30)
    wrapper = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"]
    env = {
        "CODEX_SANDBOX_BACKEND": "landlock",
        "CODEX_API_KEY": "sk-test",
        "HOME": str(dirs.base),
        # The user can't enter a checkout under a 0700 directory: a readable copy of the code.
        "PYTHONPATH": readable_pythonpath(dirs.base / "pylib", SERVER_MODULES),
    }
    args = [
        "-c",
        'model_provider="fake"',
        "-c",
        f'model_providers.fake.base_url="{model.base_url}/v1"',
        "-c",
        "model_providers.fake.requires_openai_auth=true",
    ]
    plant = shell_call(["sh", "-c", "echo evil > .git/hooks/pre-commit"])
    async with start_session(
        home, args=args, env=env, workspace=dirs.ws, wrapper=wrapper, python=system_python()
    ) as s:
        status = await s.call("codex/status")
        assert status["sandboxBackend"] == "landlock"
        assert any(".git" in gap and "NOT protected" in gap for gap in status["sandboxGaps"])
        approvals = Approvals(s, decision="decline")
        (asked,) = await agent_turn(s, model, [plant], cwd=dirs.ws, approval_policy="on-request")
        assert asked["status"] == "declined" and len(approvals.calls) == 1
        assert "cannot keep .git read-only" in approvals.calls[0]["reason"]
        (refused,) = await agent_turn(s, model, [plant], cwd=dirs.ws, approval_policy="never")
        assert (
            refused["status"] == "failed"
            and "approval policy is 'never'" in refused["aggregatedOutput"]
        )
    assert not (git / "hooks" / "pre-commit").exists()


# ---------------------------------------------------------------- finding 5: the smaller leaks

SECRETS = {
    "DB_PASSWORD": "hunter2-pw",
    "DATABASE_URL": "postgres://u:hunter2-db@h/db",
    "GITHUB_PAT": "ghp-hunter2-pat",
    "AWS_CREDENTIALS_FILE": "hunter2-cred",
    "CUSTOM_LEAK": "hunter2-custom",
    "PLAIN_VALUE": "visible",
}


async def test_secret_looking_variables_never_reach_commands(dirs: Dirs, codex_home: Path) -> None:
    """Before the fix *PASSWORD*, DATABASE_URL, *_PAT and *CREDENTIAL* were passed through."""
    args = ("-c", 'shell_environment_policy.exclude=["custom_*"]')
    async with server_session(codex_home, dirs.ws, backend="bwrap", env=SECRETS, args=args) as s:
        result = await exec_(s, "env", dirs.ws, {"type": "dangerFullAccess"})
    assert "PLAIN_VALUE=visible" in result["stdout"]
    assert "hunter2" not in result["stdout"], result["stdout"]


async def test_landlock_read_only_cannot_write_host_dev_shm(dirs: Dirs, codex_home: Path) -> None:
    target = Path("/dev/shm") / f"codex-escape-{os.getpid()}"
    try:
        async with server_session(codex_home, dirs.ws, backend="landlock") as s:
            result = await exec_(s, f"echo x > {target}", dirs.ws, {"type": "readOnly"})
        assert not target.exists(), result
    finally:
        target.unlink(missing_ok=True)


async def test_configured_limits_stop_huge_files_and_allocations(
    backend: str, dirs: Dirs, codex_home: Path
) -> None:
    args = ("-c", "sandbox_limits.max_file_size_mb=1", "-c", "sandbox_limits.max_memory_mb=512")
    script = (
        "head -c 2000000 /dev/zero > big; a=$?; "
        "python3 -c 'b = bytearray(1024 * 1024 * 1024)' 2>/dev/null; b=$?; "
        "head -c 500000 /dev/zero > small; c=$?; echo $a $b $c"
    )
    async with server_session(codex_home, dirs.ws, backend=backend, args=args) as s:
        result = await exec_(s, script, dirs.ws, {"type": "workspaceWrite"})
    a, b, c = result["stdout"].split()
    assert a != "0" and b != "0" and c == "0", result
    assert (dirs.ws / "big").stat().st_size <= 1024 * 1024
    assert (dirs.ws / "small").stat().st_size == 500000


async def test_daemonised_children_do_not_outlive_the_command(
    backend: str, dirs: Dirs, codex_home: Path
) -> None:
    """Before the fix a `setsid` child survived a Landlock command (bwrap's pid namespace
    already ended it). As root the fallback now runs each command in its own cgroup v2."""
    if backend == "landlock" and not cgroup.available():
        pytest.skip(
            "needs root and a writable cgroup v2 (cgroup.kill, Linux 5.14+): a documented gap"
        )
    marker = f"codex-escape-daemon-{os.getpid()}"
    script = f"setsid bash -c 'exec -a {marker} sleep 30' </dev/null >/dev/null 2>&1 & sleep 0.3; echo started"
    try:
        async with server_session(codex_home, dirs.ws, backend=backend) as s:
            result = await exec_(s, script, dirs.ws, {"type": "readOnly"})
            assert result["stdout"] == "started\n", result
            assert await wait_until(lambda: not processes_with(marker), 3.0)
    finally:
        kill_all(processes_with(marker))


# ---------------------------------------------------------------- nothing that worked stops working


GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@e",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@e",
}


def _git(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(ws), *args], capture_output=True, text=True, timeout=30,
        env={**os.environ, **GIT_ENV},
    )  # fmt: skip


def _project(ws: Path) -> None:
    """A committed repository with a C file and a test, plus an untracked nested repository."""
    (ws / "hello.c").write_text('#include <stdio.h>\nint main(void){puts("built");return 0;}\n')
    (ws / "test_ok.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    for args in (("init", "-q"), ("add", "hello.c", "test_ok.py"), ("commit", "-qm", "init")):
        assert _git(ws, *args).returncode == 0
    (ws / "sub").mkdir()
    assert _git(ws / "sub", "init", "-q").returncode == 0


async def test_workspace_work_still_works_and_the_user_can_commit_afterwards(
    backend: str, dirs: Dirs, codex_home: Path, model: FakeBackend
) -> None:
    """A venv (with pip from the bundled wheel), a C build, a test runner and git read commands
    inside the sandbox; then the user's own git status/diff/commit outside it."""
    await asyncio.to_thread(_project, dirs.ws)
    work = (
        "set -e; python3 -m venv venv && venv/bin/python -m pip --version >/dev/null && "
        "cc -o hello hello.c && ./hello && "
        f"{sys.executable} -m pytest -q -p no:cacheprovider test_ok.py >/dev/null && echo tested && "
        "echo change >> hello.c && git status --short && git diff --stat | tail -1"
    )
    async with server_session(codex_home, dirs.ws, backend=backend, model=model) as s:
        (item,) = await agent_turn(
            s,
            model,
            [shell_call(["bash", "-c", work], timeout_ms=120_000)],
            cwd=dirs.ws,
            approval_policy="on-request",
        )
    assert item["exitCode"] == 0, item["aggregatedOutput"]
    output = item["aggregatedOutput"]
    assert "built" in output and "tested" in output and "M hello.c" in output
    commit = await asyncio.to_thread(_git, dirs.ws, "commit", "-qam", "agent change")
    assert commit.returncode == 0, commit.stderr
    status = await asyncio.to_thread(_git, dirs.ws, "status", "--porcelain", "--untracked-files=no")
    assert status.returncode == 0 and status.stdout == ""
    assert (await asyncio.to_thread(_git, dirs.ws, "diff", "HEAD~1", "--stat")).stdout.strip()
