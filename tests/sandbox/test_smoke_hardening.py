"""Root hardening, lifecycle, degradation and non-root smoke tests (reference §7)."""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_support import (
    Dirs,
    kill_all,
    mounts_protect,
    processes_with,
    readable_pythonpath,
    run,
    sh,
    system_python,
    unique,
    wait_until,
)

from codex_lsp.errors import CodexError
from codex_lsp.sandbox import cgroup
from codex_lsp.sandbox.detect import BACKEND_ENV, SandboxUnavailable, available_backend
from codex_lsp.sandbox.policy import DangerFullAccess, ReadOnly, WorkspaceWrite

WS = WorkspaceWrite()

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="root-hardening cases need root")


# ---------------------------------------------------------------- root hardening


async def test_remount_rw_fails_and_outside_stays_untouched(backend: str, dirs: Dirs) -> None:
    script = f"mount -o remount,rw /; echo mount=$?; echo x > '{dirs.outside}/after-remount'"
    result = await run(sh(script), dirs.ws, WS)
    assert "mount=0" not in result.stdout
    assert result.stdout.startswith("mount=")
    assert result.exit_code != 0
    assert not (dirs.outside / "after-remount").exists()


def _swappiness() -> str:
    return Path("/proc/sys/vm/swappiness").read_text()


async def test_global_sysctl_write_fails(backend: str, dirs: Dirs) -> None:
    before = _swappiness()
    script = 'v=$(cat /proc/sys/vm/swappiness) && echo "$v" > /proc/sys/vm/swappiness'
    result = await run(sh(script), dirs.ws, WS)
    assert result.exit_code != 0
    expected = "Read-only file system" if mounts_protect(backend) else "Permission denied"
    assert expected in result.stderr
    assert _swappiness() == before


async def test_no_capabilities_and_no_new_privs(backend: str, dirs: Dirs) -> None:
    result = await run(["cat", "/proc/self/status"], dirs.ws, ReadOnly())
    assert result.exit_code == 0
    status = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    for field in ("CapEff", "CapPrm", "CapAmb"):
        assert int(status[field], 16) == 0, field
    if backend == "landlock":
        assert int(status["CapBnd"], 16) == 0  # the fallback empties the bounding set too
    # (bwrap keeps the bounding set but locks securebits: `cat` above was exec'd as uid 0 and
    # still has CapEff 0, which is what matters.)
    assert status["NoNewPrivs"].strip() == "1"
    assert status["Seccomp"].strip() == "2"


# ---------------------------------------------------------------- lifecycle


async def test_background_child_is_gone_afterwards(backend: str, dirs: Dirs) -> None:
    marker = unique("codex-sbx-bg")
    script = f"bash -c 'exec -a {marker} sleep 30' & sleep 0.2; echo started"
    result = await run(sh(script), dirs.ws, WS)
    assert result.exit_code == 0 and result.stdout == "started\n"
    assert await wait_until(lambda: not processes_with(marker), 3.0), processes_with(marker)


async def test_daemonised_child(backend: str, dirs: Dirs) -> None:
    """setsid escapes the process group: bwrap's pid namespace still kills it, Landlock cannot."""
    marker = unique("codex-sbx-daemon")
    script = (
        f"setsid bash -c 'exec -a {marker} sleep 30' </dev/null >/dev/null 2>&1 & "
        "sleep 0.3; echo started"
    )
    result = await run(sh(script), dirs.ws, WS)
    assert result.exit_code == 0 and result.stdout == "started\n"
    try:
        if backend == "bwrap" or cgroup.available():  # pid namespace / the fallback's cgroup
            assert await wait_until(lambda: not processes_with(marker), 3.0)
        else:  # documented gap: the unprivileged fallback has neither
            assert processes_with(marker)
    finally:
        kill_all(processes_with(marker))


async def test_timeout_kills_the_tree(backend: str, dirs: Dirs) -> None:
    marker = unique("codex-sbx-timeout")
    script = f"bash -c 'exec -a {marker} sleep 30' & bash -c 'exec -a {marker} sleep 30'"
    result = await run(sh(script), dirs.ws, WS, timeout_s=1.0)
    assert result.timed_out
    assert result.exit_code == 124
    assert 900 <= result.duration_ms < 5000
    assert await wait_until(lambda: not processes_with(marker), 3.0), processes_with(marker)


# ---------------------------------------------------------------- degradation


@pytest.fixture
def path_without_bwrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only a few tools and no bwrap (detection is cached per PATH value)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "true", "cat", "echo"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    return bin_dir


async def test_without_bwrap_falls_back_to_landlock(
    path_without_bwrap: Path, dirs: Dirs, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="codex_lsp.sandbox")
    shutil_which = shutil.which("bwrap")
    assert shutil_which is None
    result = await run(sh(f"echo in > inside; echo out > '{dirs.outside}/f'"), dirs.ws, WS)
    assert result.sandbox_backend == "landlock"
    assert available_backend() == "landlock"
    assert (dirs.ws / "inside").read_text() == "in\n"
    assert not (dirs.outside / "f").exists()
    assert result.exit_code != 0


