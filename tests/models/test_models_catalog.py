"""Parsing backend ModelInfo entries and the bundled presets."""

from __future__ import annotations

import pytest

from codex_lsp.models.catalog import (
    load_bundled_models,
    merge_models,
    parse_model_info,
    parse_models,
)


def test_bundled_presets_are_valid_and_unique() -> None:
    presets = load_bundled_models()
    slugs = [m.slug for m in presets]
    assert len(slugs) == len(set(slugs)) >= 4
    assert {"gpt-5.2-codex", "gpt-5.1-codex-max"} <= set(slugs)
    for preset in presets:
        assert preset.supported_reasoning_levels
        assert preset.default_reasoning_level in {
            level.effort for level in preset.supported_reasoning_levels
        }


def test_entries_without_a_slug_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    parsed = parse_models([{"display_name": "no slug"}, "junk", {"slug": "ok"}])
    assert [m.slug for m in parsed] == ["ok"]
    assert "without a slug" in caplog.text


def test_tolerant_field_parsing() -> None:
    info = parse_model_info(
        {
            "slug": "m",
            "visibility": "sideways",
            "upgrade": "m2",
            "availability_nux": {"message": "New!"},
            "priority": "high",
            "supported_reasoning_levels": [{"effort": "low"}, {"description": "no effort"}],
            "service_tiers": [{"id": "flex"}],
        }
    )
    assert info is not None
    wire = info.to_wire(is_default=False)
    assert wire["hidden"] is True  # unknown visibility is not shown in the picker
    assert wire["upgrade"] == "m2" and wire["upgradeInfo"] == {
        "model": "m2",
        "upgradeCopy": None,
        "modelLink": None,
        "migrationMarkdown": None,
    }
    assert wire["availabilityNux"] == {"message": "New!"}
    assert wire["supportedReasoningEfforts"] == [{"reasoningEffort": "low", "description": ""}]
    assert wire["serviceTiers"] == [{"id": "flex", "name": "flex", "description": ""}]
    assert wire["displayName"] == "m" and wire["defaultReasoningEffort"] == "medium"
    assert info.priority == 1000


def test_merge_prefers_remote_and_keeps_unlisted_bundled() -> None:
    bundled = parse_models([{"slug": "a", "description": "bundled"}, {"slug": "b"}])
    remote = parse_models([{"slug": "a", "description": "remote"}, {"slug": "c"}])
    merged = merge_models(bundled, remote)
    assert [(m.slug, m.description) for m in merged] == [("a", "remote"), ("c", ""), ("b", "")]
    assert merge_models(bundled, None) == bundled
