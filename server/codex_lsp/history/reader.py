"""Reads rollouts: whole files for read/resume, heads and tails for `thread/list`.

Tolerant of everything upstream has written (0.4x through 0.169): unknown line types and payload
fields are kept but ignored by the consumers; a corrupt or truncated line is skipped, with one
warning per file. A file with no readable ``session_meta`` cannot be opened
(:class:`RolloutUnreadable`, -32600 naming the file) and is left where it is.

Listing sorts by the creation time in the file name (or the file's mtime for ``updated_at``) and
only opens the files it returns: the first 64 KiB (``session_meta`` and the first user message)
and the last 64 KiB (the latest model). Summaries are cached by (mtime, size). Every blocking call
here is synchronous; :class:`ThreadCatalog` runs them via :func:`asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
import orjson

from codex_lsp.errors import InvalidParams, InvalidRequest
from codex_lsp.history.rollout import (
    ARCHIVED_DIR,
    SESSION_INDEX_FILE,
    SESSIONS_DIR,
    filename_parts,
    parse_filename,
    parse_timestamp,
    timestamp_now,
)

log = logging.getLogger(__name__)

HEAD_BYTES = 64 * 1024
HEAD_MAX_BYTES = 1024 * 1024  # look this far for the first user message
TAIL_BYTES = 64 * 1024
PREVIEW_CHARS = 120
DEFAULT_LIMIT = 25
MAX_LIMIT = 500
INTERACTIVE_SOURCES = ("cli", "vscode")
DEFAULT_PROVIDER = "openai"

# User messages that are context, not something the user typed (upstream's markers).
CONTEXT_PREFIXES = (
    "<environment_context>",
    "<user_instructions>",
    "# AGENTS.md instructions for",
    "<user_shell_command>",
    "<turn_aborted>",
    "<subagent_notification>",
    "<permissions instructions>",
    "<skill>",
)


class RolloutUnreadable(InvalidRequest):
    """The file holds no readable rollout (no session_meta)."""


@attrs.define
class RolloutLine:
    timestamp: str
    type: str
    payload: dict[str, Any]


@attrs.define
class Rollout:
    """A whole rollout file, parsed."""

    path: Path
    meta: dict[str, Any]
    lines: list[RolloutLine]
    skipped: int = 0


@attrs.define
class ThreadSummary:
    """What `thread/list` shows of a stored thread."""

    id: str
    path: Path
    archived: bool
    created_at: int
    updated_at: int
    session_id: str
    forked_from_id: str | None
    cwd: str
    cli_version: str
    source: Any
    originator: str | None
    model_provider: str
    model: str | None
    preview: str
    git: dict[str, Any] | None
    name: str | None = None


# ---- lines -------------------------------------------------------------------------------------


def parse_line(raw: bytes | str) -> RolloutLine | None:
    """One line, or None if it is not a rollout line (corrupt, truncated, wrong shape)."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return _line_of(record)


def _line_of(record: Any) -> RolloutLine | None:
    if not isinstance(record, dict):
        return None
    line_type, payload = record.get("type"), record.get("payload")
    if not isinstance(line_type, str) or not isinstance(payload, dict):
        return None
    timestamp = record.get("timestamp")
    return RolloutLine(timestamp if isinstance(timestamp, str) else "", line_type, payload)


def _parse_all(raws: list[bytes]) -> list[Any] | None:
    """All lines in one parser call (the common case: nothing corrupt), or None.

    The element count must equal the line count: a damaged line that happened to join its
    neighbour into valid JSON would change it, and then every line is parsed on its own.
    """
    try:
        records = orjson.loads(b"[" + b",".join(raws) + b"]")
    except orjson.JSONDecodeError:
        return None
    return records if isinstance(records, list) and len(records) == len(raws) else None


