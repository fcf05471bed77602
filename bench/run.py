"""One command runs every benchmark: `.venv/bin/python bench/run.py [--quick] [--only NAME ...]`.

Prints one JSON line per figure, writes `bench/results/latest.json` and `bench/RESULTS.md` (a table
with the machine's description and each figure next to its target). Figures are medians of repeated
runs with their spread (p10–p90, and p99 where the issue asks for it). Everything runs on loopback
against the project's fakes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import edits_bench  # noqa: E402, F401  (registers the `edits` scenario)
from scenarios import SCENARIOS  # noqa: E402


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def write_results(figures: list[dict[str, Any]], info: dict[str, Any], out: Path = HERE) -> None:
    results = out / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.json").write_text(json.dumps({"machine": info, "figures": figures}, indent=2) + "\n")
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, Linux {info['kernel']}, "
        f"Python {info['python']}. Run: {info['date']}.",
        "",
        "Command: `.venv/bin/python bench/run.py` (JSON: `bench/results/latest.json`).",
        "",
        "| figure | median | spread (p10–p90) | p99 | n | target | meets |",
        "|---|---|---|---|---|---|---|",
    ]
    for fig in figures:
        if "error" in fig:
            lines.append(f"| {fig['name']} | error: {fig['error']} | | | | {fig.get('target', '')} | no |")
            continue
        unit = fig["unit"]
        s = fig["summary"]
        meets = {True: "yes", False: "**no**", None: "n/a"}[fig.get("meets")]
        lines.append(
            f"| {fig['name']} | {s['median']} {unit} | {s['p10']}–{s['p90']} {unit} | {s['p99']} {unit} | "
            f"{s['n']} | {fig.get('target', '')} | {meets} |"
        )
    notes = [fig for fig in figures if fig.get("note")]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {fig['name']}: {fig['note']}" for fig in notes]
    (out / "RESULTS.md").write_text("\n".join(lines) + "\n")


async def run(selected: list[str], quick: bool) -> list[dict[str, Any]]:
    figures: list[dict[str, Any]] = []
    for name, scenario in SCENARIOS.items():
        if selected and name not in selected:
            continue
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            try:
                produced = await scenario(Path(tmp), quick)
            except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others
                produced = [{"name": name, "error": f"{type(exc).__name__}: {exc}"}]
        for fig in produced:
            print(json.dumps(fig), flush=True)
            figures.append(fig)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    parser.add_argument("--only", nargs="*", default=[], choices=sorted(SCENARIOS), help="run only these")
    parser.add_argument("--out", type=Path, default=HERE, help="where RESULTS.md and results/ go (default bench/)")
    args = parser.parse_args()
    figures = asyncio.run(run(args.only, args.quick))
    write_results(figures, machine(), args.out)
    return 1 if any("error" in f for f in figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
