"""A tiny classic-BPF seccomp filter built with struct (no libseccomp dependency).

It always denies io_uring (IORING_OP_SOCKET creates sockets without socket(2), which would
bypass the socket rule) and, when network is off, denies socket(2) for every family (AF_UNIX
too: host pathname sockets are reachable through any mount) and socketpair(2) for every family
but AF_UNIX. Denied calls fail with EPERM; a foreign architecture (e.g. x32) is killed.
The same bytes go to bwrap (`--seccomp FD`) or to prctl in the fallback's preexec_fn.
"""

from __future__ import annotations

import errno
import os
import platform
import struct

import attrs

# BPF opcodes (linux/filter.h, linux/bpf_common.h).
_BPF_LD_W_ABS = 0x20
_BPF_JMP_JEQ_K = 0x15
_BPF_JMP_JGE_K = 0x35
_BPF_RET_K = 0x06

_SECCOMP_RET_KILL_PROCESS = 0x80000000
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_RET_ALLOW = 0x7FFF0000

# struct seccomp_data offsets: nr (u32), arch (u32), ip (u64), args[6] (u64, little-endian).
_OFFSET_NR = 0
_OFFSET_ARCH = 4
_OFFSET_ARG0_LOW = 16

_AF_UNIX = 1
_X32_SYSCALL_BIT = 0x40000000


@attrs.frozen
class _Arch:
    audit_arch: int
    socket: int
    socketpair: int
    reject_x32: bool


# io_uring_setup/enter/register are 425/426/427 on every architecture (unified numbering).
_IO_URING_SYSCALLS = (425, 426, 427)
_ARCHES = {
    "x86_64": _Arch(audit_arch=0xC000003E, socket=41, socketpair=53, reject_x32=True),
    "aarch64": _Arch(audit_arch=0xC00000B7, socket=198, socketpair=199, reject_x32=False),
}


def supported() -> bool:
    """Whether we know this machine's syscall numbers."""
    return platform.machine() in _ARCHES


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(*, deny_network: bool, machine: str | None = None) -> bytes:
    """The raw `struct sock_filter[]` program (8 bytes per instruction).

    Always denied: io_uring. With ``deny_network``: `socket(2)` for every family, AF_UNIX
    included (a pathname unix socket on the host, e.g. an editor's `--listen` socket, is a way
    out that no mount or network namespace closes), and `socketpair(2)` for every family but
    AF_UNIX (socketpair cannot reach anything outside: asyncio, multiprocessing keep working).
    """
    name = machine or platform.machine()
    arch = _ARCHES.get(name)
    if arch is None:
        raise OSError(errno.ENOSYS, f"no seccomp syscall table for {name}")
    deny = _SECCOMP_RET_ERRNO | errno.EPERM
    denied = list(_IO_URING_SYSCALLS)
    unix_only: list[int] = []
    if deny_network:
        denied.append(arch.socket)
        unix_only.append(arch.socketpair)

    program = [
        _insn(_BPF_LD_W_ABS, 0, 0, _OFFSET_ARCH),
        _insn(_BPF_JMP_JEQ_K, 1, 0, arch.audit_arch),
    ]
    program.append(_insn(_BPF_RET_K, 0, 0, _SECCOMP_RET_KILL_PROCESS))
    program.append(_insn(_BPF_LD_W_ABS, 0, 0, _OFFSET_NR))
    if arch.reject_x32:
        program.append(_insn(_BPF_JMP_JGE_K, 0, 1, _X32_SYSCALL_BIT))
        program.append(_insn(_BPF_RET_K, 0, 0, _SECCOMP_RET_KILL_PROCESS))
    # Layout after the checks: [deny jumps][unix-only jumps] ALLOW, DENY, [family check].
    checks = len(denied) + len(unix_only)
    for index, number in enumerate(denied):
        to_deny = checks - index  # skip the remaining checks and ALLOW
        program.append(_insn(_BPF_JMP_JEQ_K, to_deny, 0, number))
    for index, number in enumerate(unix_only):
        to_family_check = len(unix_only) - index + 1  # skip remaining checks, ALLOW, DENY
        program.append(_insn(_BPF_JMP_JEQ_K, to_family_check, 0, number))
    program.append(_insn(_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW))
    program.append(_insn(_BPF_RET_K, 0, 0, deny))
    if unix_only:
        program.append(_insn(_BPF_LD_W_ABS, 0, 0, _OFFSET_ARG0_LOW))
        program.append(_insn(_BPF_JMP_JEQ_K, 0, 1, _AF_UNIX))
        program.append(_insn(_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW))
        program.append(_insn(_BPF_RET_K, 0, 0, deny))
    return b"".join(program)


def filter_pipe(program: bytes) -> int:
    """A pipe read end holding the program, for bwrap's `--seccomp FD` (pass it in pass_fds).

    The program is far smaller than a pipe buffer, so the write never blocks.
    """
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, program)
    finally:
        os.close(write_end)
    return read_end
