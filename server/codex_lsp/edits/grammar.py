"""The `apply_patch` tool as offered to the model: freeform (Lark grammar) or function form.

``apply_patch_tool(kind)`` builds the Responses-API tool for a model whose `/models` entry says
`apply_patch_tool_type: "freeform"` (a custom tool constrained by ``GRAMMAR``) or anything else
(a function tool with one string parameter `input`). The grammar is upstream's
`tool_apply_patch.lark`, which the backend's constrained decoder understands.
"""

from __future__ import annotations

from typing import Any

TOOL_NAME = "apply_patch"

GRAMMAR = r"""start: begin_patch hunk+ end_patch
begin_patch: "*** Begin Patch" LF
end_patch: "*** End Patch" LF?

hunk: add_hunk | delete_hunk | update_hunk
add_hunk: "*** Add File: " filename LF add_line+
delete_hunk: "*** Delete File: " filename LF
update_hunk: "*** Update File: " filename LF change_move? change?

filename: /(.+)/
add_line: "+" /(.*)/ LF -> line

change_move: "*** Move to: " filename LF
change: (change_context | change_line)+ eof_line?
change_context: ("@@" | "@@ " /(.+)/) LF
change_line: ("+" | "-" | " ") /(.*)/ LF
eof_line: "*** End of File" LF

%import common.LF
"""

FREEFORM_DESCRIPTION = (
    "Edit files with a patch. Send the patch text itself (no JSON, no code fence). "
    "File paths are relative to the working directory, never absolute."
)

FUNCTION_DESCRIPTION = """\
Edit files with a patch in this format (the whole patch is the `input` string):

*** Begin Patch
*** Add File: <path>          create (or overwrite) a file; every following line starts with +
*** Delete File: <path>       delete a file
*** Update File: <path>       change a file; optionally followed by
*** Move to: <new path>       to rename it
@@ <a line near the change, e.g. a def or class header>   (or a bare @@)
 context line (starts with a space)
-removed line
+added line
*** End of File               (optional: the chunk ends at the end of the file)
*** End Patch

Show about three lines of context around each change; use @@ headers to pick the right spot when
the context repeats. File paths are relative to the working directory, NEVER absolute.
"""


def apply_patch_tool(kind: str | None) -> dict[str, Any]:
    """The tool definition: custom/grammar for "freeform", else a function tool."""
    if kind == "freeform":
        return {
            "type": "custom",
            "name": TOOL_NAME,
            "description": FREEFORM_DESCRIPTION,
            "format": {"type": "grammar", "syntax": "lark", "definition": GRAMMAR},
        }
    return {
        "type": "function",
        "name": TOOL_NAME,
        "description": FUNCTION_DESCRIPTION,
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {
                "input": {
                    "type": "string",
                    "description": "The entire patch, from *** Begin Patch to *** End Patch.",
                }
            },
            "required": ["input"],
            "additionalProperties": False,
        },
    }
