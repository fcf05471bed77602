"""Writes one thread's rollout: one writer task per thread, fed by an :class:`asyncio.Queue`.

``record()`` never blocks the event loop: it encodes the line (so later changes to the payload
don't leak in) and queues it. The writer task gathers lines for up to :data:`COALESCE_S` (a
worker-thread hop per line costs the event loop more than the write itself), then scrubs secrets
and appends the batch with ``os.write`` on an ``O_APPEND`` descriptor (each line whole), so a crash
loses at most the lines of the last :data:`COALESCE_S`. ``flush()`` and ``aclose()`` don't wait
for the window: ``flush()`` writes at once and fsyncs in the same worker hop, and returns once the
lines are on disk, or once written (``durable=False``, how a turn end waits before it is
announced); ``aclose()`` flushes and releases the file (called at shutdown).

A new thread's file is created with its first item (``session_meta`` goes first). Each open
rollout is held under an exclusive ``flock``: a second server trying to append to the same thread
gets :class:`RolloutLocked` instead of interleaving lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codex_lsp.errors import InvalidRequest
from codex_lsp.history.policy import is_persisted, scrub_line
from codex_lsp.history.rollout import encode_line

log = logging.getLogger(__name__)
# Tests only (with CODEX_LSP_TEST_HOOKS=1): every rollout write first sleeps this long.
_TEST_WRITE_DELAY_S = (
    float(os.environ.get("CODEX_LSP_TEST_ROLLOUT_WRITE_DELAY_S", "0") or 0)
    if os.environ.get("CODEX_LSP_TEST_HOOKS") == "1"
    else 0.0
)


class RolloutLocked(InvalidRequest):
    """Another process appends to this rollout."""


# How long the writer gathers lines before it writes them (flush and close don't wait).
COALESCE_S = 0.05


class _Flush:
    def __init__(self, *, durable: bool) -> None:
        self.durable = durable  # acknowledged after the fsync, not once written
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


_CLOSE = object()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _resolve_all(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        _resolve(future)


def _open_locked(path: Path, thread_id: str) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise RolloutLocked(
            f"thread {thread_id} is open in another codex-lsp server, which is writing its history; "
            "continue it there, close that editor window, or fork the thread (thread/fork)"
        ) from None
    return fd


def ensure_unlocked(path: Path, thread_id: str) -> None:
    """Raise :class:`RolloutLocked` if another process appends to ``path`` (blocking)."""
    os.close(_open_locked(path, thread_id))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class RolloutRecorder:
    """Appends lines to one rollout file. Create with :meth:`new` or :meth:`open_existing`."""

    def __init__(
        self, path: Path, thread_id: str, *, fd: int | None, pending_meta: bytes | None
    ) -> None:
        self.path = path
        self.thread_id = thread_id
        self._fd = fd
        self._pending_meta = pending_meta  # written before the first item of a new thread
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._hurry: asyncio.Future[None] | None = None  # ends the gathering window early
        self._urgent = False  # a flush or close is queued: write without waiting
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._failed = False

    @classmethod
    def new(cls, path: Path, thread_id: str, session_meta: dict[str, Any]) -> RolloutRecorder:
        """A recorder for a new thread; its file appears with the first recorded item."""
        return cls(path, thread_id, fd=None, pending_meta=encode_line("session_meta", session_meta))

    @classmethod
    async def open_existing(cls, path: Path, thread_id: str) -> RolloutRecorder:
        """Append to an existing rollout (resume); raises :class:`RolloutLocked` if it is in use."""
        fd = await asyncio.to_thread(_open_locked, path, thread_id)
        return cls(path, thread_id, fd=fd, pending_meta=None)

    @property
    def materialized(self) -> bool:
        """Whether the file exists (something was recorded or it was resumed)."""
        return self._pending_meta is None

    # ---- producer side -------------------------------------------------------------------------

    def record(self, line_type: str, payload: dict[str, Any]) -> None:
        """Queue one line (dropped if the policy does not persist it)."""
        if self._closed or not is_persisted(line_type, payload):
            return
        if self._pending_meta is not None:
            self._queue.put_nowait(self._pending_meta)
            self._pending_meta = None
        self._queue.put_nowait(encode_line(line_type, payload))
        self._ensure_writer()

    def record_items(self, items: list[dict[str, Any]]) -> None:
        """Queue Responses items as ``response_item`` lines."""
        for item in items:
            self.record("response_item", item)

    async def flush(self, *, durable: bool = True) -> None:
        """Write everything recorded so far now and fsync it; return once it is on disk, or once
        it is written (the fsync still follows) when not ``durable``."""
        if self._task is None or self._closed:
            return
        marker = _Flush(durable=durable)
        self._put_urgent(marker)
        await asyncio.shield(marker.done)

    async def aclose(self) -> None:
        """Flush, stop the writer and release the file lock. Idempotent."""
        if self._closed:
            return
        await self.flush()
        self._closed = True
        if self._task is not None:
            self._put_urgent(_CLOSE)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # ---- writer task ---------------------------------------------------------------------------

    def _ensure_writer(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._writer(), name=f"rollout-{self.thread_id}"
            )

    def _put_urgent(self, entry: Any) -> None:
        self._queue.put_nowait(entry)
        self._urgent = True
        if self._hurry is not None:
            _resolve(self._hurry)

    async def _gather(self) -> None:
        """Wait out the gathering window, or until a flush or close cuts it short."""
        loop = asyncio.get_running_loop()
        self._hurry = loop.create_future()
        timer = loop.call_later(COALESCE_S, _resolve, self._hurry)
        try:
            await self._hurry
        finally:
            timer.cancel()
            self._hurry = None

    async def _writer(self) -> None:
        while True:
            entry = await self._queue.get()
            if not self._urgent:
                await self._gather()
            self._urgent = False  # the drain below takes every flush or close queued so far
            batch: list[bytes] = []
            flushes: list[_Flush] = []
            stop = False
            while True:
                if entry is _CLOSE:
                    stop = True
                elif isinstance(entry, _Flush):
                    flushes.append(entry)
                else:
                    batch.append(entry)
                if self._queue.empty() or stop:
                    break
                entry = self._queue.get_nowait()
            if batch or flushes:
                await self._write(batch, flushes)
            for marker in flushes:
                _resolve(marker.done)
            if stop:
                return

    async def _write(self, batch: list[bytes], flushes: list[_Flush]) -> None:
        loop = asyncio.get_running_loop()
        eager = [marker.done for marker in flushes if not marker.durable]

        def written() -> None:  # in the worker, between the write and the fsync
            if eager:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (exit)
                    loop.call_soon_threadsafe(_resolve_all, eager)

        try:
            await asyncio.to_thread(self._write_sync, batch, bool(flushes), written)
        except RolloutLocked as exc:
            self._report(exc.message)
        except OSError as exc:
            self._report(f"{type(exc).__name__}: {exc.strerror or exc}")

    def _write_sync(self, batch: list[bytes], fsync: bool, written: Callable[[], None]) -> None:
        if _TEST_WRITE_DELAY_S:
            time.sleep(_TEST_WRITE_DELAY_S)  # tests only: a slow disk
        if batch and self._fd is None:
            self._fd = _open_locked(self.path, self.thread_id)
        if self._fd is None:
            return
        if batch:
            data = scrub_line(b"".join(batch).decode("utf-8")).encode("utf-8")
            _write_all(self._fd, data)
        written()
        if fsync:
            os.fsync(self._fd)

    def _report(self, message: str) -> None:
        if not self._failed:  # one warning, not one per line
            log.warning(
                "cannot write the history of thread %s (%s): %s",
                self.thread_id,
                self.path.name,
                message,
            )
        self._failed = True
