"""Available models and the default model choice."""

from codex_lsp.models.catalog import ModelInfo
from codex_lsp.models.manager import ModelsManager

__all__ = ["ModelInfo", "ModelsManager"]
