"""Model descriptions: the backend's snake_case ``ModelInfo`` (also the shape of the bundled
presets and of the cache) and its mapping to the app-server wire ``Model``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

import attrs

log = logging.getLogger(__name__)

DEFAULT_INPUT_MODALITIES = ("text", "image")


@attrs.frozen
class ReasoningLevel:
    effort: str
    description: str


@attrs.frozen
class ModelUpgrade:
    model: str
    upgrade_copy: str | None = None
    model_link: str | None = None
    migration_markdown: str | None = None


@attrs.frozen
class ModelInfo:
    slug: str
    display_name: str
    description: str
    default_reasoning_level: str
    supported_reasoning_levels: tuple[ReasoningLevel, ...]
    visibility: str  # "list" | "hide" | "none"
    supported_in_api: bool
    priority: int
    upgrade: ModelUpgrade | None = None
    input_modalities: tuple[str, ...] = DEFAULT_INPUT_MODALITIES
    supports_personality: bool = False
    service_tiers: tuple[dict[str, str], ...] = ()
    default_service_tier: str | None = None
    availability_nux: str | None = None
    context_window: int | None = None
    # The JSON as received; other components read fields we don't model (base_instructions...).
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def show_in_picker(self) -> bool:
        return self.visibility == "list"

    def to_wire(self, *, is_default: bool) -> dict[str, Any]:
        """The app-server ``Model`` (model/list), every key present."""
        upgrade = self.upgrade
        return {
            "id": self.slug,
            "model": self.slug,
            "upgrade": upgrade.model if upgrade else None,
            "upgradeInfo": (
                {
                    "model": upgrade.model,
                    "upgradeCopy": upgrade.upgrade_copy,
                    "modelLink": upgrade.model_link,
                    "migrationMarkdown": upgrade.migration_markdown,
                }
                if upgrade
                else None
            ),
            "availabilityNux": (
                {"message": self.availability_nux} if self.availability_nux else None
            ),
            "displayName": self.display_name,
            "description": self.description,
            "hidden": not self.show_in_picker,
            "supportedReasoningEfforts": [
                {"reasoningEffort": level.effort, "description": level.description}
                for level in self.supported_reasoning_levels
            ],
            "defaultReasoningEffort": self.default_reasoning_level,
            "inputModalities": list(self.input_modalities),
            "supportsPersonality": self.supports_personality,
            "additionalSpeedTiers": [],
            "serviceTiers": [dict(tier) for tier in self.service_tiers],
            "defaultServiceTier": self.default_service_tier,
            "isDefault": is_default,
        }


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _upgrade(raw: Any) -> ModelUpgrade | None:
    if isinstance(raw, str) and raw:
        return ModelUpgrade(model=raw)
    if isinstance(raw, Mapping) and _opt_str(raw.get("model")):
        return ModelUpgrade(
            model=raw["model"],
            upgrade_copy=_opt_str(raw.get("upgrade_copy")),
            model_link=_opt_str(raw.get("model_link")),
            migration_markdown=_opt_str(raw.get("migration_markdown")),
        )
    return None


def _levels(raw: Any) -> tuple[ReasoningLevel, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        ReasoningLevel(effort=item["effort"], description=str(item.get("description") or ""))
        for item in raw
        if isinstance(item, Mapping) and _opt_str(item.get("effort"))
    )


def _service_tiers(raw: Any) -> tuple[dict[str, str], ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        {
            "id": t["id"],
            "name": str(t.get("name") or t["id"]),
            "description": str(t.get("description") or ""),
        }
        for t in raw
        if isinstance(t, Mapping) and _opt_str(t.get("id"))
    )


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def parse_model_info(raw: Any) -> ModelInfo | None:
    """One backend ``ModelInfo``; None (and a log line) if it has no usable slug."""
    if not isinstance(raw, Mapping) or not _opt_str(raw.get("slug")):
        log.warning("ignoring a model entry without a slug")
        return None
    slug: str = raw["slug"]
    modalities = raw.get("input_modalities")
    visibility = raw.get("visibility")
    nux = raw.get("availability_nux")
    return ModelInfo(
        slug=slug,
        display_name=_opt_str(raw.get("display_name")) or slug,
        description=str(raw.get("description") or ""),
        default_reasoning_level=_opt_str(raw.get("default_reasoning_level")) or "medium",
        supported_reasoning_levels=_levels(raw.get("supported_reasoning_levels")),
        visibility=visibility if visibility in ("list", "hide", "none") else "hide",
        supported_in_api=bool(raw.get("supported_in_api", False)),
        priority=_int(raw.get("priority"), 1000),
        upgrade=_upgrade(raw.get("upgrade")),
        input_modalities=(
            tuple(m for m in modalities if isinstance(m, str))
            if isinstance(modalities, list)
            else DEFAULT_INPUT_MODALITIES
        ),
        supports_personality=bool(raw.get("supports_personality", False)),
        service_tiers=_service_tiers(raw.get("service_tiers")),
        default_service_tier=_opt_str(raw.get("default_service_tier")),
        availability_nux=(
            _opt_str(nux.get("message")) if isinstance(nux, Mapping) else _opt_str(nux)
        ),
        context_window=raw.get("context_window")
        if isinstance(raw.get("context_window"), int)
        else None,
        raw=dict(raw),
    )


def parse_models(raw_models: Iterable[Any]) -> list[ModelInfo]:
    return [info for raw in raw_models if (info := parse_model_info(raw)) is not None]


def load_bundled_models() -> list[ModelInfo]:
    """The presets shipped in ``codex_lsp/data/models.json`` (blocking: call off the loop)."""
    text = resources.files("codex_lsp").joinpath("data/models.json").read_text("utf-8")
    return parse_models(json.loads(text)["models"])


def merge_models(bundled: list[ModelInfo], remote: list[ModelInfo] | None) -> list[ModelInfo]:
    """Remote entries replace bundled ones by slug; bundled ones the backend doesn't list stay."""
    if not remote:
        return list(bundled)
    remote_slugs = {m.slug for m in remote}
    return [*remote, *(m for m in bundled if m.slug not in remote_slugs)]
