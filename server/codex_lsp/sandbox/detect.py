"""Which sandbox backend this machine can use, detected once (per PATH) and cached.

Order on Linux: bubblewrap, then the Landlock fallback, then nothing. macOS uses Seatbelt.
`CODEX_SANDBOX_BACKEND=bwrap|landlock|none` forces a choice (tests use it); `none` pretends
nothing is available, so restricted policies raise SandboxUnavailable.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import attrs

from codex_lsp.errors import CodexError
from codex_lsp.sandbox import landlock
from codex_lsp.sandbox.bwrap import probe_args
from codex_lsp.sandbox.layout import FilesystemLayout

log = logging.getLogger(__name__)

BACKEND_ENV = "CODEX_SANDBOX_BACKEND"
BWRAP = "bwrap"
LANDLOCK = "landlock"
SEATBELT = "seatbelt"
NONE = "none"
_OVERRIDES = (BWRAP, LANDLOCK, NONE)
_PROBE_TIMEOUT_S = 5.0
SEATBELT_EXECUTABLE = "/usr/bin/sandbox-exec"

INSTALL_BWRAP_HINT = (
    "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`, Fedora: `dnf install bubblewrap`, "
    "Arch: `pacman -S bubblewrap`)"
)
LANDLOCK_HINT = (
    "or use a kernel with Landlock enabled (Linux 5.13+, CONFIG_SECURITY_LANDLOCK=y and 'landlock' "
    "in the lsm= boot parameter)"
)


class SandboxUnavailable(CodexError):
    """A restricted policy cannot be enforced here; the command was not run."""

    def __init__(self, message: str, *, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


@attrs.frozen
class Detection:
    """The result of probing: the chosen backend and why the others were rejected."""

    backend: str
    bwrap_path: str | None = None
    landlock_abi: int = 0
    problems: tuple[str, ...] = ()


def _probe_bwrap(path_env: str) -> tuple[str | None, str | None]:
    """(absolute bwrap path, None) when it works, else (None, problem)."""
    bwrap_path = shutil.which(BWRAP, path=path_env)
    if bwrap_path is None:
        return None, "bubblewrap (bwrap) is not installed or not on PATH"
    try:
        probe = subprocess.run(
            probe_args(bwrap_path, is_root=os.geteuid() == 0),
            stdin=subprocess.DEVNULL,  # our stdin is the editor's pipe (see transport)
            capture_output=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"bubblewrap at {bwrap_path} could not be started ({type(error).__name__})"
    if probe.returncode != 0:
        reason = probe.stderr.decode(errors="replace").strip()[:300]
        return None, f"bubblewrap at {bwrap_path} cannot create a sandbox here: {reason}"
    return os.path.realpath(bwrap_path), None


def _probe_landlock() -> tuple[int, str | None]:
    if not landlock.supported_machine():
        return 0, f"the Landlock fallback has no syscall table for {os.uname().machine}"
    abi = min(landlock.landlock_abi(), _abi_cap())
    if abi < 1:
        return 0, "Landlock is not enabled in this kernel"
    problem = fallback_problem(abi, is_root=os.geteuid() == 0)
    if problem:
        return 0, problem
    try:
        layout = FilesystemLayout((), host_tmp_writable=False, network_access=False)
        confinement = landlock.prepare_confinement(layout, abi=abi, cwd=Path("/"))
        try:
            subprocess.run(
                ["/bin/true" if os.path.exists("/bin/true") else "true"],  # /tmp may be hidden
                preexec_fn=confinement.preexec_fn,  # noqa: PLW1509 - raw ctypes only
                stdin=subprocess.DEVNULL,
                timeout=_PROBE_TIMEOUT_S,
                check=True,
                capture_output=True,
            )
        finally:
            confinement.close()
    except (OSError, subprocess.SubprocessError) as error:
        return 0, f"the Landlock fallback failed its self-test ({type(error).__name__}: {error})"
    return abi, None


# Lowers the Landlock ABI the fallback uses (never raises it): lets tests exercise the rules for
# older kernels (5.13-6.11) on a newer one.
LANDLOCK_ABI_CAP_ENV = "CODEX_SANDBOX_LANDLOCK_ABI_MAX"
SIGNAL_SCOPING_ABI = 6


def _abi_cap() -> int:
    raw = os.environ.get(LANDLOCK_ABI_CAP_ENV, "").strip()
    return int(raw) if raw.isdigit() else 1 << 30


def fallback_problem(abi: int, *, is_root: bool) -> str | None:
    """Why the Landlock fallback must not be used, or None.

    As root without Landlock signal scoping (ABI < 6, kernels before 6.12) and without a pid
    namespace, a sandboxed command could kill the server or any other root process.
    """
    if is_root and abi < SIGNAL_SCOPING_ABI:
        return (
            f"the Landlock fallback is refused as root: this kernel's Landlock ABI {abi} cannot "
            f"scope signals (ABI {SIGNAL_SCOPING_ABI}+, Linux 6.12+), so a sandboxed command could "
            "kill the server or other root processes"
        )
    return None


@functools.lru_cache(maxsize=8)
def _detect_linux(path_env: str, abi_cap: int) -> Detection:
    del abi_cap  # part of the cache key only; _probe_landlock reads it
    bwrap_path, bwrap_problem = _probe_bwrap(path_env)
    abi, landlock_problem = _probe_landlock()
    problems = tuple(problem for problem in (bwrap_problem, landlock_problem) if problem)
    if bwrap_path is not None:
        return Detection(BWRAP, bwrap_path=bwrap_path, landlock_abi=abi, problems=problems)
    if abi:
        log.warning(
            "sandbox: bubblewrap unavailable (%s); using the Landlock fallback, which does NOT "
            "protect .git/.codex inside writable roots, has no private /tmp, does not mediate "
            "chmod/utime outside and cannot kill daemonised grandchildren",
            bwrap_problem,
        )
        return Detection(LANDLOCK, landlock_abi=abi, problems=problems)
    return Detection(NONE, problems=problems)


def _detect_platform() -> Detection:
    if sys.platform == "darwin":
        if os.path.exists(SEATBELT_EXECUTABLE):
            return Detection(SEATBELT)
        return Detection(NONE, problems=(f"{SEATBELT_EXECUTABLE} is missing",))
    if sys.platform.startswith("linux"):
        return _detect_linux(os.environ.get("PATH", os.defpath), _abi_cap())
    if sys.platform == "win32":
        problem = "the Windows restricted-token sandbox is not supported on this platform yet"
    else:
        problem = f"command sandboxing is not supported on this platform ({sys.platform}) yet"
    return Detection(NONE, problems=(problem,))


def detect() -> Detection:
    """The backend to use now, honouring CODEX_SANDBOX_BACKEND. May block ~20 ms the first time."""
    override = os.environ.get(BACKEND_ENV, "").strip()
    if not override:
        return _detect_platform()
    if override not in _OVERRIDES:
        problem = f"{BACKEND_ENV}={override!r} is not one of {', '.join(_OVERRIDES)}"
        return Detection(NONE, problems=(problem,))
    if override == NONE:
        return Detection(NONE, problems=(f"{BACKEND_ENV}=none disables every sandbox backend",))
    found = _detect_platform()
    if override == BWRAP:
        if found.bwrap_path is None:
            return Detection(NONE, problems=_only(found.problems, "bubblewrap"))
        return Detection(BWRAP, bwrap_path=found.bwrap_path, landlock_abi=found.landlock_abi)
    if not found.landlock_abi:
        return Detection(NONE, problems=_only(found.problems, "Landlock"))
    return Detection(LANDLOCK, landlock_abi=found.landlock_abi)


def _only(problems: tuple[str, ...], keyword: str) -> tuple[str, ...]:
    relevant = tuple(problem for problem in problems if keyword in problem)
    return relevant or (f"{keyword} is not available",)


def available_backend() -> str:
    """ "bwrap" | "landlock" | "none" (or "seatbelt" on macOS), for status reports."""
    return detect().backend


def unavailable_error(detection: Detection, mode: str) -> SandboxUnavailable:
    reasons = "; ".join(detection.problems) or "no sandbox backend is available"
    hints = ""
    if sys.platform.startswith("linux") and os.environ.get(BACKEND_ENV, "").strip() != NONE:
        hints = f" To fix it, {INSTALL_BWRAP_HINT}, {LANDLOCK_HINT}."
    return SandboxUnavailable(
        f"Cannot run the command under the '{mode}' sandbox: {reasons}.{hints} "
        "The command was not run; choose 'danger-full-access' only if you trust it.",
        missing=detection.problems,
    )
