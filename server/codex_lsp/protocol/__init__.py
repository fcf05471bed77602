"""The protocol module: the single source of truth for method names and payload shapes.

Every wire method is defined once (``define(...)`` in the group modules) with its direction,
payload classes and docs. Handlers, docs, the JSON Schema and the editor clients follow it.

The group modules build ~100 attrs payload classes, so they load on first use: ``METHODS``,
``client_requests()`` and ``load_all()`` load every group; importing a group module loads just
it. Answering `initialize` needs only ``handshake`` (plus ``names`` to route the requests), which
is what lets the server answer it before the rest is built.
"""

from __future__ import annotations

import importlib
from typing import Any

from codex_lsp.protocol import methods
from codex_lsp.protocol.methods import GROUPS, Method
from codex_lsp.protocol.wire import ParamsError, from_wire, to_wire

GROUP_MODULES = (
    "handshake",
    "account",
    "commands",
    "context",
    "edits",
    "history",
    "models",
    "status",
    "threads",
    "turn_errors",
)


def load_all() -> None:
    """Import every group module (each defines its methods once, on first import)."""
    for name in GROUP_MODULES:
        importlib.import_module(f"{__name__}.{name}")


def client_requests() -> list[Method]:
    load_all()
    return methods.client_requests()


def __getattr__(name: str) -> Any:
    if name == "METHODS":
        load_all()
        return methods.METHODS
    if name in GROUP_MODULES or name in ("envelope", "examples", "inputs", "names", "schema"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "GROUPS",
    "GROUP_MODULES",
    "METHODS",
    "Method",
    "ParamsError",
    "client_requests",
    "from_wire",
    "load_all",
    "to_wire",
]
