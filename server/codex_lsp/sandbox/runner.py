"""Run one command under a sandbox policy: capped streaming output, timeout, tree kill.

`command/exec` maps onto this directly:

    policy = policy_from_wire(params["sandboxPolicy"]) if params.get("sandboxPolicy") else default
    result = await run_command(params["command"], cwd=Path(params.get("cwd") or server_cwd),
                               policy=policy, timeout_s=params.get("timeoutMs", 10_000) / 1000)
    return {"exitCode": result.exit_code, "stdout": result.stdout, "stderr": result.stderr}
"""

from __future__ import annotations

import asyncio
import ctypes
import fnmatch
import logging
import os
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import attrs

from codex_lsp.errors import InvalidParams
from codex_lsp.sandbox import cgroup, landlock, seatbelt, seccomp
from codex_lsp.sandbox.bwrap import build_bwrap_args
from codex_lsp.sandbox.detect import (
    BWRAP,
    LANDLOCK,
    NONE,
    SEATBELT,
    Detection,
    SandboxUnavailable,
    available_backend,
    detect,
    unavailable_error,
)
from codex_lsp.sandbox.layout import FilesystemLayout, canonical, compute_layout
from codex_lsp.sandbox.policy import DangerFullAccess, SandboxPolicy, mode_name, network_allowed

__all__ = [
    "CommandResult",
    "OutputCallback",
    "SandboxUnavailable",
    "TIMEOUT_EXIT_CODE",
    "available_backend",
    "run_command",
]

log = logging.getLogger(__name__)

StreamName = Literal["stdout", "stderr"]
OutputCallback = Callable[[StreamName, bytes], None]

TIMEOUT_EXIT_CODE = 124  # what coreutils `timeout` reports
NETWORK_DISABLED_ENV = "CODEX_SANDBOX_NETWORK_DISABLED"
_READ_CHUNK = 64 * 1024
# After the command exits, how long a leftover holder of its pipes may keep them open.
_DRAIN_GRACE_S = 2.0
_REAP_TIMEOUT_S = 5.0


@attrs.frozen
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str
    duration_ms: int
    timed_out: bool
    stdout_truncated: bool
    stderr_truncated: bool
    sandbox_backend: str


@attrs.define
class _Launch:
    """Everything needed to spawn one sandboxed command."""

    argv: list[str]
    env: dict[str, str] = attrs.field(repr=False)  # inherited env may hold API keys
    backend: str = NONE
    pass_fds: tuple[int, ...] = ()
    preexec_fn: Callable[[], None] | None = None
    close_after_spawn: Callable[[], None] = lambda: None
    placeholders: tuple[Path, ...] = ()
    cgroup: Path | None = None  # the fallback's per-command cgroup, killed when it ends


@attrs.define
class _Capture:
    name: StreamName
    cap: int
    data: bytearray = attrs.field(factory=bytearray)
    truncated: bool = False


# Empty files bwrap creates on the host as mount points for blocked .git/.codex paths,
# with the number of running commands that rely on each (removed when it drops to zero).
_placeholder_users: dict[Path, int] = {}


def _validate_argv(argv: Sequence[str]) -> list[str]:
    if isinstance(argv, str) or not argv:
        raise InvalidParams("command must be a non-empty array of strings")
    if not all(isinstance(arg, str) for arg in argv):
        raise InvalidParams("command must contain only strings")
    return list(argv)


def _validate_cwd(cwd: Path) -> Path:
    if not cwd.is_absolute():
        raise InvalidParams(f"cwd must be an absolute path, got {str(cwd)!r}")
    if not cwd.is_dir():
        raise InvalidParams(f"cwd {str(cwd)!r} is not an existing directory")
    return canonical(cwd)


# Upstream's default shell_environment_policy excludes *KEY*, *SECRET*, *TOKEN*; these go further.
DEFAULT_ENV_EXCLUDES = (
    "*KEY*", "*SECRET*", "*TOKEN*", "*PASSWORD*", "*PASSWD*", "*CREDENTIAL*", "*_PAT",
    "DATABASE_URL",
)  # fmt: skip


@attrs.frozen
class RunnerSettings:
    """Server-wide settings from config (`[shell_environment_policy]`, `[sandbox_limits]`)."""

    env_excludes: tuple[str, ...] = ()
    ignore_default_excludes: bool = False
    max_memory_bytes: int = 0  # RLIMIT_AS, 0 = unlimited
    max_file_size_bytes: int = 0  # RLIMIT_FSIZE, 0 = unlimited


_settings = RunnerSettings()


def configure_runner(settings: RunnerSettings) -> None:
    """Apply config once at start-up."""
    global _settings
    _settings = settings