def message_text(item: dict[str, Any]) -> str:
    """Text of a Responses ``message`` item (input_text / output_text / text parts)."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(
        str(part.get("text", ""))
        for part in content
        if isinstance(part, dict) and part.get("type") in ("input_text", "output_text", "text")
    )


def is_context_message(text: str) -> bool:
    return text.lstrip().startswith(CONTEXT_PREFIXES)


def user_text(line: RolloutLine) -> str | None:
    """What the user typed, if this line is a user message (event or response item)."""
    payload = line.payload
    if line.type == "event_msg" and payload.get("type") == "user_message":
        if payload.get("kind") not in (None, "plain"):
            return None
        text = payload.get("message")
        return text if isinstance(text, str) and not is_context_message(text) else None
    if (
        line.type == "response_item"
        and payload.get("type") == "message"
        and payload.get("role") == "user"
    ):
        text = message_text(payload)
        return None if is_context_message(text) else text
    return None


def _meta_of(line: RolloutLine) -> dict[str, Any] | None:
    if line.type != "session_meta":
        return None
    meta = line.payload
    # 0.4x wrapped it: {"meta": {...}, "git": {...}}
    if isinstance(meta.get("meta"), dict) and "id" not in meta:
        merged = dict(meta["meta"])
        if "git" in meta:
            merged["git"] = meta["git"]
        return merged
    return meta


# ---- whole files -------------------------------------------------------------------------------


def load_rollout(path: Path) -> Rollout:
    """Parse a whole rollout (blocking). Raises RolloutUnreadable if there is no session_meta."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RolloutUnreadable(f"the history file {path.name} no longer exists") from None
    except OSError as exc:
        raise RolloutUnreadable(
            f"cannot read the history file {path.name}: {exc.strerror}"
        ) from None
    raws = [raw for raw in data.split(b"\n") if raw and not raw.isspace()]
    records = _parse_all(raws)
    lines: list[RolloutLine] = []
    skipped, first_bad = 0, 0
    if records is not None:  # fast path: every line parsed in one call
        for record in records:
            line = _line_of(record)
            if line is None:
                skipped += 1
            else:
                lines.append(line)
        if skipped:
            first_bad = next(i for i, r in enumerate(records, start=1) if _line_of(r) is None)
    else:
        for number, raw in enumerate(raws, start=1):
            line = parse_line(raw)
            if line is None:
                skipped += 1
                first_bad = first_bad or number
            else:
                lines.append(line)
    meta = next((m for m in map(_meta_of, lines) if m is not None), None)  # normally line 1
    if meta is None or not isinstance(meta.get("id"), str):
        raise RolloutUnreadable(
            f"the history file {path.name} cannot be read: it has no session_meta line "
            "(it is not a Codex rollout, or it is corrupt); it was left in place"
        )
    if skipped:
        log.warning(
            "%s: skipped %d unreadable line(s) (the first is non-empty line %d); the rest of the thread is intact",
            path.name,
            skipped,
            first_bad,
        )
    return Rollout(path=path, meta=meta, lines=lines, skipped=skipped)


# ---- heads and tails ---------------------------------------------------------------------------


def _lines_of(chunk: bytes, *, drop_first: bool, drop_last: bool) -> list[bytes]:
    parts = chunk.split(b"\n")
    if drop_first:
        parts = parts[1:]
    if drop_last:
        parts = parts[:-1]
    return [p for p in parts if p.strip()]


def read_summary(
    path: Path, *, archived: bool, stat: os.stat_result | None = None
) -> ThreadSummary | None:
    """Summary from the head and tail of a file, or None if it is not a readable rollout."""
    try:
        st = stat or path.stat()
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
            meta: dict[str, Any] | None = None
            preview: str | None = None
            offset = len(head)
            buffer = head
            while True:
                complete = buffer.endswith(b"\n") or offset >= st.st_size
                for raw in _lines_of(buffer, drop_first=False, drop_last=not complete):
                    line = parse_line(raw)
                    if line is None:
                        continue
                    if meta is None:
                        meta = _meta_of(line)
                        if meta is None:
                            return None  # session_meta must come first
                        continue
                    text = user_text(line)
                    if text is not None:
                        preview = text
                        break
                if preview is not None or offset >= min(st.st_size, HEAD_MAX_BYTES):
                    break
                rest = b"" if complete else buffer.rsplit(b"\n", 1)[-1]
                more = handle.read(HEAD_BYTES)
                offset += len(more)
                buffer = rest + more
            model = None
            if meta is not None:
                handle.seek(max(0, st.st_size - TAIL_BYTES))
                tail = handle.read(TAIL_BYTES)
                for raw in reversed(
                    _lines_of(tail, drop_first=st.st_size > TAIL_BYTES, drop_last=False)
                ):
                    line = parse_line(raw)
                    if line is not None and line.type == "turn_context":
                        model = line.payload.get("model")
                        break
    except OSError:
        return None
    if meta is None or not isinstance(meta.get("id"), str):
        return None
    return summary_from_meta(
        path,
        meta,
        st,
        archived=archived,
        preview=preview or "",
        model=model if isinstance(model, str) else None,
    )


