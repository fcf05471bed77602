"""Parse the Codex patch format (the `apply_patch` tool's input) into hunks.

The grammar, as upstream's `tool_apply_patch.lark` states it (see `grammar.py`)::

    start:         begin_patch hunk+ end_patch
    begin_patch:   "*** Begin Patch" LF
    end_patch:     "*** End Patch" LF?
    hunk:          add_hunk | delete_hunk | update_hunk
    add_hunk:      "*** Add File: " filename LF add_line+
    delete_hunk:   "*** Delete File: " filename LF
    update_hunk:   "*** Update File: " filename LF change_move? change?
    change_move:   "*** Move to: " filename LF
    change:        (change_context | change_line)+ eof_line?
    change_context: ("@@" | "@@ " /(.+)/) LF
    change_line:   ("+" | "-" | " ") /(.*)/ LF
    eof_line:      "*** End of File" LF

Like upstream we are lenient where models are known to slip: whitespace around the marker lines,
a patch wrapped in a `<<'EOF'` ... `EOF` heredoc, an update's first chunk without `@@`, blank
lines between chunks, and a bare empty line inside a chunk (read as an empty context line).
Lines split on LF with one trailing CR dropped, as Rust's `str::lines` does.

Errors are :class:`PatchParseError` whose text names the line (1-based, counted in the patch).
Parsing never looks at the filesystem; `plan.py` does that.
"""

from __future__ import annotations

import attrs

BEGIN_PATCH = "*** Begin Patch"
END_PATCH = "*** End Patch"
ADD_FILE = "*** Add File: "
DELETE_FILE = "*** Delete File: "
UPDATE_FILE = "*** Update File: "
MOVE_TO = "*** Move to: "
END_OF_FILE = "*** End of File"
CONTEXT = "@@ "
EMPTY_CONTEXT = "@@"
_HEREDOC_OPENERS = ("<<EOF", "<<'EOF'", '<<"EOF"')
_NO_LINES = "Update hunk does not contain any lines"


class PatchParseError(ValueError):
    """The patch text does not follow the grammar. ``line`` is 1-based, or None for the envelope."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        text = (
            f"Invalid patch: {message}"
            if line is None
            else f"Invalid patch hunk on line {line}: {message}"
        )
        super().__init__(text)


@attrs.frozen
class UpdateChunk:
    """One `@@` block: replace ``old_lines`` (found after ``context``) with ``new_lines``."""

    context: str | None
    old_lines: tuple[str, ...]
    new_lines: tuple[str, ...]
    is_end_of_file: bool = False


@attrs.frozen
class AddFile:
    path: str
    contents: str


@attrs.frozen
class DeleteFile:
    path: str


@attrs.frozen
class UpdateFile:
    path: str
    move_path: str | None
    chunks: tuple[UpdateChunk, ...]


Hunk = AddFile | DeleteFile | UpdateFile


@attrs.frozen
class Patch:
    """A parsed patch: its hunks in order and the patch text without any heredoc wrapper."""

    hunks: tuple[Hunk, ...]
    text: str


def split_lines(text: str) -> list[str]:
    """Split on LF, dropping one CR before it and the empty piece after a final LF."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def parse_patch(text: str, *, streaming: bool = False) -> Patch:
    """Parse a complete patch (or, with ``streaming``, a prefix of one, for progress only)."""
    lines = split_lines(text.strip())
    if streaming:
        body, start_line = _streaming_body(lines)
    else:
        body, start_line, lines = _lenient_body(lines)
    hunks: list[Hunk] = []
    index = 0
    while index < len(body):
        try:
            hunk, used = _parse_hunk(body[index:], start_line + index, streaming=streaming)
        except PatchParseError:
            if streaming and hunks:
                break
            raise
        hunks.append(hunk)
        index += used
    return Patch(hunks=tuple(hunks), text="\n".join(lines))


def _check_envelope(lines: list[str]) -> None:
    first = lines[0].strip() if lines else None
    last = lines[-1].strip() if lines else None
    if first != BEGIN_PATCH:
        raise PatchParseError(f"The first line of the patch must be '{BEGIN_PATCH}'")
    if len(lines) < 2 or last != END_PATCH:
        raise PatchParseError(f"The last line of the patch must be '{END_PATCH}'")


def _lenient_body(lines: list[str]) -> tuple[list[str], int, list[str]]:
    """The hunk lines, the line number of the first one, and the patch lines (heredoc removed)."""
    try:
        _check_envelope(lines)
        return lines[1:-1], 2, lines
    except PatchParseError as original:
        if len(lines) >= 4 and lines[0] in _HEREDOC_OPENERS and lines[-1].endswith("EOF"):
            inner = lines[1:-1]
            _check_envelope(inner)
            return inner[1:-1], 3, inner
        raise original from None


