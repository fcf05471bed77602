"""`model/list`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codex_lsp.errors import InvalidParams
from codex_lsp.protocol.models import MODEL_LIST, ModelListParams

if TYPE_CHECKING:
    from codex_lsp.server import CodexLanguageServer
    from codex_lsp.services import Services


def register(server: CodexLanguageServer, services: Services) -> None:
    @server.request_handler(MODEL_LIST)
    async def model_list(params: ModelListParams) -> dict[str, Any]:
        if params.limit is not None and not 1 <= params.limit <= 100:
            raise InvalidParams("params.limit: must be between 1 and 100")
        return await services.models.list_models(
            params.cursor, params.limit, bool(params.include_hidden)
        )
