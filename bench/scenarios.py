"""Benchmark scenarios. Each takes (tmp dir, quick) and returns a list of figures."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lspclient import LspClient
from stats import figure

Scenario = Callable[[Path, bool], Awaitable[list[dict[str, Any]]]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[name] = fn
        return fn

    return register


async def _time_command(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    await proc.wait()
    return (time.perf_counter() - start) * 1000


@scenario("startup")
async def startup(tmp: Path, quick: bool) -> list[dict[str, Any]]:
    """spawn → initialize response, against `python -c "import pygls.lsp.server"`; idle RSS."""
    runs = 5 if quick else 15
    baseline = [await _time_command([sys.executable, "-c", "import pygls.lsp.server"]) for _ in range(runs)]
    spawn: list[float] = []
    rss: list[float] = []
    for i in range(runs):
        home = tmp / f"home{i}"
        home.mkdir()
        start = time.perf_counter()
        client = await LspClient.spawn(home)
        await client.initialize()
        spawn.append((time.perf_counter() - start) * 1000)
        try:  # any answer means the deferred start-up (services, handlers) has finished
            await client.request("account/read", {})
        except Exception:  # noqa: BLE001
            pass
        await asyncio.sleep(0.2)
        rss.append(client.rss_kb()[0] / 1024)
        await client.close()
    overhead = [s - statistics.median(baseline) for s in spawn]
    return [
        figure("import pygls.lsp.server (baseline)", "ms", baseline, target="baseline", meets=None),
        figure("spawn -> initialize", "ms", spawn, target="baseline + 100 ms", meets=None),
        figure("our overhead on spawn -> initialize", "ms", overhead, target="<= 100 ms",
               meets=statistics.median(overhead) <= 100),
        figure("idle RSS after start-up", "MB", rss, target="<= 60 MB", meets=statistics.median(rss) <= 60),
    ]


@scenario("roundtrip")
async def roundtrip(tmp: Path, quick: bool) -> list[dict[str, Any]]:
    """Sequential custom-request round trips (`account/read`, answered from memory)."""
    calls = 300 if quick else 2000
    client = await LspClient.spawn(tmp)
    try:
        await client.initialize()
        for _ in range(100):  # warm-up
            await client.request("account/read", {})
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            await client.request("account/read", {})
            times.append((time.perf_counter() - start) * 1000)
        peak = client.rss_kb()[1] / 1024
    finally:
        await client.close()
    return [
        figure("custom request round trip (account/read)", "ms", times, target="median <= 0.5 ms",
               meets=statistics.median(times) <= 0.5),
        figure("peak RSS after round trips", "MB", [peak], target="report", meets=None),
    ]


@scenario("sandbox_spawn")
async def sandbox_spawn(tmp: Path, quick: bool) -> list[dict[str, Any]]:
    """Plain spawn of `true` vs the bwrap read-only sandbox (codex_lsp.sandbox.bench)."""
    from codex_lsp.sandbox import bench as sandbox_bench
    from codex_lsp.sandbox.detect import detect

    n = 20 if quick else 100
    plain = await asyncio.to_thread(sandbox_bench._time_plain, n)
    figures = [figure("plain spawn of true", "ms", plain, target="baseline", meets=None)]
    detection = detect()
    if detection.bwrap_path:
        samples = await asyncio.to_thread(sandbox_bench._time_bwrap, n, detection.bwrap_path)
        figures.append(figure("bwrap sandboxed spawn of true", "ms", samples, target="median <= 10 ms",
                              meets=statistics.median(samples) <= 10))
    else:
        figures.append({"name": "bwrap sandboxed spawn of true", "error": "bubblewrap not installed"})
    return figures
