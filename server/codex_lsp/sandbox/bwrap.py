"""The bubblewrap argument builder: a pure function from a layout to an argv.

Hardened for root (see /work/shared/reference/linux-sandbox.md §3.1): `--cap-drop ALL` stops
`mount -o remount,rw /`, and `--remount-ro /proc` stops global sysctl writes through
/proc/sys. `--tmpfs /tmp` comes before any bind under /tmp, or writes vanish into the tmpfs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from codex_lsp.sandbox.layout import FilesystemLayout

DEV_NULL = "/dev/null"
TMP = Path("/tmp")
# Where host daemons keep their unix sockets (/var/run is a link to /run on current systems):
# hidden behind an empty tmpfs when network is off, on top of the seccomp socket(2) denial.
RUN = Path("/run")


def _under(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def _socket_dirs(layout: FilesystemLayout, cwd: Path, runtime_dirs: Sequence[Path]) -> list[Path]:
    """/run and $XDG_RUNTIME_DIR, unless the command must see them (cwd or a root inside)."""
    visible = [cwd, *(root.path for root in layout.writable_roots)]
    masked: list[Path] = []
    for path in (RUN, *runtime_dirs):
        if not path.is_absolute() or not path.is_dir() or path.is_symlink():
            continue
        if any(_under(other, path) or _under(path, other) for other in visible):
            continue
        if any(_under(path, done) for done in masked):
            continue
        masked.append(path)
    return masked


def _filesystem_args(
    layout: FilesystemLayout, cwd: Path, runtime_dirs: Sequence[Path] = ()
) -> list[str]:
    args = ["--ro-bind", "/", "/"]
    if not layout.network_access:
        for path in _socket_dirs(layout, cwd, runtime_dirs):
            args += ["--tmpfs", str(path)]
    if layout.host_tmp_writable:
        args += ["--bind", "/tmp", "/tmp"]
    else:
        args += ["--tmpfs", "/tmp"]
        # The private tmpfs would hide a cwd that lives under /tmp: show it again, read-only.
        in_roots = any(_under(cwd, root.path) for root in layout.writable_roots)
        if _under(cwd, TMP) and not in_roots:
            args += ["--ro-bind", str(cwd), str(cwd)]
    # Parents first, so a nested root's bind lands on top of its parent's. Pinned directories
    # (between a root and a protected path or nested root) become mount points: not renameable.
    binds = {root.path: None for root in layout.writable_roots if root.path != TMP}
    for root in layout.writable_roots:
        binds.update(dict.fromkeys(root.pinned_paths))
    for path in sorted(binds, key=lambda p: (len(p.parts), str(p))):
        args += ["--bind", str(path), str(path)]
    # Protected paths last, so no writable bind covers them again.
    for root in layout.writable_roots:
        for path in root.read_only_paths:
            args += ["--ro-bind", str(path), str(path)]
        for path in root.blocked_paths:
            args += ["--ro-bind", DEV_NULL, str(path)]
    # After every bind, so even a writable root of "/" cannot expose a writable /proc/sys.
    args += ["--dev", "/dev", "--proc", "/proc", "--remount-ro", "/proc"]
    return args


def build_bwrap_args(
    argv: Sequence[str],
    *,
    layout: FilesystemLayout,
    cwd: Path,
    is_root: bool,
    seccomp_fd: int | None = None,
    bwrap_path: str = "bwrap",
    runtime_dirs: Sequence[Path] = (),
) -> list[str]:
    """The full command line: `bwrap <options> -- argv`.

    ``runtime_dirs`` ($XDG_RUNTIME_DIR) are hidden like /run when network is off.
    """
    args = [bwrap_path, *_filesystem_args(layout, cwd, runtime_dirs)]
    if not layout.network_access:
        args.append("--unshare-net")
    args += ["--unshare-pid", "--die-with-parent", "--new-session"]
    if is_root:
        args += ["--cap-drop", "ALL"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    args += ["--chdir", str(cwd), "--", *argv]
    return args


def probe_args(bwrap_path: str, *, is_root: bool) -> list[str]:
    """A minimal run that fails where user namespaces are off or /proc cannot be mounted."""
    args = [bwrap_path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    args += ["--unshare-net", "--unshare-pid"]
    if is_root:
        args += ["--cap-drop", "ALL"]
    return [*args, "--", "true"]
