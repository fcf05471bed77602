"""Shared fixtures for the sandbox smoke suite: real directories, listeners and backends.

Workspaces live under /var/tmp, not /tmp: workspace-write makes /tmp writable by default, so an
OUTSIDE directory under /tmp would not test anything.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sandbox_support import IO_URING_PROBE_SOURCE, SCRATCH_PARENT, Dirs, Listener, UdpRecorder

from codex_lsp.sandbox.detect import BACKEND_ENV

BACKENDS = ("bwrap", "landlock")


@pytest.fixture
def dirs() -> Iterator[Dirs]:
    base = Path(tempfile.mkdtemp(prefix="codex-sbx-", dir=SCRATCH_PARENT))
    ws, outside = base / "ws", base / "outside"
    ws.mkdir()
    outside.mkdir()
    base.chmod(0o755)
    yield Dirs(base=base, ws=ws, outside=outside)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once per Linux backend, forced through CODEX_SANDBOX_BACKEND."""
    name: str = request.param
    monkeypatch.setenv(BACKEND_ENV, name)
    return name


@pytest.fixture
def bwrap_only(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(BACKEND_ENV, "bwrap")
    return "bwrap"


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    record = Listener(port=0)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        record.tcp_connections += 1
        try:
            async with asyncio.timeout(2):
                record.tcp_payload += await reader.read(1024)
        except TimeoutError:
            pass
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    record.port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: UdpRecorder(record), local_addr=("127.0.0.1", record.port)
    )
    yield record
    transport.close()
    server.close()
    await asyncio.wait_for(server.wait_closed(), 5)


@pytest.fixture(scope="session")
def io_uring_probe() -> Iterator[Path]:
    """The compiled io_uring socket probe, outside /tmp so every sandbox can see it."""
    build = Path(tempfile.mkdtemp(prefix="codex-sbx-probe-", dir=SCRATCH_PARENT))
    build.chmod(0o755)
    source = build / "uring_probe.c"
    source.write_text(IO_URING_PROBE_SOURCE)
    binary = build / "uring_probe"
    subprocess.run(["gcc", "-O1", "-o", str(binary), str(source)], check=True, timeout=60)
    yield binary
    shutil.rmtree(build, ignore_errors=True)
