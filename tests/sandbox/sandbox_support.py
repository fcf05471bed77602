"""Helpers shared by the sandbox tests (importable as `sandbox_support`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from codex_lsp.sandbox.policy import SandboxPolicy
from codex_lsp.sandbox.runner import CommandResult, run_command

SCRATCH_PARENT = Path("/var/tmp")

IO_URING_PROBE_SOURCE = r"""
/* Create a TCP socket with io_uring IORING_OP_SOCKET (no socket(2) call), then connect it.
 * Exit codes: 0 connected (breach), 2 io_uring_setup failed, 3 mmap failed,
 * 4 the socket op failed, 5 connect failed. */
#include <arpa/inet.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 64;
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    int ring = syscall(__NR_io_uring_setup, 4, &params);
    if (ring < 0) { perror("io_uring_setup"); return 2; }
    size_t sq_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    size_t cq_size = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
    char *sq = mmap(0, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
    char *cq = mmap(0, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
    struct io_uring_sqe *sqes = mmap(0, params.sq_entries * sizeof(struct io_uring_sqe),
                                     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
    if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) { perror("mmap"); return 3; }
    memset(&sqes[0], 0, sizeof sqes[0]);
    sqes[0].opcode = IORING_OP_SOCKET;
    sqes[0].fd = AF_INET;
    sqes[0].off = SOCK_STREAM;
    unsigned *tail = (unsigned *)(sq + params.sq_off.tail);
    unsigned *array = (unsigned *)(sq + params.sq_off.array);
    array[*tail & *(unsigned *)(sq + params.sq_off.ring_mask)] = 0;
    __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
    if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
        perror("io_uring_enter"); return 4;
    }
    struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + params.cq_off.cqes);
    unsigned head = *(unsigned *)(cq + params.cq_off.head);
    int fd = cqes[head & *(unsigned *)(cq + params.cq_off.ring_mask)].res;
    if (fd < 0) { fprintf(stderr, "IORING_OP_SOCKET: %s\n", strerror(-fd)); return 4; }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("connect"); return 5; }
    write(fd, "uring", 5);
    puts("connected");
    return 0;
}
"""


@attrs.define
class Dirs:
    """A workspace (the command's cwd) and an OUTSIDE directory next to it."""

    base: Path
    ws: Path
    outside: Path


@attrs.define
class Listener:
    """TCP and UDP on the same 127.0.0.1 port, recording what arrives."""

    port: int
    tcp_connections: int = 0
    tcp_payload: bytearray = attrs.field(factory=bytearray)
    udp_datagrams: list[bytes] = attrs.field(factory=list)


class UdpRecorder(asyncio.DatagramProtocol):
    def __init__(self, listener: Listener) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.listener.udp_datagrams.append(data)


async def settle() -> None:
    """Give the in-loop listener a moment to record anything already in flight."""
    await asyncio.sleep(0.1)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def processes_with(marker: str) -> list[int]:
    """Live pids whose command line contains marker (zombies excluded)."""
    needle = marker.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline and pid_alive(int(entry)):
            found.append(int(entry))
    return found


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Poll predicate every 20 ms for at most timeout_s; return its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


async def run(argv: list[str], cwd: Path, policy: SandboxPolicy, **kwargs: Any) -> CommandResult:
    """run_command with a test-sized timeout."""
    kwargs.setdefault("timeout_s", 15.0)
    return await run_command(argv, cwd=cwd, policy=policy, **kwargs)


def sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def mounts_protect(backend: str) -> bool:
    """Whether read-only mounts enforce the policy: always under bwrap; under the Landlock
    fallback only as root, which builds a private mount namespace (issue 15). The unprivileged
    fallback keeps the documented gaps (.git writable, metadata unmediated, host /tmp)."""
    return backend == "bwrap" or os.geteuid() == 0


# ---- code another user can import ---------------------------------------------------------------

_IMPORTED_FROM = """
import sys, {module}
roots = [p for p in sys.path if p.endswith("site-packages")]
seen = set()
for m in list(sys.modules.values()):
    f = getattr(m, "__file__", None) or ""
    for root in roots:
        if f.startswith(root + "/"):
            seen.add(root + "/" + f[len(root) + 1:].split("/")[0])
print("\\n".join(sorted(seen)))
"""


def readable_pythonpath(dest: Path, module: str = "codex_lsp.sandbox") -> str:
    """Copy ``codex_lsp`` and the third-party modules ``module`` imports into ``dest`` and make
    them world-readable: a non-root user can't import them from the checkout when it lives
    under a directory only its owner may enter (a `mktemp -d` clone, a home directory)."""
    import codex_lsp

    found = subprocess.run(
        [sys.executable, "-c", _IMPORTED_FROM.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    dest.mkdir(parents=True)
    for source in [Path(codex_lsp.__file__).parent, *map(Path, found)]:
        target = dest / source.name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return str(dest)


def sandbox_python() -> str:
    """A Python (stdlib only) that sandboxed commands can see. Not the venv's: the checkout, and
    with it the venv, may live under /tmp, which read-only sandboxes replace with a private tmpfs."""
    for candidate in (os.path.realpath(sys.executable), "/usr/bin/python3"):
        if not Path(candidate).is_relative_to("/tmp") and os.access(candidate, os.X_OK):
            return candidate
    raise AssertionError("no Python outside /tmp for sandboxed commands")


def system_python() -> str:
    """A python3 other users can run (the venv's may sit under a directory only root enters)."""
    for candidate in ("/usr/bin/python3.11", "/usr/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    raise AssertionError("a python3 readable by other users is needed for the non-root case")


# Everything the whole server imports, also lazily (HTTP stack, history, search).
SERVER_MODULES = (
    "codex_lsp.app, codex_lsp.cli, codex_lsp.services, codex_lsp.turns.threads, "
    "codex_lsp.handlers, codex_lsp.sandbox.landlock, httpx, httpx_sse, anyio, h11, httpcore, "
    "idna, certifi, orjson, pathspec, keyring, jwt"
)
