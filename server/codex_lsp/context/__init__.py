"""What the model is told: the conversation (`history`) and the instructions around it
(`instructions`). Plain data and functions, no JSON-RPC, no I/O.

AGENTS.md, the environment context and compaction belong here too (`context/agents_md.py`,
`context/environment.py`, `context/compaction.py`); they add items through
:func:`codex_lsp.context.instructions.prompt_prefix` or :meth:`ConversationHistory.replace`.
"""
