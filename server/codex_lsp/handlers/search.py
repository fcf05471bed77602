"""`fuzzyFileSearch`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_lsp.protocol.context import (
    FUZZY_FILE_SEARCH,
    FuzzyFileSearchParams,
    FuzzyFileSearchResponse,
    FuzzyFileSearchResult,
)
from codex_lsp.search.service import FileSearch

if TYPE_CHECKING:
    from codex_lsp.server import CodexLanguageServer
    from codex_lsp.services import Services


def register(server: CodexLanguageServer, services: Services) -> None:
    search = FileSearch()

    async def close() -> None:
        search.close()

    services.on_close.append(close)

    @server.request_handler(FUZZY_FILE_SEARCH)
    async def fuzzy_file_search(params: FuzzyFileSearchParams) -> FuzzyFileSearchResponse:
        found = await search.search(params.query, params.roots, params.cancellation_token)
        return FuzzyFileSearchResponse(
            files=[
                FuzzyFileSearchResult(
                    root=f.root,
                    path=f.path,
                    file_name=f.file_name,
                    score=f.score,
                    indices=list(f.indices),
                    match_type="directory" if f.is_dir else "file",
                )
                for f in found
            ]
        )