def summary_from_meta(
    path: Path,
    meta: dict[str, Any],
    st: os.stat_result,
    *,
    archived: bool,
    preview: str,
    model: str | None,
) -> ThreadSummary:
    thread_id = str(meta["id"])
    named = parse_filename(path.name)
    created = parse_timestamp(meta.get("timestamp")) or (named[0] if named else st.st_mtime)
    git = meta.get("git") if isinstance(meta.get("git"), dict) else None
    return ThreadSummary(
        id=thread_id,
        path=path,
        archived=archived,
        created_at=int(created),
        updated_at=int(st.st_mtime),
        session_id=str(meta.get("session_id") or thread_id),
        forked_from_id=meta.get("forked_from_id")
        if isinstance(meta.get("forked_from_id"), str)
        else None,
        cwd=str(meta.get("cwd") or ""),
        cli_version=str(meta.get("cli_version") or ""),
        source=meta.get("source") if meta.get("source") is not None else "unknown",
        originator=meta.get("originator") if isinstance(meta.get("originator"), str) else None,
        model_provider=str(meta.get("model_provider") or DEFAULT_PROVIDER),
        model=model,
        preview=preview[:PREVIEW_CHARS],
        git=git,
    )


def source_kind(source: Any) -> str:
    """The ThreadSourceKind of a session_meta ``source`` (a string or ``{subagent: ...}``)."""
    if isinstance(source, str):
        return {"app_server": "appServer", "appserver": "appServer", "mcp": "appServer"}.get(
            source, source
        )
    if isinstance(source, dict):
        sub = source.get("subagent") or source.get("subAgent")
        if sub is not None:
            if isinstance(sub, str):
                return {"review": "subAgentReview", "compact": "subAgentCompact"}.get(
                    sub, "subAgentOther"
                )
            if isinstance(sub, dict) and "thread_spawn" in sub:
                return "subAgentThreadSpawn"
            return "subAgentOther"
    return "unknown"


# ---- names (upstream's session_index.jsonl) ----------------------------------------------------


def read_names(codex_home: Path) -> dict[str, str]:
    """Latest name per thread id; later lines win, an empty name clears."""
    names: dict[str, str] = {}
    try:
        data = (codex_home / SESSION_INDEX_FILE).read_bytes()
    except OSError:
        return names
    for raw in data.split(b"\n"):
        try:
            entry = json.loads(raw) if raw.strip() else None
        except ValueError:
            continue
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("id"), str)
            and isinstance(entry.get("thread_name"), str)
        ):
            name = entry["thread_name"].strip()
            if name:
                names[entry["id"]] = name
            else:
                names.pop(entry["id"], None)
    return names


def append_name(codex_home: Path, thread_id: str, name: str) -> None:
    """Append a name entry (one write, fsynced)."""
    codex_home.mkdir(parents=True, exist_ok=True)
    line = json.dumps(
        {"id": thread_id, "thread_name": name, "updated_at": timestamp_now()}, ensure_ascii=False
    )
    fd = os.open(
        codex_home / SESSION_INDEX_FILE,
        os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
        0o600,
    )
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- listing -----------------------------------------------------------------------------------


