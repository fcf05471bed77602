"""What a tool is: the :class:`ToolHandler` protocol, the call it receives, what it may use
while it runs (:class:`ToolInvocation`), and the two kinds of tool error.

- :class:`RespondToModel`: the call failed in a way the model can act on; its text becomes the
  call's output and the turn goes on.
- :class:`FatalToolError`: the turn cannot go on; it ends as ``failed`` with the message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import attrs

from codex_lsp.errors import CodexError

if TYPE_CHECKING:
    from codex_lsp.models.catalog import ModelInfo
    from codex_lsp.turns.items import TurnItems
    from codex_lsp.turns.orchestrator import Orchestrator
    from codex_lsp.turns.store import ThreadState


class RespondToModel(Exception):
    """The call failed; :meth:`model_output` is what the model reads, and the turn goes on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def model_output(self) -> str:
        return f"error: {self.message}"


class ToolDeclined(RespondToModel):
    """The user declined the action (an approval answered `decline`, or no answer in time)."""

    def __init__(self) -> None:
        super().__init__("the user declined")

    def model_output(self) -> str:
        return (
            "The user declined to run this command. Do not run it again; continue without it "
            "or ask the user how to proceed."
        )


class FatalToolError(CodexError):
    """The turn can't go on (e.g. the tool's own state is broken): it ends as `failed`."""


@attrs.frozen
class ToolCall:
    """One call the model made."""

    name: str
    call_id: str
    arguments: str  # JSON text for function tools, the raw input for freeform (custom) tools
    kind: str = "function"  # "function" | "custom"


@attrs.frozen
class SpecContext:
    """What a tool's spec may depend on."""

    model: str
    model_info: ModelInfo | None
    approval_policy: str


@attrs.frozen
class ToolInvocation:
    """What a running tool may use: the thread, the turn's items, the orchestrator."""

    thread: ThreadState
    turn_id: str
    items: TurnItems
    orchestrator: Orchestrator


class ToolHandler(Protocol):
    """A tool the model can call. Register it in :mod:`codex_lsp.turns.tools`."""

    @property
    def name(self) -> str:
        """The name the model calls it by."""
        ...

    def spec(self, context: SpecContext) -> dict[str, Any] | None:
        """The Responses-API tool entry sent with every request (None: not offered now)."""
        ...

    async def handle(self, call: ToolCall, invocation: ToolInvocation) -> str:
        """Run the call; return its output for the model.

        Raise :class:`RespondToModel` for a failure the model should read, :class:`FatalToolError`
        to fail the turn. Items the tool started and left open when it is cancelled are completed
        by the engine, with whatever status the tool gave them.
        """
        ...
