"""Fuzzy matching and ranking of paths (pure).

A term matches a path when its characters appear in order (case-insensitive unless the term has
an upper-case letter, "smart case"). Ranking is tiered, best first: the file name starts with the
term; the file name contains it; the file name contains its characters in order; the path
contains it; the path contains its characters in order. Within a tier an fzf-style alignment
score decides (16 per character, bonuses at word boundaries — after `/`, `_`, `-`, `.`, a space,
at camelCase humps and digits —, for consecutive characters and twice for the first one; gaps
cost 3 + 1 per extra character), minus a small penalty for long paths. Ties go to the shorter,
then alphabetically first path. Because tiers are strictly ordered, only as many tiers as needed
to fill the limit are scored, and a tier with more than ``SCORING_CAP`` members (a one-letter
query...) is scored among its shortest paths only: that keeps a search of 20,000 paths under
50 ms.

Several whitespace-separated terms must all match; their scores add up.
"""

from __future__ import annotations

import heapq
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from itertools import compress
from operator import itemgetter, methodcaller

import attrs

SCORE_MATCH = 16
GAP_START = 3
GAP_EXTENSION = 1
BONUS_PATH_SEPARATOR = 9
BONUS_BOUNDARY = 8
BONUS_CAMEL = 7
BONUS_CONSECUTIVE = 4
FIRST_CHAR_MULTIPLIER = 2
TIERS = 5  # 4 name prefix, 3 name substring, 2 name fuzzy, 1 path substring, 0 path fuzzy
CHECK_EVERY = 2048  # how often long loops look at the cancellation flag
SCORING_CAP = 600  # the most members of one tier that are scored (the shortest paths)

_DELIMITERS = frozenset("_-. ")


class Cancelled(Exception):
    """The search was cancelled by a newer one."""


@attrs.frozen
class Match:
    index: int  # position in the candidate list
    score: int
    indices: tuple[int, ...]


@attrs.frozen
class Candidates:
    """The paths of one root, prepared for matching (built once per index change)."""

    paths: Sequence[str]
    folded: Sequence[str]
    name_start: Sequence[int]
    names: Sequence[str]  # the last path component
    folded_names: Sequence[str]

    @classmethod
    def build(cls, paths: Sequence[str]) -> Candidates:
        folded = [fold(p) for p in paths]
        starts = [p.rfind("/") + 1 for p in paths]
        return cls(
            paths=paths,
            folded=folded,
            name_start=starts,
            names=[p[s:] for p, s in zip(paths, starts, strict=True)],
            folded_names=[p[s:] for p, s in zip(folded, starts, strict=True)],
        )


def _gather(values: Sequence[str], indexes: Sequence[int]) -> Sequence[str]:
    """``[values[i] for i in indexes]``, done in C (this runs over every candidate per query)."""
    if len(indexes) > 1:
        return itemgetter(*indexes)(values)
    return [values[i] for i in indexes]


