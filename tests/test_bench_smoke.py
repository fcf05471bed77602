"""The benchmark harness keeps working (figures are produced and well-formed). No timing is
asserted here: speed is measured by `bench/run.py`, not by tests."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from harness import ROOT


def test_bench_quick_run_produces_figures_and_a_results_table(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--quick",
            "--only",
            "roundtrip",
            "sandbox_spawn",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    names = {f["name"] for f in figures}
    assert "custom request round trip (account/read)" in names
    assert "bwrap sandboxed spawn of true" in names
    for fig in figures:
        assert "error" not in fig, fig
        assert fig["summary"]["n"] >= 1 and math.isfinite(fig["summary"]["median"])
        if not fig["name"].startswith("added by"):  # a difference may come out below zero
            assert fig["summary"]["median"] > 0, fig["name"]
    table = (tmp_path / "RESULTS.md").read_text()
    assert "| custom request round trip (account/read) |" in table and "Machine:" in table
    assert json.loads((tmp_path / "results" / "latest.json").read_text())["figures"]