def _looks_secret(name: str, settings: RunnerSettings) -> bool:
    patterns = settings.env_excludes
    if not settings.ignore_default_excludes:
        patterns = DEFAULT_ENV_EXCLUDES + patterns
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern.upper()) for pattern in patterns)


def _child_env(policy: SandboxPolicy, overrides: Mapping[str, str] | None) -> dict[str, str]:
    # As upstream's shell_environment_policy: never hand credentials to commands.
    settings = _settings
    env = {k: v for k, v in os.environ.items() if not _looks_secret(k, settings)}
    env.update(overrides or {})
    env.pop("CODEX_SANDBOX_BACKEND", None)
    if network_allowed(policy):
        env.pop(NETWORK_DISABLED_ENV, None)
    else:
        env[NETWORK_DISABLED_ENV] = "1"
    return env


def _bwrap_launch(
    argv: list[str], cwd: Path, layout: FilesystemLayout, env: dict[str, str], bwrap_path: str
) -> _Launch:
    writable = {root.path for root in layout.writable_roots}
    tmpdir = env.get("TMPDIR")
    if tmpdir and canonical(tmpdir) not in writable:
        env["TMPDIR"] = "/tmp"  # private tmpfs or host /tmp: writable either way
    fd = seccomp.filter_pipe(seccomp.build_filter(deny_network=not layout.network_access))
    runtime = env.get("XDG_RUNTIME_DIR")
    args = build_bwrap_args(
        argv,
        layout=layout,
        cwd=cwd,
        is_root=os.geteuid() == 0,
        seccomp_fd=fd,
        bwrap_path=bwrap_path,
        runtime_dirs=[canonical(runtime)] if runtime and os.path.isabs(runtime) else [],
    )
    placeholders = [path for root in layout.writable_roots for path in root.blocked_paths]
    placeholders += [
        path
        for root in layout.writable_roots
        for path in root.read_only_paths
        if path in _placeholder_users
    ]
    return _Launch(
        args,
        env,
        BWRAP,
        pass_fds=(fd,),
        close_after_spawn=lambda: os.close(fd),
        placeholders=tuple(placeholders),
    )


def _create_placeholders(paths: list[Path]) -> None:
    """Empty files to bind /dev/null onto (bwrap makes its own; the fallback needs them)."""
    for path in paths:
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        except FileExistsError:
            pass


def _landlock_launch(
    argv: list[str], cwd: Path, layout: FilesystemLayout, env: dict[str, str], abi: int
) -> _Launch:
    placeholders: list[Path] = []
    if os.geteuid() == 0:  # only root builds the mount namespace that uses them
        placeholders = [path for root in layout.writable_roots for path in root.blocked_paths]
        _create_placeholders(placeholders)
        placeholders += [
            path
            for root in layout.writable_roots
            for path in root.read_only_paths
            if path in _placeholder_users
        ]
    command_cgroup = cgroup.create()
    try:
        confinement = landlock.prepare_confinement(
            layout,
            abi=abi,
            cwd=cwd,
            cgroup_procs=command_cgroup / "cgroup.procs" if command_cgroup else None,
        )
    except BaseException:
        if command_cgroup is not None:
            cgroup.kill_and_remove(command_cgroup)
        raise
    return _Launch(
        argv,
        env,
        LANDLOCK,
        preexec_fn=confinement.preexec_fn,
        close_after_spawn=confinement.close,
        placeholders=tuple(placeholders),
        cgroup=command_cgroup,
    )


def _prepare(
    argv: list[str],
    cwd: Path,
    policy: SandboxPolicy,
    env: dict[str, str],
    detection: Detection,
    policy_cwd: Path,
) -> _Launch:
    """Blocking preparation (filesystem inspection); called in a worker thread."""
    if isinstance(policy, DangerFullAccess):
        return _Launch(argv, env, NONE)
    layout = compute_layout(policy, policy_cwd, env)
    if detection.backend == BWRAP and detection.bwrap_path:
        return _bwrap_launch(argv, cwd, layout, env, detection.bwrap_path)
    if detection.backend == LANDLOCK:
        return _landlock_launch(argv, cwd, layout, env, detection.landlock_abi)
    if detection.backend == SEATBELT:
        env["CODEX_SANDBOX"] = SEATBELT
        return _Launch(seatbelt.build_seatbelt_command(argv, layout), env, SEATBELT)
    raise unavailable_error(detection, mode_name(policy))


def _acquire_placeholders(paths: tuple[Path, ...]) -> None:
    for path in paths:
        _placeholder_users[path] = _placeholder_users.get(path, 0) + 1


