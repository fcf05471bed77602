"""Model listing payloads."""

from __future__ import annotations

import attrs

from codex_lsp.protocol.methods import define
from codex_lsp.protocol.wire import field


@attrs.define
class ModelListParams:
    """Params of `model/list`."""

    cursor: str | None = field("Opaque cursor from a previous page's `nextCursor`.", default=None)
    limit: int | None = field("Page size (1-100, default 50).", default=None)
    include_hidden: bool | None = field("Include models not shown in the picker.", default=None)


@attrs.define
class ReasoningEffortOption:
    """A reasoning effort a model supports."""

    reasoning_effort: str = field("`none`, `minimal`, `low`, `medium`, `high` or `xhigh`.")
    description: str = field("What the effort level means for this model.")


@attrs.define
class ModelUpgradeInfo:
    """A suggested upgrade to another model."""

    model: str = field("Slug of the model to upgrade to.")
    upgrade_copy: str | None = field("Text to show.")
    model_link: str | None = field("Link with details.")
    migration_markdown: str | None = field("Migration notes.")


@attrs.define
class ModelAvailabilityNux:
    """A one-time notice about the model's availability."""

    message: str = field("Text to show.")


@attrs.define
class ModelServiceTier:
    """A service tier the model offers."""

    id: str = field("Tier id.")
    name: str = field("Display name.")
    description: str = field("What the tier means.")


@attrs.define
class Model:
    """One model, in upstream's `Model` shape."""

    id: str = field("Model id (same as `model`).")
    model: str = field("Slug to pass as `model` in `thread/start` / `turn/start`.")
    upgrade: str | None = field("Slug of the suggested upgrade, if any.")
    upgrade_info: ModelUpgradeInfo | None = field("Details of the suggested upgrade.")
    availability_nux: ModelAvailabilityNux | None = field("One-time availability notice.")
    display_name: str = field("Name to show.")
    description: str = field("One-line description.")
    hidden: bool = field("Not shown in the picker.")
    supported_reasoning_efforts: list[ReasoningEffortOption] = field(
        "Reasoning efforts it accepts."
    )
    default_reasoning_effort: str = field("Effort used when none is given.")
    input_modalities: list[str] = field("`text`, `image`.")
    supports_personality: bool = field("Whether `personality` applies.")
    additional_speed_tiers: list[str] = field("Deprecated; always empty.")
    service_tiers: list[ModelServiceTier] = field("Service tiers offered.")
    default_service_tier: str | None = field("Default service tier.")
    is_default: bool = field("Exactly one model in the full list is the default.")


@attrs.define
class ModelListResult:
    """Result of `model/list`."""

    data: list[Model] = field("This page of models, highest priority first.")
    next_cursor: str | None = field("Cursor of the next page, null on the last page.")


MODEL_LIST = define(
    "model/list",
    direction="client->server",
    kind="request",
    group="models",
    params=ModelListParams,
    result=ModelListResult,
    doc="List available models (bundled presets merged with the backend's list, cached 300 s).",
)
