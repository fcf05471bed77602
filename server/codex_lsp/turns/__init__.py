"""Threads and turns, with no JSON-RPC: `threads.py` (ThreadService), `store.py` (threads in
memory), `engine.py` (one turn's state machine), `tools/` (the tool registry and the tools),
`orchestrator.py` + `approvals.py` (approval → sandbox → retry), `items.py` (item lifecycle and
the :class:`~codex_lsp.turns.items.TurnSink` the LSP side implements in `handlers/threads.py`).
"""
