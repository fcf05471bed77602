"""Summary statistics for benchmark figures."""

from __future__ import annotations

import statistics
from typing import Any


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 4),
        "p10": round(percentile(values, 10), 4),
        "p90": round(percentile(values, 90), 4),
        "p99": round(percentile(values, 99), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "n": len(values),
    }


def evaluate(rule: list[Any] | None, values: list[float]) -> bool | None:
    """A figure's target as data, so merged samples (run.py --baseline) can be re-judged:
    ["median", x] (median <= x), ["p99", x], ["median+p99", x, y], ["all", x] (every value == x)."""
    if not rule or not values:
        return None
    kind = rule[0]
    if kind == "median":
        return statistics.median(values) <= rule[1]
    if kind == "p99":
        return percentile(values, 99) <= rule[1]
    if kind == "median+p99":
        return statistics.median(values) <= rule[1] and percentile(values, 99) <= rule[2]
    if kind == "all":
        return all(v == rule[1] for v in values)
    raise ValueError(f"unknown rule {rule!r}")


def figure(name: str, unit: str, values: list[float], *, target: str, meets: bool | None = None,
           rule: list[Any] | None = None, note: str | None = None, **extra: Any) -> dict[str, Any]:
    if rule is not None:
        meets = evaluate(rule, values)
    fig: dict[str, Any] = {"name": name, "unit": unit, "summary": summary(values), "target": target,
                           "meets": meets, "values": [round(v, 5) for v in values]}
    if rule is not None:
        fig["rule"] = rule
    if note:
        fig["note"] = note
    fig.update(extra)
    return fig