def _streaming_body(lines: list[str]) -> tuple[list[str], int]:
    if not lines or lines[0].strip() != BEGIN_PATCH:
        raise PatchParseError(f"The first line of the patch must be '{BEGIN_PATCH}'")
    end = len(lines) - 1 if len(lines) > 1 and lines[-1].strip() == END_PATCH else len(lines)
    return lines[1:end], 2


def _path(raw: str, line: int) -> str:
    path = raw.strip()
    if not path:
        raise PatchParseError("the file path is empty", line)
    if "\0" in path:
        raise PatchParseError("the file path contains a NUL character", line)
    return path


def _parse_hunk(lines: list[str], line_number: int, *, streaming: bool) -> tuple[Hunk, int]:
    header = lines[0].strip()
    if header.startswith(ADD_FILE):
        path = _path(header[len(ADD_FILE) :], line_number)
        contents: list[str] = []
        for line in lines[1:]:
            if not line.startswith("+"):
                break
            contents.append(line[1:] + "\n")
        return AddFile(path=path, contents="".join(contents)), 1 + len(contents)
    if header.startswith(DELETE_FILE):
        return DeleteFile(path=_path(header[len(DELETE_FILE) :], line_number)), 1
    if header.startswith(UPDATE_FILE):
        return _parse_update(lines, line_number, header, streaming=streaming)
    raise PatchParseError(
        f"'{header}' is not a valid hunk header. Valid hunk headers: '*** Add File: {{path}}', "
        "'*** Delete File: {path}', '*** Update File: {path}'",
        line_number,
    )


def _parse_update(
    lines: list[str], line_number: int, header: str, *, streaming: bool
) -> tuple[UpdateFile, int]:
    path = _path(header[len(UPDATE_FILE) :], line_number)
    used = 1
    move_path = None
    if len(lines) > 1 and lines[1].startswith(MOVE_TO):
        move_path = _path(lines[1][len(MOVE_TO) :], line_number + 1)
        used += 1
    chunks: list[UpdateChunk] = []
    while used < len(lines):
        line = lines[used]
        if not line.strip():
            used += 1  # blank lines between chunks
            continue
        if line.startswith("*"):
            break
        if streaming and line == "@":
            break
        try:
            chunk, chunk_used = _parse_chunk(lines[used:], line_number + used, first=not chunks)
        except PatchParseError as exc:
            if streaming and chunks and exc.message == _NO_LINES:
                break
            raise
        chunks.append(chunk)
        used += chunk_used
    if not chunks:
        raise PatchParseError(f"Update file hunk for path '{path}' is empty", line_number)
    return UpdateFile(path=path, move_path=move_path, chunks=tuple(chunks)), used


def _parse_chunk(lines: list[str], line_number: int, *, first: bool) -> tuple[UpdateChunk, int]:
    head = lines[0]
    context: str | None = None
    start = 1
    if head == EMPTY_CONTEXT or head.rstrip() == EMPTY_CONTEXT:
        pass
    elif head.startswith(CONTEXT):
        context = head[len(CONTEXT) :]
    elif first:
        start = 0  # the first chunk may start straight with diff lines
    else:
        raise PatchParseError(
            f"Expected update hunk to start with a @@ context marker, got: '{head}'", line_number
        )
    if start >= len(lines):
        raise PatchParseError(_NO_LINES, line_number + 1)
    old: list[str] = []
    new: list[str] = []
    eof = False
    parsed = 0
    for line in lines[start:]:
        if line == END_OF_FILE or line.rstrip() == END_OF_FILE:
            if parsed == 0:
                raise PatchParseError(_NO_LINES, line_number + 1)
            eof = True
            parsed += 1
            break
        marker = line[:1]
        if marker == "":
            old.append("")
            new.append("")
        elif marker == " ":
            old.append(line[1:])
            new.append(line[1:])
        elif marker == "+":
            new.append(line[1:])
        elif marker == "-":
            old.append(line[1:])
        else:
            if parsed == 0:
                raise PatchParseError(
                    f"Unexpected line found in update hunk: '{line}'. Every line should start "
                    "with ' ' (context line), '+' (added line), or '-' (removed line)",
                    line_number + start,
                )
            break  # the start of the next chunk or hunk
        parsed += 1
    return UpdateChunk(context, tuple(old), tuple(new), eof), start + parsed
