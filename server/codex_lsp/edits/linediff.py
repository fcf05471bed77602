"""Fast line diffs (patience anchors + difflib on the small gaps), and unified-diff hunks.

``difflib.SequenceMatcher`` on whole files costs milliseconds per file in pure Python; a patch
touches a few places in long files, so we trim the common head and tail, anchor on lines that
occur once on each side (patience diff), and let difflib handle only the short gaps between
anchors. Output has difflib's opcode shape, and ``unified_hunks`` prints difflib's hunk format.
"""

from __future__ import annotations

import bisect
import difflib
from collections import Counter
from collections.abc import Iterator, Sequence

Opcode = tuple[str, int, int, int, int]
_MAX_DEPTH = 64
_GAP_LIMIT = 250_000  # difflib on a gap bigger than this (product of sides) → one replace


def opcodes(a: Sequence[str], b: Sequence[str]) -> list[Opcode]:
    """Opcodes turning ``a`` into ``b`` (tags: equal, replace, delete, insert)."""
    raw: list[Opcode] = []
    _diff(a, 0, len(a), b, 0, len(b), raw)
    return _merge(raw)


def _merge(raw: list[Opcode]) -> list[Opcode]:
    """Drop empty opcodes, join neighbours (equal with equal, changes with changes)."""
    merged: list[Opcode] = []
    for op in raw:
        if op[1] == op[2] and op[3] == op[4]:
            continue
        if merged and merged[-1][0] == op[0] == "equal":
            tag, i1, _, j1, _ = merged[-1]
            merged[-1] = (tag, i1, op[2], j1, op[4])
        elif merged and merged[-1][0] != "equal" and op[0] != "equal":
            _, i1, _, j1, _ = merged[-1]
            i2, j2 = op[2], op[4]
            merged[-1] = (_tag(i2 - i1, j2 - j1), i1, i2, j1, j2)
        else:
            merged.append(op)
    return merged


def _tag(old: int, new: int) -> str:
    if old and new:
        return "replace"
    return "delete" if old else "insert"


def _diff(
    a: Sequence[str],
    alo: int,
    ahi: int,
    b: Sequence[str],
    blo: int,
    bhi: int,
    out: list[Opcode],
    depth: int = 0,
) -> None:
    start_a, start_b = alo, blo
    while alo < ahi and blo < bhi and a[alo] == b[blo]:
        alo, blo = alo + 1, blo + 1
    out.append(("equal", start_a, alo, start_b, blo))
    end_a, end_b = ahi, bhi
    while ahi > alo and bhi > blo and a[ahi - 1] == b[bhi - 1]:
        ahi, bhi = ahi - 1, bhi - 1
    if alo == ahi or blo == bhi or (ahi - alo == 1 and bhi - blo == 1):
        out.append((_tag(ahi - alo, bhi - blo), alo, ahi, blo, bhi))
    else:
        anchors = _anchors(a, alo, ahi, b, blo, bhi) if depth < _MAX_DEPTH else []
        if anchors:
            i, j = alo, blo
            for ai, bj in anchors:
                if ai > i or bj > j:  # a gap between anchors
                    _diff(a, i, ai, b, j, bj, out, depth + 1)
                out.append(("equal", ai, ai + 1, bj, bj + 1))
                i, j = ai + 1, bj + 1
            _diff(a, i, ahi, b, j, bhi, out, depth + 1)
        elif (ahi - alo) * (bhi - blo) > _GAP_LIMIT:
            out.append(("replace", alo, ahi, blo, bhi))
        else:
            matcher = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes():
                out.append((tag, alo + i1, alo + i2, blo + j1, blo + j2))
    out.append(("equal", ahi, end_a, bhi, end_b))


def _anchors(
    a: Sequence[str], alo: int, ahi: int, b: Sequence[str], blo: int, bhi: int
) -> list[tuple[int, int]]:
    """Lines unique on both sides, as the longest increasing run of (i, j) pairs."""
    side_a, side_b = a[alo:ahi], b[blo:bhi]
    count_a, count_b = Counter(side_a), Counter(side_b)
    index_a = dict(zip(side_a, range(alo, ahi), strict=True))  # unique lines: their only index
    index_b = dict(zip(side_b, range(blo, bhi), strict=True))
    pairs = sorted(
        (index_a[line], index_b[line])
        for line, n in count_a.items()
        if n == 1 and count_b.get(line) == 1
    )
    if not pairs:
        return []
    # Longest increasing subsequence on j (patience sorting).
    tails: list[int] = []
    tail_index: list[int] = []
    previous: list[int] = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        pos = bisect.bisect_left(tails, j)
        if pos == len(tails):
            tails.append(j)
            tail_index.append(k)
        else:
            tails[pos] = j
            tail_index[pos] = k
        previous[k] = tail_index[pos - 1] if pos else -1
    chain = []
    k = tail_index[-1]
    while k != -1:
        chain.append(pairs[k])
        k = previous[k]
    return chain[::-1]


def grouped(ops: list[Opcode], context: int) -> Iterator[list[Opcode]]:
    """Hunks of opcodes with ``context`` equal lines around changes (difflib's grouping)."""
    codes = list(ops) or [("equal", 0, 1, 0, 1)]
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = tag, max(i1, i2 - context), i2, max(j1, j2 - context), j2
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)
    span = context + context
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > span:
            group.append((tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)))
            yield group
            group = []
            i1, j1 = max(i1, i2 - context), max(j1, j2 - context)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        yield group


def _range(start: int, stop: int) -> str:
    length = stop - start
    beginning = start + 1
    if length == 1:
        return str(beginning)
    if not length:
        beginning -= 1
    return f"{beginning},{length}"


def unified_hunks(a: Sequence[str], b: Sequence[str], context: int) -> Iterator[str]:
    """`@@` headers and ` `/`-`/`+` lines (each line as given, without a newline added)."""
    return hunks_from_opcodes(a, b, opcodes(a, b), context)


def hunks_from_opcodes(
    a: Sequence[str], b: Sequence[str], ops: list[Opcode], context: int
) -> Iterator[str]:
    """As ``unified_hunks`` for opcodes computed elsewhere."""
    for group in grouped(_merge(ops), context):
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for line in a[i1:i2]:
                    yield " " + line
                continue
            for line in a[i1:i2]:
                yield "-" + line
            for line in b[j1:j2]:
                yield "+" + line
