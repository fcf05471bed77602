"""AGENTS.md discovery, as upstream's `project_doc.rs` does it.

Global: `$CODEX_HOME/AGENTS.override.md`, else `$CODEX_HOME/AGENTS.md`. Project: every directory
from the git root (the nearest ancestor of the cwd holding a `.git` directory or file; without
one, only the cwd) down to the cwd contributes the first non-empty of `AGENTS.override.md`,
`AGENTS.md` and the configured fallback names. Project docs are joined root-first with blank
lines and capped at `project_doc_max_bytes` together (0 disables them). The text the model gets
is the global part, then `--- project-doc ---`, then the project part, wrapped as a user message
`# AGENTS.md instructions for <cwd>` + `<INSTRUCTIONS>…</INSTRUCTIONS>`.

Reading is blocking file IO: call :func:`load_instructions` off the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

log = logging.getLogger(__name__)

OVERRIDE_NAME = "AGENTS.override.md"
DEFAULT_NAME = "AGENTS.md"
DEFAULT_MAX_BYTES = 32 * 1024
GLOBAL_MAX_BYTES = 256 * 1024  # the global file is not capped upstream; we still bound the read
PROJECT_SEPARATOR = "\n\n--- project-doc ---\n\n"
HEADER_PREFIX = "# AGENTS.md instructions for "
OPEN_TAG = "<INSTRUCTIONS>"
CLOSE_TAG = "</INSTRUCTIONS>"


@attrs.frozen
class Instructions:
    """The combined AGENTS.md text for one cwd and where it came from."""

    cwd: Path
    text: str
    sources: tuple[Path, ...]
    truncated: bool = False


def find_git_root(cwd: Path) -> Path | None:
    """The nearest directory at or above ``cwd`` containing `.git` (a directory or a file)."""
    for directory in (cwd, *cwd.parents):
        if (directory / ".git").exists():
            return directory
    return None


def project_dirs(cwd: Path) -> list[Path]:
    """Directories whose docs apply to ``cwd``, root first."""
    root = find_git_root(cwd)
    if root is None:
        return [cwd]
    chain = [cwd]
    for directory in cwd.parents:
        if chain[-1] == root:
            break
        chain.append(directory)
    return list(reversed(chain))


def _read_text(path: Path, limit: int) -> tuple[str, bool]:
    """Up to ``limit`` bytes of a regular file as text (a cut UTF-8 sequence is dropped)."""
    try:
        if not path.is_file():
            return "", False
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc.strerror or type(exc).__name__)
        return "", False
    truncated = len(data) > limit
    return data[:limit].decode("utf-8", "ignore"), truncated


def _first_non_empty(
    directory: Path, names: Sequence[str], limit: int
) -> tuple[Path, str, bool] | None:
    for name in names:
        path = directory / name
        text, truncated = _read_text(path, limit)
        if text.strip():
            return path, text, truncated
    return None


def global_instructions(codex_home: Path) -> tuple[Path, str] | None:
    found = _first_non_empty(codex_home, (OVERRIDE_NAME, DEFAULT_NAME), GLOBAL_MAX_BYTES)
    return (found[0], found[1].strip()) if found else None


def project_docs(
    cwd: Path, fallback_names: Sequence[str] = (), max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[Path], str, bool]:
    """(sources, joined text, truncated) of the project docs for ``cwd``; empty when disabled."""
    if max_bytes <= 0:
        return [], "", False
    names = [OVERRIDE_NAME, DEFAULT_NAME, *(n for n in fallback_names if n)]
    budget = max_bytes
    sources: list[Path] = []
    parts: list[str] = []
    truncated = False
    for directory in project_dirs(cwd):
        if budget <= 0:
            truncated = True
            break
        found = _first_non_empty(directory, names, budget)
        if found is None:
            continue
        path, text, cut = found
        sources.append(path)
        parts.append(text)
        budget -= len(text.encode("utf-8"))
        truncated = truncated or cut
    if truncated:
        log.warning(
            "project docs for %s exceed project_doc_max_bytes=%d; truncated", cwd, max_bytes
        )
    return sources, "\n\n".join(p.strip() for p in parts if p.strip()), truncated


def load_instructions(
    cwd: Path,
    codex_home: Path,
    *,
    fallback_names: Sequence[str] = (),
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Instructions | None:
    """Everything AGENTS.md says for ``cwd``; None when there is nothing to say."""
    global_part = global_instructions(codex_home)
    sources, project_text, truncated = project_docs(cwd, fallback_names, max_bytes)
    pieces: list[str] = []
    all_sources: list[Path] = []
    if global_part is not None:
        all_sources.append(global_part[0])
        pieces.append(global_part[1])
    if project_text:
        all_sources.extend(sources)
        if pieces:
            pieces.append(PROJECT_SEPARATOR.strip("\n"))
        pieces.append(project_text)
    if not pieces:
        return None
    text = "\n\n".join(pieces)
    return Instructions(cwd=cwd, text=text, sources=tuple(all_sources), truncated=truncated)


def message_text(instructions: Instructions) -> str:
    return f"{HEADER_PREFIX}{instructions.cwd}\n\n{OPEN_TAG}\n{instructions.text}\n{CLOSE_TAG}"


def agents_md_item(instructions: Instructions) -> dict[str, Any]:
    """The Responses-API user message carrying the instructions."""
    return {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": message_text(instructions)}],
    }


def _first_text(item: Mapping[str, Any]) -> str | None:
    if item.get("type") != "message" or item.get("role") != "user":
        return None
    content = item.get("content")
    if not isinstance(content, list) or not content or not isinstance(content[0], dict):
        return None
    text = content[0].get("text")
    return text if isinstance(text, str) else None


def agents_md_cwd(item: Mapping[str, Any]) -> str | None:
    """The cwd an AGENTS.md message in the history was sent for; None for other items."""
    text = _first_text(item)
    if text is None or not text.startswith(HEADER_PREFIX) or OPEN_TAG not in text:
        return None
    return text[len(HEADER_PREFIX) :].split("\n", 1)[0]


def last_sent_cwd(history: Sequence[Mapping[str, Any]]) -> str | None:
    """The cwd of the most recent AGENTS.md message in the history (None: never sent)."""
    for item in reversed(history):
        cwd = agents_md_cwd(item)
        if cwd is not None:
            return cwd
    return None
