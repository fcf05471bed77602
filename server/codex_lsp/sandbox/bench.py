"""Spawn-cost measurement for the benchmark suite: plain `true` vs `true` under bwrap (read-only).

Synchronous and blocking on purpose (it is a benchmark): never call it on the event loop.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from codex_lsp.sandbox import landlock, seccomp
from codex_lsp.sandbox.bwrap import build_bwrap_args
from codex_lsp.sandbox.detect import BWRAP, detect
from codex_lsp.sandbox.layout import compute_layout
from codex_lsp.sandbox.policy import ReadOnly


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p99_index = min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))
    return {"median_ms": statistics.median(ordered), "p99_ms": ordered[p99_index]}


def _time_plain(n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        subprocess.run(["true"], check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _time_bwrap(n: int, bwrap_path: str) -> list[float]:
    cwd = Path.cwd()
    layout = compute_layout(ReadOnly(), cwd)
    program = seccomp.build_filter(deny_network=True)
    is_root = os.geteuid() == 0
    samples = []
    for _ in range(n):
        started = time.perf_counter()  # the seccomp pipe is part of every real spawn
        fd = seccomp.filter_pipe(program)
        args = build_bwrap_args(
            ["true"], layout=layout, cwd=cwd, is_root=is_root, seccomp_fd=fd, bwrap_path=bwrap_path
        )
        try:
            subprocess.run(args, check=True, pass_fds=(fd,))
        finally:
            os.close(fd)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _time_landlock(n: int, abi: int) -> list[float]:
    """The fallback's spawn (as root: with its private mount namespace), read-only policy."""
    cwd = Path.cwd()
    layout = compute_layout(ReadOnly(), cwd)
    samples = []
    for _ in range(n):
        started = time.perf_counter()  # preparing the confinement is part of every real spawn
        confinement = landlock.prepare_confinement(layout, abi=abi, cwd=cwd)
        try:
            subprocess.run(["/bin/true"], check=True, preexec_fn=confinement.preexec_fn)  # noqa: PLW1509
        finally:
            confinement.close()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def measure_spawn(n: int = 50) -> dict[str, Any]:
    """Medians and p99 (ms) of n spawns of `true`: plain and under bwrap (None without bwrap)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    detection = detect()
    result: dict[str, Any] = {"n": n, "backend": detection.backend}
    result["plain"] = _percentiles(_time_plain(n))
    if detection.backend == BWRAP and detection.bwrap_path:
        result["bwrap"] = _percentiles(_time_bwrap(n, detection.bwrap_path))
    else:
        result["bwrap"] = None
    return result