def fold(text: str) -> str:
    """Lower-case, keeping one character per character so indices stay valid."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


_SEPARATOR_BONUS = {"/": BONUS_PATH_SEPARATOR, **{c: BONUS_BOUNDARY for c in _DELIMITERS}}


def _bonus(text: str, pos: int) -> int:
    if pos == 0:
        return BONUS_PATH_SEPARATOR
    prev = text[pos - 1]
    bonus = _SEPARATOR_BONUS.get(prev)
    if bonus is not None:
        return bonus
    cur = text[pos]
    if (cur.isupper() and prev.islower()) or (cur.isdigit() and not prev.isdigit()):
        return BONUS_CAMEL
    return 0


def _score_positions(text: str, positions: Sequence[int]) -> int:
    first = positions[0]
    score = SCORE_MATCH * len(positions) + _bonus(text, first) * FIRST_CHAR_MULTIPLIER
    prev = first
    for pos in positions[1:]:
        bonus = _bonus(text, pos)
        if pos == prev + 1:
            score += bonus if bonus > BONUS_CONSECUTIVE else BONUS_CONSECUTIVE
        else:
            score += bonus - GAP_START - (pos - prev - 2) * GAP_EXTENSION
        prev = pos
    return score


def _best_substring(text: str, hay: str, term: str, lo: int) -> tuple[int, tuple[int, ...]]:
    """Best-scoring occurrence of ``term`` in ``hay[lo:]`` (it must occur)."""
    best: tuple[int, tuple[int, ...]] | None = None
    k = len(term)
    start = hay.find(term, lo)
    while start != -1:
        positions = tuple(range(start, start + k))
        score = _score_positions(text, positions)
        if best is None or score > best[0]:
            best = (score, positions)
        start = hay.find(term, start + 1)
    assert best is not None
    return best


def _groups(term: str) -> re.Pattern[str]:
    # Possessive quantifiers: the first occurrence of each character, never backtracking, so a
    # test is linear in the path length; one group per character gives the positions.
    return re.compile("".join(f"[^{re.escape(c)}]*+({re.escape(c)})" for c in term))


@attrs.frozen
class _Term:
    text: str
    forward: re.Pattern[str]  # does it match?
    backward: re.Pattern[str]  # the reversed term on the reversed path: the latest alignment

    @classmethod
    def of(cls, text: str) -> _Term:
        return cls(text, _groups(text), _groups(text[::-1]))


def _best_alignment(
    text: str, hay: str, term: _Term, lo: int
) -> tuple[int, tuple[int, ...]] | None:
    """The latest in-order alignment of ``term`` in ``hay[lo:]`` (fzf's fast "v1" idea run from
    the end of the path, so it lands in the file name or the deepest directories when it can)."""
    last = term.backward.match(hay[::-1], 0, len(hay) - lo)
    if last is None:
        return None
    end = len(hay) - 1
    positions = tuple(end - last.start(g) for g in range(len(term.text), 0, -1))
    return _score_positions(text, positions), positions


def _is_case_sensitive(query: str) -> bool:
    return any(c.isupper() for c in query)


def _tier_of(hay: str, term: _Term, name_start: int) -> int:
    text = term.text
    if hay.startswith(text, name_start):
        return 4
    if hay.find(text, name_start) != -1:
        return 3
    if term.forward.match(hay, name_start):
        return 2
    if text in hay:
        return 1
    return 0


def _score_term(
    text: str, hay: str, term: _Term, tier: int, name_start: int
) -> tuple[int, tuple[int, ...]]:
    if tier == 4:
        positions = tuple(range(name_start, name_start + len(term.text)))
        return _score_positions(text, positions), positions
    if tier == 3:
        return _best_substring(text, hay, term.text, name_start)
    if tier == 1:
        return _best_substring(text, hay, term.text, 0)
    found = _best_alignment(text, hay, term, name_start if tier == 2 else 0)
    assert found is not None
    return found


def _step(term: str) -> int:
    return 64 * len(term) + 512


def _final(tier: int, align: int, path: str, step: int) -> int:
    intra = max(-256, min(align - min(len(path), 200) // 4, step - 257))
    return tier * step + intra + 256


def search(
    candidates: Candidates,
    query: str,
    limit: int,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[Match]:
    """The best ``limit`` matches for ``query``, best first. Raises :class:`Cancelled`."""
    return search_within(candidates, query, limit, None, cancelled)[0]


def search_within(
    candidates: Candidates,
    query: str,
    limit: int,
    within: Sequence[int] | None,
    cancelled: Callable[[], bool] = lambda: False,
) -> tuple[list[Match], list[int]]:
    """:func:`search` among the candidates ``within`` (all when None); also returns every
    matching index, so a longer query typed next can search among those only."""
    terms = [_Term.of(t) for t in query.split()]
    if not terms or limit <= 0:
        return [], []
    sensitive = _is_case_sensitive(query)
    hays = candidates.paths if sensitive else candidates.folded
    names = candidates.names if sensitive else candidates.folded_names
    if within is None:
        indexes = list(compress(range(len(hays)), map(terms[0].forward.match, hays)))
    else:
        indexes = list(compress(within, map(terms[0].forward.match, _gather(hays, within))))
    for term in terms[1:]:
        indexes = list(compress(indexes, map(term.forward.match, _gather(hays, indexes))))
    if cancelled():
        raise Cancelled()
    if len(terms) == 1:
        matches = _score_one(candidates, hays, names, terms[0], indexes, limit, cancelled)
    else:
        matches = _score_many(candidates, hays, terms, indexes, cancelled)
    paths = candidates.paths
    matches.sort(key=lambda m: (-m.score, len(paths[m.index]), paths[m.index]))
    return matches[:limit], indexes


def _tiers(
    hays: Sequence[str], names: Sequence[str], term: _Term, indexes: list[int]
) -> Iterator[tuple[int, list[int]]]:
    """(tier, members) from the best tier down; each tier is one pass over what is left, run by
    C-level ``map``/``compress`` over the file names, then the paths."""
    text = term.text
    rest = indexes
    texts = _gather(names, rest)
    name_tests: list[Callable[[str], object]] = [
        methodcaller("startswith", text),
        methodcaller("__contains__", text),
        term.forward.match,
    ]
    for tier, test in zip((4, 3, 2), name_tests, strict=True):
        flags = list(map(test, texts))
        yield tier, list(compress(rest, flags))
        keep = list(map(operator.not_, flags))
        rest = list(compress(rest, keep))
        texts = list(compress(texts, keep))
    flags = list(map(methodcaller("__contains__", text), _gather(hays, rest)))
    yield 1, list(compress(rest, flags))
    yield 0, list(compress(rest, map(operator.not_, flags)))


def _score_one(
    candidates: Candidates,
    hays: Sequence[str],
    names: Sequence[str],
    term: _Term,
    indexes: list[int],
    limit: int,
    cancelled: Callable[[], bool],
) -> list[Match]:
    step = _step(term.text)
    starts = candidates.name_start
    paths = candidates.paths
    matches: list[Match] = []
    for tier, members in _tiers(hays, names, term, indexes):
        if len(members) > SCORING_CAP:
            # Long paths can't beat short ones much within a group (no better group position,
            # more gap and length penalty), so a huge group is ranked among its shortest paths.
            members = heapq.nsmallest(SCORING_CAP, members, key=lambda i: len(paths[i]))
        for n, i in enumerate(members):
            align, positions = _score_term(paths[i], hays[i], term, tier, starts[i])
            matches.append(Match(i, _final(tier, align, paths[i], step), positions))
            if n % CHECK_EVERY == CHECK_EVERY - 1 and cancelled():
                raise Cancelled()
        if cancelled():
            raise Cancelled()
        if len(matches) >= limit:
            break  # every lower tier scores below every match found so far
    return matches


def _score_many(
    candidates: Candidates,
    hays: Sequence[str],
    terms: Sequence[_Term],
    indexes: list[int],
    cancelled: Callable[[], bool],
) -> list[Match]:
    starts = candidates.name_start
    paths = candidates.paths
    matches: list[Match] = []
    for n, i in enumerate(indexes):
        total = 0
        positions: set[int] = set()
        for term in terms:
            tier = _tier_of(hays[i], term, starts[i])
            align, found = _score_term(paths[i], hays[i], term, tier, starts[i])
            total += _final(tier, align, paths[i], _step(term.text))
            positions.update(found)
        matches.append(Match(i, total, tuple(sorted(positions))))
        if n % CHECK_EVERY == CHECK_EVERY - 1 and cancelled():
            raise Cancelled()
    return matches