def test_fallback_gap_is_logged(path_without_bwrap: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Use a PATH value not seen before so detection (and its log line) runs again.
    os.environ["PATH"] = f"{path_without_bwrap}:{path_without_bwrap}/none"
    caplog.set_level(logging.WARNING, logger="codex_lsp.sandbox")
    assert available_backend() == "landlock"
    assert "does NOT protect .git" in caplog.text


async def test_forced_bwrap_without_bwrap_is_a_clear_error(
    path_without_bwrap: Path, dirs: Dirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BACKEND_ENV, "bwrap")
    with pytest.raises(SandboxUnavailable) as caught:
        await run(sh("echo ran > ran"), dirs.ws, ReadOnly())
    message = str(caught.value)
    assert "bubblewrap (bwrap) is not installed" in message
    assert "apt-get install bubblewrap" in message
    assert isinstance(caught.value, CodexError)
    assert not (dirs.ws / "ran").exists()


@pytest.mark.parametrize("policy", [ReadOnly(), WS], ids=["ro", "ws"])
async def test_no_backend_refuses_restricted_policies(
    dirs: Dirs, monkeypatch: pytest.MonkeyPatch, policy: object
) -> None:
    monkeypatch.setenv(BACKEND_ENV, "none")
    assert available_backend() == "none"
    with pytest.raises(SandboxUnavailable, match="was not run"):
        await run(sh("echo ran > ran"), dirs.ws, policy)  # type: ignore[arg-type]
    assert not (dirs.ws / "ran").exists()
    # danger-full-access needs no sandbox and still runs.
    result = await run(sh("echo ran > ran"), dirs.ws, DangerFullAccess())
    assert result.exit_code == 0 and result.sandbox_backend == "none"
    assert (dirs.ws / "ran").exists()


async def test_invalid_backend_override_is_refused(
    dirs: Dirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BACKEND_ENV, "firejail")
    with pytest.raises(SandboxUnavailable, match="CODEX_SANDBOX_BACKEND='firejail' is not one of"):
        await run(["true"], dirs.ws, ReadOnly())


# ---------------------------------------------------------------- non-root user

NON_ROOT_SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from codex_lsp.sandbox import ReadOnly, WorkspaceWrite, DangerFullAccess, run_command

async def main(ws, outside):
    out = {}
    async def case(name, script, policy):
        r = await run_command(["sh", "-c", script], cwd=ws, policy=policy, timeout_s=15)
        out[name] = [r.exit_code, r.sandbox_backend, r.stderr[-200:]]
    await case("ws_inside", "echo in > inside", WorkspaceWrite())
    await case("ws_outside", f"echo out > {outside}/sandboxed", WorkspaceWrite())
    await case("ws_git", "echo evil >> .git/config", WorkspaceWrite())
    await case("ro_inside", "echo ro > ro", ReadOnly())
    await case("status", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\\\\t\\\\n'", ReadOnly())
    await case("control", f"echo out > {outside}/unsandboxed", DangerFullAccess())
    print(json.dumps(out))

asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
"""


def _sbin(tool: str) -> str:
    found = shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin")
    assert found is not None, f"{tool} is needed for the non-root case"
    return found


@pytest.fixture
def throwaway_user() -> Iterator[str]:
    name = unique("csbx")[:20]
    subprocess.run([_sbin("useradd"), "-M", "-s", "/bin/sh", name], check=True, timeout=30)
    try:
        yield name
    finally:
        kill_all(_pids_of_uid(pwd.getpwnam(name).pw_uid))
        subprocess.run([_sbin("userdel"), "-r", name], check=False, timeout=30, capture_output=True)


def _pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def test_bwrap_backend_as_non_root_user(dirs: Dirs, throwaway_user: str) -> None:
    user = pwd.getpwnam(throwaway_user)
    (dirs.ws / ".git").mkdir()
    (dirs.ws / ".git/config").write_text("[core]\n")
    for path in (dirs.ws, dirs.ws / ".git", dirs.ws / ".git/config", dirs.outside):
        os.chown(path, user.pw_uid, user.pw_gid)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": readable_pythonpath(dirs.base / "pylib"),
        BACKEND_ENV: "bwrap",
        "HOME": "/nonexistent",
    }
    completed = subprocess.run(
        [
            _sbin("runuser"),
            "-u",
            throwaway_user,
            "--",
            system_python(),
            "-c",
            NON_ROOT_SCRIPT,
            str(dirs.ws),
            str(dirs.outside),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert completed.returncode == 0, completed.stderr
    cases = json.loads(completed.stdout)
    assert cases["ws_inside"][:2] == [0, "bwrap"]
    assert (dirs.ws / "inside").stat().st_uid == user.pw_uid
    assert cases["ws_outside"][0] != 0
    assert not (dirs.outside / "sandboxed").exists()
    assert cases["ws_git"][0] != 0
    assert (dirs.ws / ".git/config").read_text() == "[core]\n"
    assert cases["ro_inside"][0] != 0 and not (dirs.ws / "ro").exists()
    assert cases["status"][0] == 0
    # Positive control: the same user without a sandbox can write OUTSIDE (DAC allows it).
    assert cases["control"][0] == 0
    assert (dirs.outside / "unsandboxed").exists()
    assert sys.platform.startswith("linux")
