"""Threads and turns: the in-memory thread store, the agent loop, the shell tool and approvals.

Plain modules with no JSON-RPC; `handlers/threads.py` maps `thread/start`, `turn/start` and
`turn/interrupt` onto them and implements :class:`~codex_lsp.turns.engine.TurnSink`.
"""
