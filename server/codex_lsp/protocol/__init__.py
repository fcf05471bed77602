"""The protocol module: the single source of truth for method names and payload shapes.

Every wire method is defined once (``define(...)`` in the group modules) with its direction,
payload classes and docs. Handlers, docs, the JSON Schema and the editor clients follow it.
"""

from codex_lsp.protocol import (
    account,
    commands,
    context,
    edits,
    handshake,
    history,
    models,
    status,
    threads,
    turn_errors,
)
from codex_lsp.protocol.methods import GROUPS, METHODS, Method, client_requests
from codex_lsp.protocol.wire import ParamsError, from_wire, to_wire

__all__ = [
    "GROUPS",
    "METHODS",
    "Method",
    "ParamsError",
    "account",
    "client_requests",
    "commands",
    "context",
    "edits",
    "from_wire",
    "handshake",
    "history",
    "models",
    "status",
    "threads",
    "to_wire",
    "turn_errors",
]
