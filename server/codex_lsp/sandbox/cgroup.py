"""A throw-away cgroup v2 per command for the Landlock fallback as root: it has no pid
namespace, so a daemonised (setsid) child would outlive the command; `cgroup.kill` ends every
process in the cgroup at once, wherever it has moved in the process tree.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

# cgroup v2 mount points: pure v2, or the "unified" half of a hybrid v1/v2 system.
_MOUNTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))
_EMPTY_WAIT_S = 1.0


def _cgroup2_root() -> Path | None:
    for mount in _MOUNTS:
        # cgroup.controllers exists only on cgroup v2; cgroup.kill needs Linux 5.14+.
        if (mount / "cgroup.controllers").exists() and os.access(mount, os.W_OK):
            return mount
    return None


def available() -> bool:
    return os.geteuid() == 0 and _cgroup2_root() is not None


def create() -> Path | None:
    """A fresh cgroup for one command, or None (not root, no cgroup v2, no cgroup.kill)."""
    root = _cgroup2_root() if os.geteuid() == 0 else None
    if root is None:
        return None
    path = root / f"codex-lsp-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    try:
        path.mkdir()
    except OSError as error:
        log.info("sandbox: cannot create a cgroup for the command (%s)", error.strerror)
        return None
    if not (path / "cgroup.kill").exists():
        path.rmdir()
        return None
    return path


def kill_and_remove(path: Path) -> None:
    """SIGKILL everything left in the cgroup, wait (bounded) until it is empty, remove it."""
    try:
        (path / "cgroup.kill").write_text("1")
        deadline = time.monotonic() + _EMPTY_WAIT_S
        while (path / "cgroup.procs").read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.01)
        path.rmdir()
    except OSError as error:
        log.warning("sandbox: could not clean up cgroup %s (%s)", path, error.strerror)
