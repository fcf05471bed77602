"""`update_plan`: the model publishes its plan; the editor gets `turn/plan/updated` and the model
gets "Plan updated". Invalid arguments go back to the model, which can call again."""

from __future__ import annotations

from typing import Any

from codex_lsp.protocol.context import TURN_PLAN_UPDATED
from codex_lsp.turns.plan import (
    PLAN_UPDATED_OUTPUT,
    UPDATE_PLAN_TOOL_NAME,
    InvalidPlan,
    parse_plan,
    update_plan_tool,
)
from codex_lsp.turns.tools.base import RespondToModel, SpecContext, ToolCall, ToolInvocation


class UpdatePlanTool:
    """The `update_plan` function tool."""

    @property
    def name(self) -> str:
        return UPDATE_PLAN_TOOL_NAME

    def spec(self, context: SpecContext) -> dict[str, Any] | None:
        return update_plan_tool()

    async def handle(self, call: ToolCall, invocation: ToolInvocation) -> str:
        try:
            plan = parse_plan(call.arguments)
        except InvalidPlan as exc:
            raise RespondToModel(str(exc)) from None
        invocation.items.notify(
            TURN_PLAN_UPDATED, plan.to_notification(invocation.thread.id, invocation.turn_id)
        )
        return PLAN_UPDATED_OUTPUT
