"""Fallback backend when bubblewrap is absent: netns + Landlock + seccomp + no capabilities.

Everything the child needs (structs, open directory fds, the BPF program) is prepared in the
parent by `prepare_confinement`; the returned `preexec_fn` only makes raw ctypes calls.

Gaps compared with bwrap (stated in protocol-docs/sandbox.md): `.git`/`.codex` inside a writable
root stay writable, metadata (chmod, utime, xattr) outside is not mediated, there is no private
/tmp and no pid namespace (daemonised grandchildren outlive the command).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from collections.abc import Callable
from pathlib import Path

import attrs

from codex_lsp.sandbox import seccomp
from codex_lsp.sandbox.layout import FilesystemLayout

# Syscall numbers: landlock_* are unified (444-446); unshare and capset differ per arch.
_SYS = {
    "x86_64": {"unshare": 272, "capset": 126, "mount": 165},
    "aarch64": {"unshare": 97, "capset": 91, "mount": 40},
}
_SYS_MOUNT_SETATTR = 442  # unified
_CLONE_NEWNS = 0x00020000
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000
_MOUNT_ATTR_RDONLY = 0x1
_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000

_PR_SET_NO_NEW_PRIVS = 38
_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# Landlock filesystem rights that modify the tree (reads and exec are left unhandled).
_WRITE_FILE = 1 << 1
_REMOVE_DIR = 1 << 4
_REMOVE_FILE = 1 << 5
_MAKE_ALL = sum(1 << bit for bit in range(6, 13))  # CHAR DIR REG SOCK FIFO BLOCK SYM
_REFER = 1 << 13  # ABI 2
_TRUNCATE = 1 << 14  # ABI 3
_NET_BIND_TCP = 1 << 0  # ABI 4
_NET_CONNECT_TCP = 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
_SCOPE_SIGNAL = 1 << 1

_O_PATH = 0o10000000

# Writable besides the roots: /dev/null (file rights only) and /dev/shm for multiprocessing.
_DEV_NULL = "/dev/null"
_DEV_SHM = "/dev/shm"


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _SockFilterProgram(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int
_libc.open.restype = ctypes.c_int
_libc.chdir.restype = ctypes.c_int


def libc() -> ctypes.CDLL:
    """The C library handle (errno enabled), shared with the runner's preexec steps."""
    return _libc


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is unavailable."""
    if platform.system() != "Linux":
        return 0
    version = _libc.syscall(
        ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET),
        None,
        ctypes.c_size_t(0),
        ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION),
    )
    return max(int(version), 0)


def supported_machine() -> bool:
    return platform.machine() in _SYS and seccomp.supported()


def _fs_rights(abi: int) -> int:
    rights = _WRITE_FILE | _REMOVE_DIR | _REMOVE_FILE | _MAKE_ALL
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    return rights


def _file_rights(abi: int) -> int:
    return _WRITE_FILE | (_TRUNCATE if abi >= 3 else 0)


def _ruleset_size(abi: int) -> int:
    if abi >= 6:
        return 24
    return 16 if abi >= 4 else 8


@attrs.define
class Confinement:
    """Prepared state for one spawn. Call `close()` in the parent after the spawn."""

    preexec_fn: Callable[[], None]
    fds: list[int]

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()


def _check(result: int, what: str) -> None:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"sandbox setup failed at {what}")


def _open_rules(paths: list[str], rights: int) -> tuple[list[_PathBeneathAttr], list[int]]:
    rules: list[_PathBeneathAttr] = []
    fds: list[int] = []
    for path in paths:
        try:
            fd = os.open(path, _O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        fds.append(fd)
        rules.append(_PathBeneathAttr(allowed_access=rights, parent_fd=fd))
    return rules, fds


def _parents_first(paths: list[Path]) -> list[Path]:
    return sorted(dict.fromkeys(paths), key=lambda p: (len(p.parts), str(p)))


def _under(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


@attrs.frozen
class MountPlan:
    """The private mount namespace the fallback builds as root (see `prepare_confinement`)."""

    binds: tuple[tuple[bytes, bytes], ...]  # (source, target), mounted in this order
    writable: tuple[bytes, ...]  # writable roots: read-only cleared beneath them
    protected: tuple[bytes, ...]  # .git, .codex (existing or blocked): read-only again
    private_tmpfs: tuple[bytes, ...]  # fresh, writable, granted to the command


def mount_plan(layout: FilesystemLayout, cwd: Path) -> MountPlan:
    """Everything read-only, writable roots rw, protected paths read-only, a private /dev/shm
    (and /tmp, when neither cwd nor a writable root lives there). Read-only mounts also stop
    chmod/chown/utime/xattr outside the roots, which Landlock does not mediate."""
    roots = [root.path for root in layout.writable_roots]
    pins = [pin for root in layout.writable_roots for pin in root.pinned_paths]
    protected = [path for root in layout.writable_roots for path in root.read_only_paths]
    blocked = [path for root in layout.writable_roots for path in root.blocked_paths]
    binds = [(path, path) for path in _parents_first(roots + pins)]
    binds += [(path, path) for path in protected]
    binds += [(Path(_DEV_NULL), path) for path in blocked]
    tmpfs = [Path(_DEV_SHM)] if os.path.isdir(_DEV_SHM) and not os.path.islink(_DEV_SHM) else []
    tmp = Path("/tmp")
    if not any(_under(path, tmp) for path in [cwd, *roots]):
        tmpfs.append(tmp)
    return MountPlan(
        binds=tuple((bytes(src), bytes(dst)) for src, dst in binds),
        writable=tuple(bytes(path) for path in _parents_first(roots)),
        protected=tuple(bytes(path) for path in [*protected, *blocked]),
        private_tmpfs=tuple(bytes(path) for path in tmpfs),
    )


def prepare_confinement(
    layout: FilesystemLayout, *, abi: int, cwd: Path, cgroup_procs: Path | None = None
) -> Confinement:
    """Build the preexec_fn that confines the child just before exec.

    As root the child first gets a private mount namespace (`mount_plan`): that is what keeps
    `.git` read-only and metadata changes outside the roots impossible on this backend.
    """
    names = ("unshare", "capset", "mount")
    sys_unshare, sys_capset, sys_mount = (_SYS[platform.machine()][name] for name in names)
    deny_network = not layout.network_access
    is_root = os.geteuid() == 0
    fs_rights = _fs_rights(abi)
    plan = mount_plan(layout, cwd) if is_root else None
    dir_paths = [str(root.path) for root in layout.writable_roots]
    if plan is None and layout.writable_roots:
        # Unprivileged: the host /dev/shm (multiprocessing needs it), never in read-only mode.
        dir_paths.append(_DEV_SHM)
    dir_rules, fds = _open_rules(dir_paths, fs_rights)
    file_rules, file_fds = _open_rules([_DEV_NULL], _file_rights(abi))
    fds.extend(file_fds)
    rules = dir_rules + file_rules
    # Rules for the private tmpfs mounts get their fd in the child, once the mount exists.
    tmpfs_rules = [
        _PathBeneathAttr(allowed_access=fs_rights, parent_fd=-1)
        for _ in (plan.private_tmpfs if plan else ())
    ]

    ruleset = _RulesetAttr(handled_access_fs=fs_rights)
    if abi >= 4 and deny_network:
        ruleset.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP
    if abi >= 6:
        ruleset.scoped = _SCOPE_SIGNAL | (_SCOPE_ABSTRACT_UNIX_SOCKET if deny_network else 0)
    ruleset_size = _ruleset_size(abi)

    program = seccomp.build_filter(deny_network=deny_network)
    program_buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFilterProgram(len=len(program) // 8, filter=ctypes.addressof(program_buffer))
    cap_header = _CapHeader(version=_LINUX_CAPABILITY_VERSION_3, pid=0)
    cap_data = (_CapData * 2)()
    last_cap = _last_capability()
    unshare_flags = (_CLONE_NEWNET | (0 if is_root else _CLONE_NEWUSER)) if deny_network else 0
    if plan is not None:
        unshare_flags |= _CLONE_NEWNS
    read_only = _MountAttr(attr_set=_MOUNT_ATTR_RDONLY)
    read_write = _MountAttr(attr_clr=_MOUNT_ATTR_RDONLY)
    attr_size = ctypes.sizeof(_MountAttr)
    cwd_bytes = bytes(cwd)
    syscall, prctl = _libc.syscall, _libc.prctl

    def build_mounts() -> None:  # the child's private mount namespace (root only)
        assert plan is not None
        _check(syscall(sys_mount, None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount private")
        for source, target in plan.binds:
            _check(syscall(sys_mount, source, target, None, _MS_BIND | _MS_REC, None), "bind")
        everything = syscall(
            _SYS_MOUNT_SETATTR, _AT_FDCWD, b"/", _AT_RECURSIVE, ctypes.byref(read_only), attr_size
        )
        _check(everything, "mount_setattr /")
        for path in plan.writable:
            result = syscall(
                _SYS_MOUNT_SETATTR,
                _AT_FDCWD,
                path,
                _AT_RECURSIVE,
                ctypes.byref(read_write),
                attr_size,
            )
            _check(result, "mount_setattr root")
        for path in plan.protected:
            result = syscall(
                _SYS_MOUNT_SETATTR,
                _AT_FDCWD,
                path,
                _AT_RECURSIVE,
                ctypes.byref(read_only),
                attr_size,
            )
            _check(result, "mount_setattr protected")
        for path, rule in zip(plan.private_tmpfs, tmpfs_rules, strict=True):
            flags = _MS_NOSUID | _MS_NODEV
            _check(syscall(sys_mount, b"tmpfs", path, b"tmpfs", flags, b"mode=1777"), "tmpfs")
            fd = _libc.open(path, _O_PATH | os.O_CLOEXEC)
            _check(fd, "open tmpfs")
            rule.parent_fd = fd
        # The cwd was entered before the binds: enter it again through the new mounts.
        _check(_libc.chdir(cwd_bytes), "chdir")

    join_cgroup = bytes(cgroup_procs) if cgroup_procs is not None else None

    def confine() -> None:  # runs in the forked child: raw ctypes calls only
        if join_cgroup is not None:  # first: /sys is read-only after build_mounts
            fd = _libc.open(join_cgroup, os.O_WRONLY | os.O_CLOEXEC)
            _check(fd, "open cgroup.procs")
            _check(_libc.write(fd, b"0", 1), "join cgroup")
            _libc.close(fd)
        if unshare_flags:
            _check(syscall(sys_unshare, unshare_flags), "unshare")
        if plan is not None:
            build_mounts()
        _check(prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        ruleset_fd = syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(ruleset), ruleset_size, 0)
        _check(ruleset_fd, "landlock_create_ruleset")
        for rule in [*rules, *tmpfs_rules]:
            _check(
                syscall(
                    _SYS_LANDLOCK_ADD_RULE,
                    ruleset_fd,
                    _LANDLOCK_RULE_PATH_BENEATH,
                    ctypes.byref(rule),
                    0,
                ),
                "landlock_add_rule",
            )
        _check(syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset_fd, 0), "landlock_restrict_self")
        _libc.close(ruleset_fd)
        if is_root:
            for cap in range(last_cap + 1):
                _check(prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0), "capbset_drop")
            _check(prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "ambient_clear")
            _check(syscall(sys_capset, ctypes.byref(cap_header), cap_data), "capset")
        _check(prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")

    # Keep the buffers alive as long as the closure.
    keep = (
        program_buffer,
        rules,
        tmpfs_rules,
        ruleset,
        cap_header,
        cap_data,
        read_only,
        read_write,
    )
    confine.__dict__["_keepalive"] = keep
    return Confinement(preexec_fn=confine, fds=fds)


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return 40
