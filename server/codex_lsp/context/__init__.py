"""What the model is told besides the conversation: project instructions (AGENTS.md), the
environment context, compaction. Plain logic, testable without JSON-RPC."""