def _release_placeholders(paths: tuple[Path, ...]) -> list[Path]:
    unused: list[Path] = []
    for path in paths:
        remaining = _placeholder_users.get(path, 1) - 1
        if remaining > 0:
            _placeholder_users[path] = remaining
        else:
            _placeholder_users.pop(path, None)
            unused.append(path)
    return unused


def _remove_placeholders(paths: list[Path]) -> None:
    """Remove the empty mount-point files bwrap left, so `git init` still works later."""
    for path in paths:
        try:
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode) and info.st_size == 0:
                os.unlink(path)
        except OSError as error:
            log.info("sandbox: could not remove placeholder %s (%s)", path, error.strerror)


class _CommandProtocol(asyncio.SubprocessProtocol):
    """Captures output as it arrives and reports exit separately from pipe closure.

    (asyncio's Process.wait() only returns once the pipes close too, which a background child
    holding stdout could delay forever.)
    """

    def __init__(self, captures: dict[int, _Capture], on_output: OutputCallback | None) -> None:
        loop = asyncio.get_running_loop()
        self.captures = captures
        self.on_output = on_output
        self.exited: asyncio.Future[None] = loop.create_future()
        self.pipes_closed: asyncio.Future[None] = loop.create_future()
        self._open_pipes = set(captures)

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        capture = self.captures[fd]
        room = capture.cap - len(capture.data)
        if room > 0:
            kept = data[:room]
            capture.data += kept
            self._deliver(capture.name, bytes(kept))
        if len(data) > room:
            capture.truncated = True  # keep reading so the child never blocks on a full pipe

    def _deliver(self, name: StreamName, chunk: bytes) -> None:
        """A failing callback is logged and dropped; capture goes on."""
        if self.on_output is None:
            return
        try:
            self.on_output(name, chunk)
        except Exception:
            log.exception("sandbox: output callback failed; no further chunks are streamed")
            self.on_output = None

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self._open_pipes.discard(fd)
        if not self._open_pipes and not self.pipes_closed.done():
            self.pipes_closed.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


_RLIMIT_FSIZE = 1
_RLIMIT_AS = 9


class _Rlimit(ctypes.Structure):
    _fields_ = [("soft", ctypes.c_ulong), ("hard", ctypes.c_ulong)]


def _with_limits(
    preexec_fn: Callable[[], None] | None, settings: RunnerSettings
) -> Callable[[], None] | None:
    """Wrap the preexec step with setrlimit calls for the configured limits (none: unchanged).
    Limits are inherited through bwrap's exec and by every child of the command."""
    limits = [
        (resource, _Rlimit(value, value))
        for resource, value in (
            (_RLIMIT_AS, settings.max_memory_bytes),
            (_RLIMIT_FSIZE, settings.max_file_size_bytes),
        )
        if value > 0
    ]
    if not limits:
        return preexec_fn
    setrlimit = landlock.libc().setrlimit

    def apply_limits() -> None:  # in the forked child: raw ctypes calls only
        for resource, limit in limits:
            if setrlimit(resource, ctypes.byref(limit)) != 0:
                raise OSError(ctypes.get_errno(), "setrlimit failed")
        if preexec_fn is not None:
            preexec_fn()

    return apply_limits


