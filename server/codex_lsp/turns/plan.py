"""The `update_plan` tool's logic: its spec for the model, argument validation, and the mapping
to the `turn/plan/updated` payload (snake_case statuses become camelCase).

Invalid arguments are not fatal: the message goes back to the model as the tool output so it can
call again.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from codex_lsp.protocol.context import PlanStepStatus, TurnPlanStep, TurnPlanUpdated

UPDATE_PLAN_TOOL_NAME = "update_plan"
PLAN_UPDATED_OUTPUT = "Plan updated"
STATUS_TO_WIRE: dict[str, PlanStepStatus] = {
    "pending": "pending",
    "in_progress": "inProgress",
    "completed": "completed",
}
MAX_STEPS = 100
MAX_TEXT = 2_000


class InvalidPlan(ValueError):
    """The model's arguments are not a valid plan; the message is for the model."""


@attrs.frozen
class Plan:
    explanation: str | None
    steps: tuple[tuple[str, str], ...]  # (step, snake_case status)

    def to_notification(self, thread_id: str, turn_id: str) -> TurnPlanUpdated:
        return TurnPlanUpdated(
            thread_id=thread_id,
            turn_id=turn_id,
            explanation=self.explanation,
            plan=[
                TurnPlanStep(step=step, status=STATUS_TO_WIRE[status])
                for step, status in self.steps
            ],
        )


def update_plan_tool() -> dict[str, Any]:
    """The function-tool spec sent to the model."""
    return {
        "type": "function",
        "name": UPDATE_PLAN_TOOL_NAME,
        "description": (
            "Updates the task plan shown to the user.\n"
            "Provide an optional explanation and the whole list of steps, each with a status.\n"
            "At most one step can be in_progress at a time."
        ),
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {
                "explanation": {"type": "string"},
                "plan": {
                    "type": "array",
                    "description": "The list of steps",
                    "items": {
                        "type": "object",
                        "properties": {
                            "step": {"type": "string"},
                            "status": {
                                "type": "string",
                                "description": "One of: pending, in_progress, completed",
                            },
                        },
                        "required": ["step", "status"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": ["plan"],
            "additionalProperties": False,
        },
    }


def parse_plan(arguments: str) -> Plan:
    """Validate the model's JSON arguments; raises :class:`InvalidPlan` saying what is wrong."""
    try:
        data = json.loads(arguments or "{}")
    except ValueError as exc:
        raise InvalidPlan(f"failed to parse function arguments: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidPlan("arguments must be a JSON object with a `plan` array")
    explanation = data.get("explanation")
    if explanation is not None and not isinstance(explanation, str):
        raise InvalidPlan("`explanation` must be a string")
    raw_plan = data.get("plan")
    if not isinstance(raw_plan, list):
        raise InvalidPlan("`plan` must be an array of {step, status}")
    if len(raw_plan) > MAX_STEPS:
        raise InvalidPlan(f"`plan` has {len(raw_plan)} steps; at most {MAX_STEPS} are allowed")
    steps: list[tuple[str, str]] = []
    for index, entry in enumerate(raw_plan):
        if not isinstance(entry, dict):
            raise InvalidPlan(f"plan[{index}] must be an object with `step` and `status`")
        step, status = entry.get("step"), entry.get("status")
        if not isinstance(step, str) or not step.strip():
            raise InvalidPlan(f"plan[{index}].step must be a non-empty string")
        if status not in STATUS_TO_WIRE:
            raise InvalidPlan(
                f"plan[{index}].status must be one of pending, in_progress, completed (got {status!r})"
            )
        steps.append((step[:MAX_TEXT], status))
    in_progress = sum(1 for _, status in steps if status == "in_progress")
    if in_progress > 1:
        raise InvalidPlan(f"at most one step can be in_progress; {in_progress} are")
    return Plan(
        explanation=explanation[:MAX_TEXT] if explanation else explanation, steps=tuple(steps)
    )
