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

import attrs

from codex_lsp.sandbox import seccomp
from codex_lsp.sandbox.layout import FilesystemLayout

# Syscall numbers: landlock_* are unified (444-446); unshare and capset differ per arch.
_SYS = {
    "x86_64": {"unshare": 272, "capset": 126},
    "aarch64": {"unshare": 97, "capset": 91},
}
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


def prepare_confinement(layout: FilesystemLayout, *, abi: int) -> Confinement:
    """Build the preexec_fn that confines the child just before exec."""
    sys_unshare, sys_capset = (_SYS[platform.machine()][name] for name in ("unshare", "capset"))
    deny_network = not layout.network_access
    is_root = os.geteuid() == 0
    fs_rights = _fs_rights(abi)
    dir_paths = [str(root.path) for root in layout.writable_roots] + [_DEV_SHM]
    dir_rules, fds = _open_rules(dir_paths, fs_rights)
    file_rules, file_fds = _open_rules([_DEV_NULL], _file_rights(abi))
    fds.extend(file_fds)
    rules = dir_rules + file_rules

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
    syscall, prctl = _libc.syscall, _libc.prctl

    def confine() -> None:  # runs in the forked child: raw ctypes calls only
        if unshare_flags:
            _check(syscall(sys_unshare, unshare_flags), "unshare")
        _check(prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        ruleset_fd = syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(ruleset), ruleset_size, 0)
        _check(ruleset_fd, "landlock_create_ruleset")
        for rule in rules:
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
    confine.__dict__["_keepalive"] = (program_buffer, rules, ruleset, cap_header, cap_data)
    return Confinement(preexec_fn=confine, fds=fds)


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return 40
