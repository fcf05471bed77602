"""Writes one thread's rollout: one writer task per thread, fed by an :class:`asyncio.Queue`.

``record()`` never blocks the event loop: it encodes the line (so later changes to the payload
don't leak in) and queues it. The writer task scrubs secrets, appends batches with ``os.write``
on an ``O_APPEND`` descriptor (each line whole, so a crash loses at most the line being written)
and fsyncs when asked: ``flush()`` is acknowledged once the lines before it are on disk (called
at every turn end, which is announced once they are written), ``aclose()`` flushes and releases
the file (called at shutdown).

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


class _Flush:
    def __init__(self, *, sync: bool) -> None:
        self.sync = sync  # fsync too, not just write
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


_CLOSE = object()


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

    async def flush(self, *, sync: bool = True) -> None:
        """Return once everything recorded so far is written, and fsynced if ``sync``."""
        if self._task is None or self._closed:
            return
        marker = _Flush(sync=sync)
        self._queue.put_nowait(marker)
        await asyncio.shield(marker.done)

    async def aclose(self) -> None:
        """Flush, stop the writer and release the file lock. Idempotent."""
        if self._closed:
            return
        await self.flush()
        self._closed = True
        if self._task is not None:
            self._queue.put_nowait(_CLOSE)
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

    async def _writer(self) -> None:
        while True:
            batch: list[bytes] = []
            flushes: list[_Flush] = []
            stop = False
            entry = await self._queue.get()
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
                await self._write(batch, fsync=any(marker.sync for marker in flushes))
            for marker in flushes:
                if not marker.done.done():
                    marker.done.set_result(None)
            if stop:
                return

    async def _write(self, batch: list[bytes], *, fsync: bool) -> None:
        try:
            await asyncio.to_thread(self._write_sync, batch, fsync)
        except RolloutLocked as exc:
            self._report(exc.message)
        except OSError as exc:
            self._report(f"{type(exc).__name__}: {exc.strerror or exc}")

    def _write_sync(self, batch: list[bytes], fsync: bool) -> None:
        if _TEST_WRITE_DELAY_S:
            time.sleep(_TEST_WRITE_DELAY_S)  # tests only: a slow disk
        if batch and self._fd is None:
            self._fd = _open_locked(self.path, self.thread_id)
        if self._fd is None:
            return
        if batch:
            data = scrub_line(b"".join(batch).decode("utf-8")).encode("utf-8")
            _write_all(self._fd, data)
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
