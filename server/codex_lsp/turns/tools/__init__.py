"""The tools the model can call, by name (upstream's `ToolRegistry`).

Adding a tool: write ``turns/tools/<name>.py`` with a class following
:class:`~codex_lsp.turns.tools.base.ToolHandler`, and add one line to :func:`default_registry`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from codex_lsp.turns.tools.base import (
    FatalToolError,
    RespondToModel,
    SpecContext,
    ToolCall,
    ToolDeclined,
    ToolHandler,
    ToolInvocation,
)

__all__ = [
    "FatalToolError",
    "RespondToModel",
    "SpecContext",
    "ToolCall",
    "ToolDeclined",
    "ToolHandler",
    "ToolInvocation",
    "ToolRegistry",
    "default_registry",
]


class ToolRegistry:
    """Tools by name, in registration order (the order the model sees them)."""

    def __init__(self, handlers: Iterable[ToolHandler] = ()) -> None:
        self._handlers: dict[str, ToolHandler] = {}
        for handler in handlers:
            self.register(handler)

    def register(self, handler: ToolHandler) -> None:
        if handler.name in self._handlers:
            raise ValueError(f"tool {handler.name!r} is registered twice")
        self._handlers[handler.name] = handler

    @property
    def names(self) -> list[str]:
        return list(self._handlers)

    def specs(self, context: SpecContext) -> list[dict[str, Any]]:
        """The `tools` of a model request."""
        specs = (handler.spec(context) for handler in self._handlers.values())
        return [spec for spec in specs if spec is not None]

    async def dispatch(self, call: ToolCall, invocation: ToolInvocation) -> str:
        """Run one call; a :class:`RespondToModel` becomes its output, anything else propagates."""
        handler = self._handlers.get(call.name)
        try:
            if handler is None:
                raise RespondToModel(f"unknown tool {call.name!r}; {self._known()}")
            return await handler.handle(call, invocation)
        except RespondToModel as exc:
            return exc.model_output()

    def _known(self) -> str:
        names = [f"`{name}`" for name in self._handlers]
        if len(names) == 1:
            return f"the only tool is {names[0]}."
        return "the tools are " + ", ".join(names) + "."


def default_registry() -> ToolRegistry:
    """The tools of every thread."""
    from codex_lsp.turns.tools.apply_patch import ApplyPatchTool
    from codex_lsp.turns.tools.shell import ShellTool
    from codex_lsp.turns.tools.update_plan import UpdatePlanTool

    return ToolRegistry(
        [
            ShellTool(),
            ApplyPatchTool(),
            UpdatePlanTool(),
        ]
    )
