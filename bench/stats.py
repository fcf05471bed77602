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


def figure(
    name: str,
    unit: str,
    values: list[float],
    *,
    target: str,
    meets: bool | None,
    note: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    fig: dict[str, Any] = {
        "name": name,
        "unit": unit,
        "summary": summary(values),
        "target": target,
        "meets": meets,
    }
    if note:
        fig["note"] = note
    fig.update(extra)
    return fig
