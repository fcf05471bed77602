"""One command runs every benchmark: `.venv/bin/python bench/run.py [--quick] [--only NAME ...]`.

Prints one JSON line per figure, writes `bench/results/latest.json` and `bench/RESULTS.md` (a table
with the machine's description and each figure next to its target). Figures are medians of repeated
runs with their spread (p10–p90, and p99 where the issue asks for it). Everything runs on loopback
against the project's fakes.

`--baseline DIR` compares against another checkout (e.g. `git worktree add /tmp/base main`, or
`git archive main server | tar -x -C DIR`): every scenario runs in `--blocks` blocks per side,
alternating before/after (and which goes first), so both see the same machine load; the blocks'
samples are merged per side. The server under test is the one in DIR/server vs this checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import lspclient  # noqa: E402
import scenarios  # noqa: E402
import edits_bench  # noqa: E402, F401  (registers the `edits` scenario)
from scenarios import SCENARIOS  # noqa: E402
from stats import evaluate, summary  # noqa: E402


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
        "load": load(),
    }


def load() -> str:
    """The 1/5/15-minute load averages and how many CPUs share them."""
    try:
        one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    except (OSError, ValueError):
        return "unknown"
    return f"{one} / {five} / {fifteen} (1/5/15 min) on {os.cpu_count()} cores"


def write_results(figures: list[dict[str, Any]], info: dict[str, Any], out: Path = HERE) -> None:
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "latest.json").write_text(json.dumps({"machine": info, "figures": figures}, indent=2) + "\n")
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, Linux {info['kernel']}, "
        f"Python {info['python']}. Run: {info['date']}.",
        "",
        f"Load average at the end: {info['load']}.",
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


# ---- before/after in the same run ------------------------------------------------------------

SIDES = ("before", "after")


async def warm_up() -> None:
    """One unmeasured start of the current side: fills the OS file cache, and the code cache of a
    side that has one (a user's second start onwards)."""
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp:
        client = await lspclient.LspClient.spawn(Path(tmp))
        await client.initialize()
        await client.request("account/read", {})
        await asyncio.sleep(1.0)  # the background start-up writes the caches
        await client.close()


async def compare(selected: list[str], quick: bool, baseline: Path,
                  blocks: int) -> dict[str, dict[str, dict[str, Any]]]:
    """{scenario figure name: {side: merged figure}} with the blocks interleaved."""
    scenarios.BLOCKS = blocks
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    paths = {"before": baseline / "server", "after": None}
    for side in SIDES:
        lspclient.SERVER_PATH = paths[side]
        await warm_up()
    for name, scenario in SCENARIOS.items():
        if selected and name not in selected:
            continue
        for block in range(blocks):
            order = SIDES if block % 2 == 0 else SIDES[::-1]
            for side in order:
                lspclient.SERVER_PATH = paths[side]
                with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
                    try:
                        produced = await scenario(Path(tmp), quick)
                    except Exception as exc:  # noqa: BLE001 - report it, keep going
                        produced = [{"name": name, "error": f"{type(exc).__name__}: {exc}"}]
                for fig in produced:
                    slot = merged.setdefault(fig["name"], {}).setdefault(side, {k: v for k, v in fig.items() if k != "values"})
                    if "error" in fig:
                        slot["error"] = fig["error"]
                        continue
                    slot.setdefault("values", []).extend(fig.get("values", []))
                print(json.dumps({"scenario": name, "block": block, "side": side, "load": load()}), flush=True)
    for sides in merged.values():
        for fig in sides.values():
            if "error" in fig or not fig.get("values"):
                continue
            fig["summary"] = summary(fig["values"])
            if fig.get("rule"):
                fig["meets"] = evaluate(fig["rule"], fig["values"])
    lspclient.SERVER_PATH = None
    return merged


def _commit(path: Path) -> str:
    """The checkout's short commit (`+changes` when its server/ differs from it), for the report."""
    try:
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--", "server"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "commit unknown"
    return f"{head}+changes" if dirty else head


def write_comparison(merged: dict[str, dict[str, dict[str, Any]]], info: dict[str, Any], end: dict[str, Any],
                     args: argparse.Namespace, out: Path = HERE) -> None:
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "latest.json").write_text(json.dumps(
        {"machine": info, "end": end, "baseline": str(args.baseline), "blocks": args.blocks, "figures": merged},
        indent=2) + "\n")

    def cell(fig: dict[str, Any] | None) -> str:
        if fig is None:
            return "–"
        if "error" in fig:
            return f"error: {fig['error']}"
        s, unit = fig["summary"], fig["unit"]
        return f"{s['median']:g} {unit} (p99 {s['p99']:g}, n={s['n']})"

    def change(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
        try:
            b, a = before["summary"]["median"], after["summary"]["median"]  # type: ignore[index]
        except (KeyError, TypeError):
            return ""
        if not b:
            return ""
        return f"{(a - b) / b * 100:+.0f}%"

    lines = [
        "# Benchmark results",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, Linux {info['kernel']}, "
        f"Python {info['python']}.",
        f"Run: {info['date']} to {end['date']}. Load average at the start: {info['load']}; at the end: "
        f"{end['load']}.",
        "",
        f"Command: `.venv/bin/python bench/run.py --baseline {args.baseline} --blocks {args.blocks}` "
        "(JSON with every sample: `bench/results/latest.json`).",
        "",
        f"Method: *before* is the server of the baseline checkout ({_commit(Path(args.baseline))}), "
        f"*after* this checkout ({_commit(HERE.parent)}); each scenario ran in {args.blocks} blocks per side, alternating before/after and which "
        "side goes first, so both sides saw the same machine load; the blocks' samples are merged. "
        "Medians and p99 over all samples (n). Both sides use the same bench client, fakes and venv. "
        "The after side starts with a warm code cache (one unmeasured start per side first); a "
        "user's very first start compiles as before. Targets are issue 18's; *meets* judges the "
        "after side.",
        "",
        "| figure | before: median (p99, n) | after: median (p99, n) | change | target | meets (after) |",
        "|---|---|---|---|---|---|",
    ]
    for name, sides in merged.items():
        before, after = sides.get("before"), sides.get("after")
        ref = after or before or {}
        meets = {True: "yes", False: "**no**", None: "n/a"}[(after or {}).get("meets")]
        lines.append(f"| {name} | {cell(before)} | {cell(after)} | {change(before, after)} | "
                     f"{ref.get('target', '')} | {meets} |")
    notes = {name: (s.get("after") or s.get("before") or {}).get("note") for name, s in merged.items()}
    notes = {k: v for k, v in notes.items() if v}
    if notes:
        lines += ["", "Notes:", ""] + [f"- {k}: {v}" for k, v in notes.items()]
    (out / "RESULTS.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    parser.add_argument("--only", nargs="*", default=[], choices=sorted(SCENARIOS), help="run only these")
    parser.add_argument("--out", type=Path, default=HERE, help="where RESULTS.md and results/ go (default bench/)")
    parser.add_argument("--baseline", type=Path, help="another checkout to compare against (its server/ dir)")
    parser.add_argument("--blocks", type=int, default=4, help="interleaved blocks per side with --baseline")
    args = parser.parse_args()
    cache_home = Path(tempfile.mkdtemp(prefix="bench-xdg-"))
    lspclient.CACHE_HOME = cache_home  # the servers' code cache lives here, not in ~/.cache
    try:
        if args.baseline is None:
            figures = asyncio.run(run(args.only, args.quick))
            write_results(figures, machine(), args.out)
            return 1 if any("error" in f for f in figures) else 0
        info = machine()
        merged = asyncio.run(compare(args.only, args.quick, args.baseline.resolve(), args.blocks))
        write_comparison(merged, info, {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load": load()}, args,
                         args.out)
        return 1 if any("error" in f for s in merged.values() for f in s.values()) else 0
    finally:
        shutil.rmtree(cache_home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
