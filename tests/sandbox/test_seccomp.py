"""The hand-built BPF filter: its shape, and its effect when installed in a real child."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_support import Listener, settle

from codex_lsp.sandbox import seccomp
from codex_lsp.sandbox.landlock import _libc

SOCKET_PROBE = """
import socket, sys
family = {"inet": socket.AF_INET, "inet6": socket.AF_INET6, "unix": socket.AF_UNIX}[sys.argv[2]]
try:
    if sys.argv[1] == "pair":
        for end in socket.socketpair(family):
            end.close()
    else:
        socket.socket(family, socket.SOCK_DGRAM).close()
except PermissionError:
    sys.exit(13)
except OSError:
    sys.exit(22)  # e.g. socketpair(AF_INET) is not supported by the kernel at all
"""


def _instructions(program: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]


def test_filter_shape() -> None:
    no_net = _instructions(seccomp.build_filter(deny_network=True, machine="x86_64"))
    net = _instructions(seccomp.build_filter(deny_network=False, machine="x86_64"))
    assert no_net[0] == (0x20, 0, 0, 4)  # load arch
    assert no_net[1][3] == 0xC000003E
    denied_numbers = {insn[3] for insn in net if insn[0] == 0x15}
    assert {425, 426, 427} <= denied_numbers
    assert 41 not in denied_numbers  # socket allowed when network is on
    assert {41, 53, 1} <= {insn[3] for insn in no_net if insn[0] == 0x15}  # 1: AF_UNIX check
    # Every jump lands inside the program.
    for index, (code, jt, jf, _k) in enumerate(no_net):
        if code in (0x15, 0x35):
            assert index + 1 + max(jt, jf) < len(no_net)
    with pytest.raises(OSError):
        seccomp.build_filter(deny_network=True, machine="sparc")


def _run_with_filter(argv: list[str], *, deny_network: bool) -> subprocess.CompletedProcess[bytes]:
    import ctypes

    program = seccomp.build_filter(deny_network=deny_network)
    buffer = ctypes.create_string_buffer(program, len(program))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Fprog(len(program) // 8, ctypes.addressof(buffer))

    def install() -> None:
        if _libc.prctl(38, 1, 0, 0, 0) != 0 or _libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "seccomp install failed")

    return subprocess.run(argv, preexec_fn=install, capture_output=True, timeout=20)


@pytest.mark.parametrize(
    ("call", "family", "expected"),
    [
        ("socket", "inet", 13),
        ("socket", "inet6", 13),
        ("socket", "unix", 13),  # host pathname sockets are a way out (issue 15, finding 2)
        ("pair", "unix", 0),  # socketpair reaches nothing outside: asyncio, multiprocessing
        ("pair", "inet", 13),
    ],
)
def test_filter_denies_every_socket_but_unix_socketpairs(
    call: str, family: str, expected: int
) -> None:
    argv = [sys.executable, "-c", SOCKET_PROBE, call, family]
    result = _run_with_filter(argv, deny_network=True)
    assert result.returncode == expected, result.stderr
    assert _run_with_filter(argv, deny_network=False).returncode in (0, 22)


async def test_filter_alone_stops_the_io_uring_socket_trick(
    io_uring_probe: Path, listener: Listener
) -> None:
    import asyncio

    # Positive control: without the filter the probe really connects to the host listener.
    control = await asyncio.to_thread(
        subprocess.run, [str(io_uring_probe), str(listener.port)], capture_output=True, timeout=20
    )
    await settle()
    assert control.returncode == 0, control.stderr
    assert listener.tcp_connections == 1
    filtered = await asyncio.to_thread(
        _run_with_filter, [str(io_uring_probe), str(listener.port)], deny_network=False
    )
    await settle()
    assert filtered.returncode == 2  # io_uring_setup denied even with network allowed
    assert b"Operation not permitted" in filtered.stderr
    assert listener.tcp_connections == 1
