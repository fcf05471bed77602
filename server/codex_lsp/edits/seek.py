"""Find a run of lines in a file, as tolerantly as upstream's `seek_sequence`.

Passes, each from ``start`` (or, for an end-of-file chunk, first from the end): exact; trailing
whitespace ignored; surrounding whitespace ignored; then typographic punctuation (dashes, curly
quotes, odd spaces) read as its ASCII twin. The first position that matches wins, so ambiguous
context resolves to the earliest match after the previous chunk, as upstream does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

_PUNCTUATION = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f", '"'),
        **dict.fromkeys(
            "\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "
        ),
    }
)


def _normalise(line: str) -> str:
    return line.strip().translate(_PUNCTUATION)


_PASSES: tuple[Callable[[str], str] | None, ...] = (
    None,  # exact
    str.rstrip,
    str.strip,
    _normalise,
)


def seek_sequence(
    lines: Sequence[str], pattern: Sequence[str], start: int, *, eof: bool = False
) -> int | None:
    """Index of the first match of ``pattern`` in ``lines`` at or after ``start``, or None."""
    if not pattern:
        return start
    if len(pattern) > len(lines):
        return None
    last = len(lines) - len(pattern)
    origins = [last, start] if eof and last > start else [start]
    size = len(pattern)
    for key in _PASSES:
        wanted = list(pattern) if key is None else [key(p) for p in pattern]
        keyed = lines if key is None else [key(line) for line in lines]
        for origin in origins:
            for i in range(origin, last + 1):
                if keyed[i] == wanted[0] and list(keyed[i : i + size]) == wanted:
                    return i
    return None
