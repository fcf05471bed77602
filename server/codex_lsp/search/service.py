"""`fuzzyFileSearch`: one index per root (kept for the next searches), searches run in a worker
thread, and a newer search with the same cancellation token cancels the older one, which then
answers at once with no files."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from codex_lsp.errors import InvalidParams
from codex_lsp.search.index import FileIndex
from codex_lsp.search.matcher import Cancelled, Candidates, Match, search_within

MATCH_LIMIT = 50
MAX_ROOTS = 16
MAX_QUERY_CHARS = 512


@attrs.frozen
class FileMatch:
    root: str
    path: str
    file_name: str
    score: int
    indices: tuple[int, ...]
    is_dir: bool


def check_roots(roots: Sequence[str], field: str = "params.roots") -> list[Path]:
    if len(roots) > MAX_ROOTS:
        raise InvalidParams(f"{field}: at most {MAX_ROOTS} roots can be searched at once")
    paths = []
    for index, raw in enumerate(roots):
        path = Path(raw)
        if "\x00" in raw or not path.is_absolute():
            raise InvalidParams(f"{field}[{index}]: must be an absolute directory path")
        if not path.is_dir():
            raise InvalidParams(f"{field}[{index}]: {raw!r} is not an existing directory")
        paths.append(path)
    return paths


class FileSearch:
    """Searches files under roots; keeps the indexes of the last ``max_indexes`` roots."""

    def __init__(self, *, max_indexes: int = 8, limit: int = MATCH_LIMIT) -> None:
        self._indexes: OrderedDict[Path, FileIndex] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit
        self._max_indexes = max_indexes
        self._pending: dict[str, _Pending] = {}
        self._last: dict[Path, tuple[Candidates, str, list[int]]] = {}
        # Searches get their own threads so a burst of keystrokes can't starve other work.
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="file-search")

    def index_for(self, root: Path) -> FileIndex:
        with self._lock:
            index = self._indexes.get(root)
            if index is None:
                index = self._indexes[root] = FileIndex(root)
            self._indexes.move_to_end(root)
            while len(self._indexes) > self._max_indexes:
                self._indexes.popitem(last=False)
            return index

    def warm(self, root: Path) -> None:
        """Build a root's index now (blocking), so the first search is fast."""
        self.index_for(root).refresh()

    def run(
        self, query: str, roots: Sequence[Path], labels: Sequence[str], cancel: threading.Event
    ) -> list[FileMatch]:
        """Blocking search over the roots; [] when cancelled."""
        found: list[FileMatch] = []
        used: list[FileIndex] = []
        try:
            for root, label in zip(roots, labels, strict=True):
                if cancel.is_set():
                    return []
                index = self.index_for(root)
                used.append(index)
                candidates, is_dir = index.snapshot()
                try:
                    matches = self._match(root, candidates, query, cancel)
                except Cancelled:
                    return []
                for m in matches:
                    path = candidates.paths[m.index]
                    name = path.rsplit("/", 1)[-1]
                    found.append(FileMatch(label, path, name, m.score, m.indices, is_dir[m.index]))
        finally:
            for index in used:
                index.check_soon()
        found.sort(key=lambda f: (-f.score, f.path))
        return [] if cancel.is_set() else found[: self._limit]

    def _match(
        self, root: Path, candidates: Candidates, query: str, cancel: threading.Event
    ) -> list[Match]:
        # While the user types, each query extends the last one: its matches can only be among
        # the last one's (a case-sensitive match is also a case-insensitive one).
        with self._lock:
            last = self._last.get(root)
        within = None
        if last is not None and last[0] is candidates and query.startswith(last[1]):
            within = last[2]
        matches, matched = search_within(candidates, query, self._limit, within, cancel.is_set)
        with self._lock:
            self._last[root] = (candidates, query, matched)
        return matches

    async def search(
        self, query: str, roots: Sequence[str], token: str | None = None
    ) -> list[FileMatch]:
        """Search off the event loop. A newer call with the same ``token`` cancels this one."""
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidParams(f"params.query: at most {MAX_QUERY_CHARS} characters")
        paths = check_roots(roots)
        loop = asyncio.get_running_loop()
        mine = _Pending(threading.Event(), loop.create_future())
        if token is not None:
            older = self._pending.get(token)
            if older is not None:
                older.cancel()
            self._pending[token] = mine
        try:
            if not paths:
                return []
            if not query.strip():
                # Nothing to match; prepare the indexes so the next keystroke's answer is fast.
                for root in paths:
                    loop.run_in_executor(self._executor, self.warm, root).add_done_callback(
                        _consume
                    )
                return []
            work = loop.run_in_executor(
                self._executor, self.run, query, paths, list(roots), mine.flag
            )
            waiters: set[asyncio.Future[Any]] = {work, mine.superseded}
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                mine.flag.set()  # the worker stops at its next check; its result is not wanted
                work.add_done_callback(_consume)
                return []
            return work.result()
        finally:
            if token is not None and self._pending.get(token) is mine:
                del self._pending[token]
            if not mine.superseded.done():
                mine.superseded.cancel()

    def close(self) -> None:
        for pending in self._pending.values():
            pending.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)


@attrs.frozen
class _Pending:
    flag: threading.Event  # seen by the worker thread
    superseded: asyncio.Future[None]  # awaited by the request

    def cancel(self) -> None:
        self.flag.set()
        if not self.superseded.done():
            self.superseded.set_result(None)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved, so asyncio does not log it
