"""Network smoke tests (reference §7 "network"): a real listener on 127.0.0.1 records arrivals.

Every denial asserts a non-zero exit AND that the listener received nothing; the "allowed" cases
are the positive controls proving the listener and probes really work.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sandbox_support import Dirs, Listener, run, settle

from codex_lsp.sandbox.policy import ReadOnly, SandboxPolicy, WorkspaceWrite

TCP_PROBE = (
    "import socket, sys\n"
    "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=3)\n"
    "s.sendall(b'tcp-probe')\n"
    "s.close()\n"
)
UDP_PROBE = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "for _ in range(3):\n"
    "    s.sendto(b'udp-probe', ('127.0.0.1', int(sys.argv[1])))\n"
)
NO_NETWORK: list[SandboxPolicy] = [ReadOnly(), WorkspaceWrite()]
IDS = ["ro", "ws"]


@pytest.mark.parametrize("policy", NO_NETWORK, ids=IDS)
async def test_tcp_connect_denied(
    backend: str, dirs: Dirs, listener: Listener, policy: SandboxPolicy
) -> None:
    result = await run([sys.executable, "-c", TCP_PROBE, str(listener.port)], dirs.ws, policy)
    await settle()
    assert result.exit_code != 0
    assert listener.tcp_connections == 0


@pytest.mark.parametrize("policy", NO_NETWORK, ids=IDS)
async def test_udp_send_never_arrives(
    backend: str, dirs: Dirs, listener: Listener, policy: SandboxPolicy
) -> None:
    result = await run([sys.executable, "-c", UDP_PROBE, str(listener.port)], dirs.ws, policy)
    await settle()
    assert result.exit_code != 0  # seccomp refuses the AF_INET socket under both backends
    assert listener.udp_datagrams == []


async def test_bash_dev_tcp_denied(backend: str, dirs: Dirs, listener: Listener) -> None:
    result = await run(
        ["bash", "-c", f"echo dev-tcp > /dev/tcp/127.0.0.1/{listener.port}"],
        dirs.ws,
        WorkspaceWrite(),
    )
    await settle()
    assert result.exit_code != 0
    assert listener.tcp_connections == 0


async def test_io_uring_socket_trick_denied(
    backend: str, dirs: Dirs, listener: Listener, io_uring_probe: Path
) -> None:
    result = await run([str(io_uring_probe), str(listener.port)], dirs.ws, WorkspaceWrite())
    await settle()
    assert result.exit_code not in (0, 64)  # 64 would mean the probe was called wrongly
    assert "connected" not in result.stdout
    assert listener.tcp_connections == 0


async def test_network_allowed_tcp_and_udp_arrive(
    backend: str, dirs: Dirs, listener: Listener
) -> None:
    policy = WorkspaceWrite(network_access=True)
    tcp = await run([sys.executable, "-c", TCP_PROBE, str(listener.port)], dirs.ws, policy)
    udp = await run([sys.executable, "-c", UDP_PROBE, str(listener.port)], dirs.ws, policy)
    await settle()
    assert tcp.exit_code == 0, tcp.stderr
    assert udp.exit_code == 0, udp.stderr
    assert listener.tcp_connections == 1
    assert bytes(listener.tcp_payload) == b"tcp-probe"
    assert b"udp-probe" in listener.udp_datagrams


async def test_network_allowed_still_denies_io_uring(
    backend: str, dirs: Dirs, listener: Listener, io_uring_probe: Path
) -> None:
    result = await run(
        [str(io_uring_probe), str(listener.port)], dirs.ws, WorkspaceWrite(network_access=True)
    )
    await settle()
    assert result.exit_code == 2  # io_uring_setup refused by seccomp
    assert listener.tcp_connections == 0


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(ReadOnly(), "1"), (WorkspaceWrite(network_access=True), "unset")],
    ids=["off", "on"],
)
async def test_network_disabled_env_var(
    backend: str, dirs: Dirs, policy: SandboxPolicy, expected: str
) -> None:
    result = await run(
        ["sh", "-c", 'echo "${CODEX_SANDBOX_NETWORK_DISABLED:-unset}"'],
        dirs.ws,
        policy,
        env={"CODEX_SANDBOX_NETWORK_DISABLED": "stale"},
    )
    assert result.exit_code == 0
    assert result.stdout.strip() == expected
