"""File edits: the Codex patch format, planned against disk or editor buffers, applied safely.

- ``parser``: patch text → hunks (grammar exact, errors name the line).
- ``seek``: tolerant line matching.
- ``plan``: hunks + a file reader → per-file changes with new content and diffs (no writes).
- ``guard``: where a patch may write (writable roots, `.git`, symlinks).
- ``approval``: apply / ask / refuse, by approval policy and sandbox.
- ``apply``: the only disk writer (atomic replace, permissions kept).
- ``workspace_edit``: a plan as an LSP `WorkspaceEdit` for the editor to apply.
- ``turn_diff``: the unified diff of a turn's changes since the turn started.
- ``shell_forms``: `shell` calls that are patches.
- ``grammar``: the tool definitions offered to the model.
"""
