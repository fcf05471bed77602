"""Recognise a `shell` call that is really a patch, so it is applied as one and never run.

Forms, as upstream's `maybe_parse_apply_patch_verified`:

- argv ``["apply_patch", PATCH]`` or ``["applypatch", PATCH]``;
- ``[bash|sh|zsh (any dir), -c|-lc, SCRIPT]`` where SCRIPT is exactly one statement
  ``apply_patch <<'EOF'`` ... ``EOF`` (any delimiter word, quoted or not), optionally preceded by
  ``cd DIR &&`` (one word or a quoted string; the patch's paths are then relative to DIR);
- a bare patch body (``[PATCH]``, or a shell script that is just the patch) is *not* applied: the
  model is told to call apply_patch explicitly ("implicit invocation"), as upstream does.

Anything else (extra commands before or after, pipes, `||`) is an ordinary command.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import PurePath

import attrs

from codex_lsp.edits.parser import Patch, PatchParseError, parse_patch

APPLY_PATCH_COMMANDS = ("apply_patch", "applypatch")
_SHELLS = ("bash", "sh", "zsh")
_FLAGS = ("-c", "-lc")
IMPLICIT_INVOCATION = (
    'patch detected without explicit call to apply_patch. Rerun as ["apply_patch", "<patch>"]'
)

_HEREDOC = re.compile(
    r"""\A\s*
    (?:cd\s+(?P<cd>'[^']*'|"[^"\\$`]*"|[^\s'";&|<>()$`\\]+)\s*&&\s*)?
    (?P<cmd>apply_patch|applypatch)\s*<<(?P<q>['"]?)(?P<delim>[A-Za-z_][A-Za-z0-9_]*)(?P=q)[ \t]*\n
    (?P<body>.*?)\n?
    ^(?P=delim)[ \t]*\n?\s*\Z""",
    re.DOTALL | re.MULTILINE | re.VERBOSE,
)


@attrs.frozen
class ShellPatch:
    """A shell call that is a patch: the parsed patch and the `cd` directory, if any."""

    patch: Patch
    workdir: str | None


@attrs.frozen
class ShellPatchError:
    """A shell call meant as a patch that cannot be applied; ``message`` goes to the model."""

    message: str


def _shell_script(argv: Sequence[str]) -> str | None:
    if len(argv) != 3:
        return None
    shell, flag, script = argv
    if PurePath(shell).name.lower() not in _SHELLS or flag not in _FLAGS:
        return None
    return script


def _parses(text: str) -> bool:
    try:
        parse_patch(text)
    except PatchParseError:
        return False
    return True


def detect(argv: Sequence[str]) -> ShellPatch | ShellPatchError | None:
    """The patch a shell argv stands for, an error for a broken one, or None for a command."""
    if len(argv) == 1 and _parses(argv[0]):
        return ShellPatchError(IMPLICIT_INVOCATION)
    script = _shell_script(argv)
    if script is not None and _parses(script):
        return ShellPatchError(IMPLICIT_INVOCATION)
    if len(argv) == 2 and argv[0] in APPLY_PATCH_COMMANDS:
        return _parsed(argv[1], None)
    if script is None:
        return None
    match = _HEREDOC.match(script)
    if match is None:
        return None
    cd = match.group("cd")
    workdir = shlex.split(cd)[0] if cd else None
    return _parsed(match.group("body"), workdir)


def _parsed(text: str, workdir: str | None) -> ShellPatch | ShellPatchError:
    try:
        return ShellPatch(parse_patch(text), workdir)
    except PatchParseError as exc:
        return ShellPatchError(str(exc))
