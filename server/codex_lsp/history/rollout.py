"""Upstream's rollout format: where files live, what a line looks like, ids and timestamps.

A rollout is `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-YYYY-MM-DDThh-mm-ss-<threadId>.jsonl` (local
time, `-` for `:`); archived ones sit flat in `$CODEX_HOME/archived_sessions/`. Each line is
``{"timestamp": RFC3339, "type": T, "payload": {...}}`` with ``session_meta`` first.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

SESSIONS_DIR = "sessions"
ARCHIVED_DIR = "archived_sessions"
SESSION_INDEX_FILE = "session_index.jsonl"  # upstream's thread names: append-only, newest wins

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def new_thread_id() -> str:
    """A UUIDv7 (as upstream's ids): ids created later sort later, even within one second."""
    ms = time.time_ns() // 1_000_000
    value = (ms & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def is_thread_id(text: str) -> bool:
    return bool(_UUID.match(text))


def timestamp_now() -> str:
    """RFC 3339 UTC with milliseconds, as upstream writes it (``2025-05-07T17:24:21.123Z``)."""
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def parse_timestamp(text: Any) -> float | None:
    """Unix seconds of an RFC 3339 timestamp, or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def rollout_filename(thread_id: str, created: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.localtime(created))
    return f"rollout-{stamp}-{thread_id}.jsonl"


def rollout_path(codex_home: Path, thread_id: str, created: float) -> Path:
    day = time.strftime("%Y/%m/%d", time.localtime(created))
    return codex_home / SESSIONS_DIR / day / rollout_filename(thread_id, created)


def filename_parts(name: str) -> tuple[str, str] | None:
    """(local-time stamp ``YYYY-MM-DDThh-mm-ss``, lower-case thread id) of a rollout file name.

    Cheap on purpose (listing calls it for every file): stamps sort chronologically as strings.
    """
    if len(name) != 70 or not name.startswith("rollout-") or not name.endswith(".jsonl"):
        return None
    stamp, thread_id = name[8:27], name[28:64]
    if name[27] != "-" or stamp[10] != "T" or not _UUID.match(thread_id):
        return None
    return stamp, thread_id.lower()


def stamp_seconds(stamp: str) -> float | None:
    """Unix seconds of a file-name stamp (local time)."""
    try:
        y, mo, d = int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10])
        h, mi, s = int(stamp[11:13]), int(stamp[14:16]), int(stamp[17:19])
        return time.mktime((y, mo, d, h, mi, s, 0, 0, -1))
    except (ValueError, OverflowError):
        return None


def parse_filename(name: str) -> tuple[float, str] | None:
    """(created unix seconds from the local-time stamp, thread id) of a rollout file name."""
    parts = filename_parts(name)
    if parts is None:
        return None
    created = stamp_seconds(parts[0])
    return (created, parts[1]) if created is not None else None


def encode_line(line_type: str, payload: dict[str, Any], timestamp: str | None = None) -> bytes:
    """One rollout line, newline-terminated, compact UTF-8 JSON (one write per line)."""
    record = {"timestamp": timestamp or timestamp_now(), "type": line_type, "payload": payload}
    try:
        return orjson.dumps(record) + b"\n"
    except TypeError:  # e.g. an int beyond 64 bits: the standard library copes
        return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode(
            "utf-8"
        )


def iter_rollout_files(root: Path, *, recursive: bool) -> list[os.DirEntry[str]]:
    """Rollout files under ``root`` (sessions/YYYY/MM/DD when recursive, flat otherwise)."""
    found: list[os.DirEntry[str]] = []
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:  # missing or unreadable directory: nothing there
            continue
        for entry in entries:
            if entry.name.endswith(".jsonl") and entry.name.startswith("rollout-"):
                found.append(entry)
            elif recursive and entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
    return found