@attrs.frozen
class ListQuery:
    """`thread/list` filters, already validated."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    sort_key: str = "created_at"
    descending: bool = True
    archived: bool = False
    cwds: tuple[str, ...] | None = None
    search_term: str | None = None
    model_providers: tuple[str, ...] | None = None
    source_kinds: tuple[str, ...] = INTERACTIVE_SOURCES


@attrs.define
class ListPage:
    data: list[ThreadSummary]
    next_cursor: str | None


def encode_cursor(sort_key: str, key: int | str, thread_id: str) -> str:
    raw = json.dumps([sort_key, key, thread_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort_key: str) -> tuple[Any, str]:
    bad = InvalidParams(
        "params.cursor: not a cursor returned by thread/list with this sortKey; start again without a cursor"
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key_name, key, thread_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        raise bad from None
    key_type = int if sort_key == "updated_at" else str
    if key_name != sort_key or type(key) is not key_type or not isinstance(thread_id, str):
        raise bad
    return key, thread_id


@attrs.frozen
class _File:
    stamp: str  # local-time stamp from the name; sorts chronologically
    thread_id: str
    path: str


@attrs.frozen
class _Dir:
    mtime_ns: int
    subdirs: tuple[str, ...]
    files: tuple[_File, ...]


_Files = list[_File]  # (the class below has a method named `list`)

# A directory changed this recently may still get files within the same mtime tick: rescan it.
_FRESH_NS = 2_000_000_000


class ThreadCatalog:
    """Finds, lists and moves the rollouts under one ``$CODEX_HOME``.

    Directory listings are cached by the directory's mtime and file summaries by (mtime, size), so
    a warm `thread/list` stats a few directories and the files of its page, nothing more.
    """

    def __init__(self, codex_home: Path) -> None:
        self.codex_home = codex_home
        self._summaries: dict[str, tuple[int, int, ThreadSummary | None]] = {}
        self._names: tuple[tuple[int, int], dict[str, str]] | None = None
        self._dirs: dict[str, _Dir] = {}
        self._sorted: dict[str, tuple[tuple[tuple[str, int], ...], _Files]] = {}

    @property
    def sessions_dir(self) -> Path:
        return self.codex_home / SESSIONS_DIR

    @property
    def archived_dir(self) -> Path:
        return self.codex_home / ARCHIVED_DIR

    # ---- async API -----------------------------------------------------------------------------

    async def list(self, query: ListQuery) -> ListPage:
        return await asyncio.to_thread(self.list_sync, query)

    async def find(self, thread_id: str) -> tuple[Path, bool] | None:
        return await asyncio.to_thread(self.find_sync, thread_id)

    async def summary(self, path: Path, archived: bool) -> ThreadSummary | None:
        return await asyncio.to_thread(self._summary, path, archived)

    async def load(self, path: Path) -> Rollout:
        return await asyncio.to_thread(load_rollout, path)

    async def names(self) -> dict[str, str]:
        return await asyncio.to_thread(self._read_names)

    async def set_name(self, thread_id: str, name: str) -> None:
        await asyncio.to_thread(append_name, self.codex_home, thread_id, name)

    async def archive(self, path: Path) -> Path:
        return await asyncio.to_thread(self._move, path, self.archived_dir / path.name)

    async def unarchive(self, path: Path) -> Path:
        named = parse_filename(path.name)
        created = named[0] if named else time.time()
        day = time.strftime("%Y/%m/%d", time.localtime(created))
        return await asyncio.to_thread(self._move, path, self.sessions_dir / day / path.name)

    # ---- directory scans -----------------------------------------------------------------------

    def _scan(self, directory: str, now_ns: int) -> _Dir | None:
        try:
            mtime_ns = os.stat(directory).st_mtime_ns
        except OSError:
            self._dirs.pop(directory, None)
            return None
        cached = self._dirs.get(directory)
        if cached is not None and cached.mtime_ns == mtime_ns and now_ns - mtime_ns > _FRESH_NS:
            return cached
        subdirs: list[str] = []
        files: list[_File] = []
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    parts = filename_parts(entry.name)
                    if parts is not None:
                        files.append(_File(parts[0], parts[1], entry.path))
                    elif entry.is_dir(follow_symlinks=False):
                        subdirs.append(entry.path)
        except OSError:
            return None
        scanned = _Dir(mtime_ns, tuple(subdirs), tuple(files))
        self._dirs[directory] = scanned
        return scanned

    def _files(self, root: Path, *, recursive: bool) -> _Files:
        """Every rollout under ``root``, newest name first (cached while no directory changed)."""
        now_ns = time.time_ns()
        signature: list[tuple[str, int]] = []
        files: _Files = []
        stack = [str(root)]
        while stack:
            directory = stack.pop()
            scanned = self._scan(directory, now_ns)
            if scanned is None:
                continue
            signature.append((directory, scanned.mtime_ns))
            files.extend(scanned.files)
            if recursive:
                stack.extend(scanned.subdirs)
        key = tuple(signature)
        cached = self._sorted.get(str(root))
        if cached is not None and cached[0] == key:
            return cached[1]
        files.sort(key=lambda f: (f.stamp, f.thread_id), reverse=True)
        self._sorted[str(root)] = (key, files)
        return files

    # ---- blocking implementations --------------------------------------------------------------

    def find_sync(self, thread_id: str) -> tuple[Path, bool] | None:
        """(path, archived) of a thread's rollout, or None."""
        wanted = thread_id.lower()
        for archived, root in ((False, self.sessions_dir), (True, self.archived_dir)):
            for f in self._files(root, recursive=not archived):
                if f.thread_id == wanted:
                    return Path(f.path), archived
        return None

    def list_sync(self, query: ListQuery) -> ListPage:
        root = self.archived_dir if query.archived else self.sessions_dir
        files = self._files(root, recursive=not query.archived)
        keyed: list[tuple[Any, _File]]
        if query.sort_key == "updated_at":
            keyed = []
            for f in files:
                try:
                    keyed.append((os.stat(f.path).st_mtime_ns // 1_000_000, f))
                except OSError:
                    continue
            keyed.sort(key=lambda kf: (kf[0], kf[1].thread_id), reverse=True)
        else:
            keyed = [(f.stamp, f) for f in files]  # already newest first
        if not query.descending:
            keyed.reverse()
        start = 0
        if query.cursor is not None:
            after = decode_cursor(query.cursor, query.sort_key)
            start = len(keyed)
            for i, (key, f) in enumerate(keyed):
                here = (key, f.thread_id)
                if (here < after) if query.descending else (here > after):
                    start = i
                    break
        names = self._read_names()
        page: list[ThreadSummary] = []
        last: tuple[Any, str] | None = None
        more = False
        for key, f in keyed[start:]:
            summary = self._summary(Path(f.path), query.archived)
            if summary is None:
                continue
            summary.name = names.get(summary.id)
            if not _matches(summary, query):
                continue
            if len(page) == query.limit:
                more = True
                break
            page.append(summary)
            last = (key, f.thread_id)
        next_cursor = encode_cursor(query.sort_key, last[0], last[1]) if more and last else None
        return ListPage(page, next_cursor)

    def _summary(self, path: Path, archived: bool) -> ThreadSummary | None:
        try:
            st = path.stat()
        except OSError:
            return None
        key = str(path)
        cached = self._summaries.get(key)
        if cached is not None and cached[0] == st.st_mtime_ns and cached[1] == st.st_size:
            return attrs.evolve(cached[2]) if cached[2] is not None else None
        summary = read_summary(path, archived=archived, stat=st)
        if summary is None:
            log.warning(
                "%s is not a readable rollout (no session_meta); it is not listed", path.name
            )
        self._summaries[key] = (st.st_mtime_ns, st.st_size, summary)
        return attrs.evolve(summary) if summary is not None else None

    def _read_names(self) -> dict[str, str]:
        try:
            st = (self.codex_home / SESSION_INDEX_FILE).stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            return {}
        if self._names is None or self._names[0] != stamp:
            self._names = (stamp, read_names(self.codex_home))
        return self._names[1]

    def _move(self, source: Path, target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise InvalidRequest(
                f"cannot move {source.name}: {target.parent.name}/ already has a file of that name"
            )
        os.rename(source, target)
        self._summaries.pop(str(source), None)
        return target


def _matches(summary: ThreadSummary, query: ListQuery) -> bool:
    if query.cwds is not None and summary.cwd not in query.cwds:
        return False
    if query.model_providers and summary.model_provider not in query.model_providers:
        return False
    if query.source_kinds and source_kind(summary.source) not in query.source_kinds:
        return False
    if query.search_term:
        needle = query.search_term.casefold()
        title = f"{summary.name or ''}\n{summary.preview}".casefold()
        if needle not in title:
            return False
    return True


def as_tuple(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


def ids_of(summaries: Iterable[ThreadSummary]) -> list[str]:
    return [s.id for s in summaries]