def _kill_tree(pid: int) -> None:
    """SIGKILL the command's process group; for bwrap this also ends its pid namespace."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _finish(transport: asyncio.SubprocessTransport, protocol: _CommandProtocol) -> None:
    """Kill leftovers, wait (bounded) for exit and for the pipes to reach EOF, then close."""
    _kill_tree(transport.get_pid())
    try:
        await asyncio.wait_for(asyncio.shield(protocol.exited), _REAP_TIMEOUT_S)
    except TimeoutError:
        log.warning("sandbox: process %d did not exit after SIGKILL", transport.get_pid())
    try:
        await asyncio.wait_for(asyncio.shield(protocol.pipes_closed), _DRAIN_GRACE_S)
    except TimeoutError:
        log.info("sandbox: output pipes still open after exit; closing them")
    transport.close()


async def _abort_spawn(
    spawn: asyncio.Future[asyncio.SubprocessTransport], protocol: _CommandProtocol
) -> None:
    """Cancelled mid-spawn: the process may already run, so let the spawn finish, then kill it.

    (Left alone, asyncio would kill only the direct child and then wait for pipes that its
    children still hold open.)
    """
    try:
        transport = await asyncio.wait_for(asyncio.shield(spawn), _REAP_TIMEOUT_S)
    except BaseException:
        # Failed, slow, or cancelled again: kill the tree whenever the spawn does complete.
        spawn.add_done_callback(_kill_if_spawned)
        return
    await asyncio.shield(_finish(transport, protocol))


def _kill_if_spawned(spawn: asyncio.Future[asyncio.SubprocessTransport]) -> None:
    if not spawn.cancelled() and spawn.exception() is None:
        transport = spawn.result()
        _kill_tree(transport.get_pid())
        transport.close()


def _exit_code(returncode: int | None, timed_out: bool) -> int:
    if timed_out:
        return TIMEOUT_EXIT_CODE
    if returncode is None:
        return -1
    return 128 - returncode if returncode < 0 else returncode


async def _spawn(
    launch: _Launch, cwd: Path, protocol: _CommandProtocol
) -> asyncio.SubprocessTransport:
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.subprocess_exec(
            lambda: protocol,
            *launch.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=launch.env,
            start_new_session=True,  # own process group, killed as a whole
            pass_fds=launch.pass_fds,
            preexec_fn=_with_limits(launch.preexec_fn, _settings),  # raw ctypes calls only
        )
    except subprocess.SubprocessError as error:
        # Only the Landlock preexec_fn raises this: the child never exec'd the command.
        raise SandboxUnavailable(
            f"The {launch.backend} sandbox could not confine the command ({error}); it was not run."
        ) from None
    finally:
        launch.close_after_spawn()
    return transport


async def run_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    policy: SandboxPolicy,
    timeout_s: float | None = 10.0,
    env: Mapping[str, str] | None = None,
    output_cap: int = 1024 * 1024,
    on_output: OutputCallback | None = None,
    policy_cwd: Path | None = None,
) -> CommandResult:
    """Run argv under `policy` and collect its output (each stream capped at output_cap bytes).

    ``cwd`` is where the command runs; ``policy_cwd`` is the directory the policy's writable
    roots are anchored at (a thread's cwd). It defaults to ``cwd``, which is right only when
    the caller is trusted to choose it (`command/exec`); a model-chosen workdir must come with
    the thread's cwd here, or it would become writable.

    Raises InvalidParams for a bad argv/cwd and SandboxUnavailable when a restricted policy
    cannot be enforced. On timeout the whole tree is killed and `timed_out` is set; when the
    calling task is cancelled the tree is killed too and CancelledError propagates.
    """
    command = _validate_argv(argv)
    workdir = await asyncio.to_thread(_validate_cwd, Path(cwd))
    anchor = workdir if policy_cwd is None else await asyncio.to_thread(canonical, policy_cwd)
    child_env = _child_env(policy, env)
    detection = (
        Detection(NONE) if isinstance(policy, DangerFullAccess) else await asyncio.to_thread(detect)
    )
    launch = await asyncio.to_thread(
        _prepare, command, workdir, policy, child_env, detection, anchor
    )
    _acquire_placeholders(launch.placeholders)
    try:
        return await _run(launch, workdir, timeout_s, output_cap, on_output)
    finally:
        if launch.cgroup is not None:  # daemonised children die with the command
            await asyncio.shield(asyncio.to_thread(cgroup.kill_and_remove, launch.cgroup))
        unused = _release_placeholders(launch.placeholders)
        if unused:
            await asyncio.shield(asyncio.to_thread(_remove_placeholders, unused))


async def _run(
    launch: _Launch,
    cwd: Path,
    timeout_s: float | None,
    output_cap: int,
    on_output: OutputCallback | None,
) -> CommandResult:
    started = time.monotonic()
    captures = {1: _Capture("stdout", output_cap), 2: _Capture("stderr", output_cap)}
    protocol = _CommandProtocol(captures, on_output)
    spawn = asyncio.ensure_future(_spawn(launch, cwd, protocol))
    try:
        transport = await asyncio.shield(spawn)
    except OSError as error:  # e.g. the executable does not exist (no sandbox case)
        message = f"{launch.argv[0]}: {error.strerror or 'cannot execute'}\n"
        return CommandResult(127, "", message, 0, False, False, False, launch.backend)
    except asyncio.CancelledError:
        await _abort_spawn(spawn, protocol)
        raise
    timed_out = False
    try:
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(protocol.exited)
        except TimeoutError:
            timed_out = True
        await _finish(transport, protocol)
    except BaseException:
        # Cancellation (turn interrupt): leave nothing running, then propagate.
        await asyncio.shield(_finish(transport, protocol))
        raise
    stdout, stderr = captures[1], captures[2]
    return CommandResult(
        exit_code=_exit_code(transport.get_returncode(), timed_out),
        stdout=stdout.data.decode("utf-8", errors="replace"),
        stderr=stderr.data.decode("utf-8", errors="replace"),
        duration_ms=int((time.monotonic() - started) * 1000),
        timed_out=timed_out,
        stdout_truncated=stdout.truncated,
        stderr_truncated=stderr.truncated,
        sandbox_backend=launch.backend,
    )
