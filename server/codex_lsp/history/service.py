"""The history domain object the thread service and handlers use: one per server process.

It owns the :class:`ThreadCatalog` (stored threads) and one :class:`RolloutRecorder` per loaded,
non-ephemeral thread, and knows how to start, resume and fork a rollout. It knows nothing about
JSON-RPC; errors are :class:`InvalidRequest` with messages that say what to do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import attrs

from codex_lsp import __version__
from codex_lsp.backend.provider import ORIGINATOR
from codex_lsp.errors import InvalidRequest
from codex_lsp.history.reader import (
    ListPage,
    ListQuery,
    Rollout,
    ThreadCatalog,
    ThreadSummary,
    summary_from_meta,
)
from codex_lsp.history.recorder import RolloutRecorder, ensure_unlocked
from codex_lsp.history.rollout import is_thread_id, rollout_path, timestamp_now
from codex_lsp.history.turns import ResumeState, resume_state, turns_from_rollout

log = logging.getLogger(__name__)

THREAD_SOURCE = "vscode"  # what upstream's app-server records for editor threads


def thread_not_found(thread_id: str) -> InvalidRequest:
    return InvalidRequest(
        f"thread not found: {thread_id}; pick one from thread/list (archived ones with archived: true)"
    )


def session_meta(
    thread_id: str,
    *,
    cwd: str,
    model_provider: str,
    base_instructions: str | None,
    session_id: str | None = None,
    forked_from_id: str | None = None,
    git: dict[str, Any] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "id": thread_id,
        "session_id": session_id or thread_id,
        "forked_from_id": forked_from_id,
        "timestamp": timestamp_now(),
        "cwd": cwd,
        "originator": ORIGINATOR,
        "cli_version": __version__,
        "source": THREAD_SOURCE,
        "model_provider": model_provider,
    }
    if base_instructions:
        meta["base_instructions"] = {"text": base_instructions}
    if git:
        meta["git"] = git
    return meta


@attrs.define
class StoredThread:
    """A stored thread opened for resume or fork."""

    summary: ThreadSummary
    rollout: Rollout
    state: ResumeState

    def turns(self) -> list[dict[str, Any]]:
        return turns_from_rollout(self.rollout.lines)


class ThreadHistory:
    """Rollouts of this server's threads, and the stored threads under ``codex_home``."""

    def __init__(self, codex_home: Path) -> None:
        self.codex_home = codex_home
        self.catalog = ThreadCatalog(codex_home)
        self._recorders: dict[str, RolloutRecorder] = {}
        self._created: dict[str, float] = {}

    # ---- recording ---------------------------------------------------------------------------

    def start(self, thread_id: str, meta: dict[str, Any]) -> RolloutRecorder:
        """A recorder for a new thread (its file appears with the first item)."""
        created = time.time()
        recorder = RolloutRecorder.new(
            rollout_path(self.codex_home, thread_id, created), thread_id, meta
        )
        self._recorders[thread_id] = recorder
        self._created[thread_id] = created
        return recorder

    def recorder(self, thread_id: str) -> RolloutRecorder | None:
        return self._recorders.get(thread_id)

    def path_of(self, thread_id: str) -> Path | None:
        """The rollout of a loaded thread, once it exists on disk."""
        recorder = self._recorders.get(thread_id)
        return recorder.path if recorder is not None and recorder.materialized else None

    async def flush(self, thread_id: str) -> None:
        recorder = self._recorders.get(thread_id)
        if recorder is not None:
            await recorder.flush()

    async def release(self, thread_id: str) -> None:
        """Flush and close a thread's recorder (unload, archive)."""
        recorder = self._recorders.pop(thread_id, None)
        if recorder is not None:
            await recorder.aclose()

    async def aclose(self) -> None:
        """At shutdown: every rollout flushed and unlocked."""
        for thread_id in list(self._recorders):
            try:
                await self.release(thread_id)
            except Exception:  # noqa: BLE001 - one bad file must not stop the others
                log.exception("closing the history of thread %s failed", thread_id)

    # ---- stored threads ----------------------------------------------------------------------

    async def find(self, thread_id: str) -> tuple[Path, bool]:
        """(path, archived) of a stored thread; -32600 naming the id when there is none."""
        found = await self.catalog.find(thread_id) if is_thread_id(thread_id) else None
        if found is None:
            raise thread_not_found(thread_id)
        return found

    async def open(self, thread_id: str) -> StoredThread:
        """Load a stored thread's rollout (for read, resume and fork)."""
        path, archived = await self.find(thread_id)
        rollout = await self.catalog.load(path)
        state = resume_state(rollout.lines)
        summary = await self._summary_of(rollout, archived, state)
        return StoredThread(summary, rollout, state)

    async def resume(self, thread_id: str) -> tuple[StoredThread, RolloutRecorder]:
        """Open a stored thread for appending; -32600 if it is archived or locked elsewhere."""
        stored = await self.open(thread_id)
        if stored.summary.archived:
            raise InvalidRequest(
                f"thread {thread_id} is archived; unarchive it (thread/unarchive) to continue it"
            )
        recorder = await RolloutRecorder.open_existing(stored.rollout.path, thread_id)
        self._recorders[thread_id] = recorder
        return stored, recorder

    def fork(self, source: StoredThread, new_id: str, meta: dict[str, Any]) -> RolloutRecorder:
        """A new thread whose rollout starts with a copy of ``source``'s lines."""
        recorder = self.start(new_id, meta)
        for line in source.rollout.lines:
            if line.type != "session_meta":
                recorder.record(line.type, line.payload)
        return recorder

    async def list(self, query: ListQuery) -> ListPage:
        return await self.catalog.list(query)

    async def summary(self, thread_id: str) -> ThreadSummary:
        path, archived = await self.find(thread_id)
        summary = await self.catalog.summary(path, archived)
        if summary is None:
            rollout = await self.catalog.load(path)  # raises, naming the file
            summary = await self._summary_of(rollout, archived, resume_state(rollout.lines))
        summary.name = (await self.catalog.names()).get(thread_id)
        return summary

    async def archive(self, thread_id: str) -> None:
        path, archived = await self.find(thread_id)
        if archived:
            raise InvalidRequest(f"thread {thread_id} is already archived")
        await self.release(thread_id)
        # Not from under another server that is appending to it.
        await asyncio.to_thread(ensure_unlocked, path, thread_id)
        await self.catalog.archive(path)

    async def unarchive(self, thread_id: str) -> None:
        path, archived = await self.find(thread_id)
        if not archived:
            raise InvalidRequest(f"thread {thread_id} is not archived")
        await self.catalog.unarchive(path)

    async def set_name(self, thread_id: str, name: str) -> None:
        await self.catalog.set_name(thread_id, name)

    async def name_of(self, thread_id: str) -> str | None:
        return (await self.catalog.names()).get(thread_id)

    async def _summary_of(
        self, rollout: Rollout, archived: bool, state: ResumeState
    ) -> ThreadSummary:
        st = await asyncio.to_thread(rollout.path.stat)
        model = state.turn_context.get("model") if state.turn_context else None
        summary = summary_from_meta(
            rollout.path,
            rollout.meta,
            st,
            archived=archived,
            preview=state.preview,
            model=model if isinstance(model, str) else None,
        )
        summary.name = (await self.catalog.names()).get(summary.id)
        return summary
