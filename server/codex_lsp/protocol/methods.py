"""The method registry: every wire method once, with its direction, payload classes and docs."""

from __future__ import annotations

from typing import Any, Literal

import attrs

Direction = Literal["client->server", "server->client"]
Kind = Literal["request", "notification"]
GROUPS = (
    "handshake",
    "account",
    "models",
    "threads",
    "history",
    "approvals",
    "edits",
    "commands",
    "status",
    "context",
)


@attrs.frozen
class Method:
    """One wire method. ``params``/``result`` are payload classes (``result`` is None for notifications)."""

    name: str
    direction: Direction
    kind: Kind
    group: str
    params: Any
    result: Any
    doc: str


METHODS: dict[str, Method] = {}


def define(
    name: str,
    *,
    direction: Direction,
    kind: Kind,
    group: str,
    params: Any,
    result: Any = None,
    doc: str,
) -> Method:
    """Register a method; the returned object is the constant the code refers to."""
    if name in METHODS:
        raise ValueError(f"method {name} defined twice")
    if group not in GROUPS:
        raise ValueError(f"unknown group {group}")
    method = Method(name, direction, kind, group, params, result, doc)
    METHODS[name] = method
    return method


def client_requests() -> list[Method]:
    return [m for m in METHODS.values() if m.direction == "client->server" and m.kind == "request"]
