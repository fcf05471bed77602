"""`thread/list`, `read`, `resume`, `fork`, `archive`, `unarchive`, `name/set`: payload mapping
over :class:`~codex_lsp.history.service.ThreadHistory` and the thread service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_lsp.errors import InvalidParams
from codex_lsp.history.payloads import thread_from_summary
from codex_lsp.history.reader import (
    DEFAULT_LIMIT,
    INTERACTIVE_SOURCES,
    MAX_LIMIT,
    ListQuery,
    as_tuple,
)
from codex_lsp.protocol.history import (
    THREAD_ARCHIVE,
    THREAD_ARCHIVED,
    THREAD_FORK,
    THREAD_LIST,
    THREAD_NAME_SET,
    THREAD_NAME_UPDATED,
    THREAD_READ,
    THREAD_RESUME,
    THREAD_UNARCHIVE,
    THREAD_UNARCHIVED,
    ThreadArchivedNotification,
    ThreadArchiveResult,
    ThreadForkParams,
    ThreadIdParams,
    ThreadListParams,
    ThreadListResult,
    ThreadNameUpdatedNotification,
    ThreadReadParams,
    ThreadResult,
    ThreadResumeParams,
    ThreadSetNameParams,
    ThreadSetNameResult,
    ThreadUnarchivedNotification,
)
from codex_lsp.protocol.threads import THREAD_STARTED, Thread, ThreadStarted, ThreadStartResult

if TYPE_CHECKING:
    from codex_lsp.server import CodexLanguageServer
    from codex_lsp.turns.threads import ThreadService


def list_query(params: ThreadListParams) -> ListQuery:
    limit = DEFAULT_LIMIT if params.limit is None else params.limit
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidParams(f"params.limit: must be between 1 and {MAX_LIMIT}")
    return ListQuery(
        limit=limit,
        cursor=params.cursor,
        sort_key=params.sort_key or "created_at",
        descending=params.sort_direction != "asc",
        archived=bool(params.archived),
        cwds=as_tuple(params.cwd),
        search_term=params.search_term or None,
        model_providers=tuple(params.model_providers) if params.model_providers else None,
        source_kinds=tuple(params.source_kinds) if params.source_kinds else INTERACTIVE_SOURCES,
    )


def register(server: CodexLanguageServer, threads: ThreadService) -> None:
    history = threads.history

    async def stored_or_loaded(thread_id: str, include_turns: bool) -> Thread:
        loaded = threads.store.find(thread_id)
        if loaded is not None:
            return threads.payload(
                loaded, await threads.turns_of(loaded) if include_turns else None
            )
        if include_turns:
            stored = await history.open(thread_id)
            return thread_from_summary(stored.summary, turns=stored.turns())
        return thread_from_summary(await history.summary(thread_id))

    @server.request_handler(THREAD_LIST)
    async def thread_list(params: ThreadListParams) -> ThreadListResult:
        page = await history.list(list_query(params))
        data = [threads.loaded_payload(s.id) or thread_from_summary(s) for s in page.data]
        for thread, summary in zip(data, page.data, strict=True):
            thread.name = summary.name
        return ThreadListResult(data=data, next_cursor=page.next_cursor)

    @server.request_handler(THREAD_READ)
    async def thread_read(params: ThreadReadParams) -> ThreadResult:
        return ThreadResult(thread=await stored_or_loaded(params.thread_id, params.include_turns))

    @server.request_handler(THREAD_RESUME)
    async def thread_resume(params: ThreadResumeParams) -> ThreadStartResult:
        thread, turns = await threads.resume_thread(params)
        return threads.start_result(thread, turns)

    @server.request_handler(THREAD_FORK)
    async def thread_fork(params: ThreadForkParams) -> ThreadStartResult:
        thread, turns = await threads.fork_thread(params)
        result = threads.start_result(thread, turns)
        started = ThreadStarted(thread=threads.payload(thread))
        server.after_response(lambda: server.send_notification(THREAD_STARTED, started))
        return result

    @server.request_handler(THREAD_ARCHIVE)
    async def thread_archive(params: ThreadIdParams) -> ThreadArchiveResult:
        await threads.archive_thread(params.thread_id)
        note = ThreadArchivedNotification(thread_id=params.thread_id)
        server.after_response(lambda: server.send_notification(THREAD_ARCHIVED, note))
        return ThreadArchiveResult()

    @server.request_handler(THREAD_UNARCHIVE)
    async def thread_unarchive(params: ThreadIdParams) -> ThreadResult:
        await history.unarchive(params.thread_id)
        thread = thread_from_summary(await history.summary(params.thread_id))
        note = ThreadUnarchivedNotification(thread_id=params.thread_id)
        server.after_response(lambda: server.send_notification(THREAD_UNARCHIVED, note))
        return ThreadResult(thread=thread)

    @server.request_handler(THREAD_NAME_SET)
    async def thread_name_set(params: ThreadSetNameParams) -> ThreadSetNameResult:
        name = params.name.strip()
        if threads.loaded_payload(params.thread_id) is None:
            await history.find(params.thread_id)  # -32600 naming an unknown id
        await history.set_name(params.thread_id, name)
        threads.set_name(params.thread_id, name or None)
        note = ThreadNameUpdatedNotification(thread_id=params.thread_id, thread_name=name or None)
        server.after_response(lambda: server.send_notification(THREAD_NAME_UPDATED, note))
        return ThreadSetNameResult()
