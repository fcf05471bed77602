"""The fast line diff is a correct diff: its opcodes rebuild the new text, its hunks apply."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from codex_lsp.edits.linediff import opcodes, unified_hunks

lines = st.lists(st.sampled_from(["a", "b", "c", "d", "x", "unique1", "unique2", ""]), max_size=30)


def rebuild(a: list[str], b: list[str]) -> list[str]:
    out: list[str] = []
    position = 0
    for tag, i1, i2, j1, j2 in opcodes(a, b):
        assert i1 == position
        out.extend(a[i1:i2] if tag == "equal" else b[j1:j2])
        if tag == "equal":
            assert a[i1:i2] == b[j1:j2]
        position = i2
    assert position == len(a)
    return out


@settings(max_examples=300, deadline=None)
@given(lines, lines)
def test_opcodes_rebuild_the_new_side(a: list[str], b: list[str]) -> None:
    assert rebuild(a, b) == b


def test_hunks_match_difflib_format_on_a_simple_change() -> None:
    a = [f"l{i}" for i in range(20)]
    b = a[:5] + ["new"] + a[6:]
    assert list(unified_hunks(a, b, 1)) == ["@@ -5,3 +5,3 @@", " l4", "-l5", "+new", " l6"]
    assert list(unified_hunks(a, a, 3)) == []
    assert list(unified_hunks([], ["x"], 3)) == ["@@ -0,0 +1 @@", "+x"]
