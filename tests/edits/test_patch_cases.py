"""The patch format end to end on real files: parse → plan → apply, one table of cases.

Each case: files before (bytes), the patch, then either the files after or the error text the
model would get (and the files unchanged).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_lsp.edits.apply import apply_plan
from codex_lsp.edits.guard import WriteGuard
from codex_lsp.edits.parser import PatchParseError, parse_patch
from codex_lsp.edits.plan import PlanError, plan_patch

P = "*** Begin Patch\n{}*** End Patch\n"

CASES: list[tuple[str, dict[str, bytes], str, dict[str, bytes | None] | str]] = [
    (
        "add file",
        {},
        P.format("*** Add File: a/new.txt\n+one\n+two\n"),
        {"a/new.txt": b"one\ntwo\n"},
    ),
    (
        "add overwrites",
        {"x.txt": b"old\n"},
        P.format("*** Add File: x.txt\n+new\n"),
        {"x.txt": b"new\n"},
    ),
    (
        "delete",
        {"gone.txt": b"bye\n", "keep.txt": b"k\n"},
        P.format("*** Delete File: gone.txt\n"),
        {"gone.txt": None, "keep.txt": b"k\n"},
    ),
    (
        "update with @@ context",
        {"m.py": b"def a():\n    return 1\n\ndef b():\n    return 1\n"},
        P.format("*** Update File: m.py\n@@ def b():\n-    return 1\n+    return 2\n"),
        {"m.py": b"def a():\n    return 1\n\ndef b():\n    return 2\n"},
    ),
    (
        "ambiguous context takes the first match after the previous chunk",
        {"r.txt": b"x\nsame\ny\nsame\n"},
        P.format("*** Update File: r.txt\n@@\n-same\n+first\n@@\n-same\n+second\n"),
        {"r.txt": b"x\nfirst\ny\nsecond\n"},
    ),
    (
        "multiple chunks",
        {"c.txt": b"1\n2\n3\n4\n5\n6\n"},
        P.format("*** Update File: c.txt\n@@\n 1\n-2\n+two\n@@\n 5\n-6\n+six\n"),
        {"c.txt": b"1\ntwo\n3\n4\n5\nsix\n"},
    ),
    (
        "move to a new directory",
        {"old/n.txt": b"a\nb\n"},
        P.format("*** Update File: old/n.txt\n*** Move to: new/dir/n.txt\n@@\n-b\n+B\n"),
        {"old/n.txt": None, "new/dir/n.txt": b"a\nB\n"},
    ),
    (
        "move overwrites its destination",
        {"s.txt": b"src\n", "d.txt": b"dest\n"},
        P.format("*** Update File: s.txt\n*** Move to: d.txt\n@@\n-src\n+moved\n"),
        {"s.txt": None, "d.txt": b"moved\n"},
    ),
    (
        "file without final newline gets one",
        {"n.txt": b"a\nb"},
        P.format("*** Update File: n.txt\n@@\n-b\n+c\n"),
        {"n.txt": b"a\nc\n"},
    ),
    (
        "CRLF file keeps CRLF",
        {"w.txt": b"one\r\ntwo\r\nthree\r\n"},
        P.format("*** Update File: w.txt\n@@\n one\n-two\n+TWO\n"),
        {"w.txt": b"one\r\nTWO\r\nthree\r\n"},
    ),
    (
        "CRLF patch text",
        {"p.txt": b"a\nb\n"},
        "*** Begin Patch\r\n*** Update File: p.txt\r\n@@\r\n-a\r\n+A\r\n*** End Patch\r\n",
        {"p.txt": b"A\nb\n"},
    ),
    (
        "unicode content",
        {"u.txt": "café\n日本語\n😀 end\n".encode()},
        P.format("*** Update File: u.txt\n@@\n-日本語\n+中文\n"),
        {"u.txt": "café\n中文\n😀 end\n".encode()},
    ),
    (
        "unicode punctuation in the file matches ASCII context",
        {"q.txt": "say \u201chi\u201d \u2014 ok\n".encode()},
        P.format('*** Update File: q.txt\n@@\n-say "hi" - ok\n+say hello\n'),
        {"q.txt": b"say hello\n"},
    ),
    (
        "trailing whitespace tolerated",
        {"t.txt": b"foo   \nbar\n"},
        P.format("*** Update File: t.txt\n@@\n-foo\n+FOO\n"),
        {"t.txt": b"FOO\nbar\n"},
    ),
    (
        "surrounding whitespace tolerated",
        {"t.txt": b"    foo\nbar\n"},
        P.format("*** Update File: t.txt\n@@\n-foo\n+    FOO\n"),
        {"t.txt": b"    FOO\nbar\n"},
    ),
    (
        "end of file anchor",
        {"e.txt": b"x\nend\nx\nend\n"},
        P.format("*** Update File: e.txt\n@@\n-end\n+END\n*** End of File\n"),
        {"e.txt": b"x\nend\nx\nEND\n"},
    ),
    (
        "pure addition after a context header",
        {"h.py": b"class A:\n    pass\nclass B:\n    pass\n"},
        P.format("*** Update File: h.py\n@@ class A:\n+    x = 1\n"),
        {"h.py": b"class A:\n    x = 1\n    pass\nclass B:\n    pass\n"},
    ),
    (
        "pure addition without header appends",
        {"h.txt": b"a\n"},
        P.format("*** Update File: h.txt\n@@\n+b\n"),
        {"h.txt": b"a\nb\n"},
    ),
    (
        "add then update the same file",
        {},
        P.format("*** Add File: f.txt\n+one\n*** Update File: f.txt\n@@\n-one\n+two\n"),
        {"f.txt": b"two\n"},
    ),
    (
        "heredoc-wrapped patch",
        {"h.txt": b"a\n"},
        "<<'EOF'\n" + P.format("*** Update File: h.txt\n@@\n-a\n+b\n") + "EOF\n",
        {"h.txt": b"b\n"},
    ),
    (
        "whitespace-padded markers",
        {"f.txt": b"a\n"},
        "  *** Begin Patch  \n *** Update File: f.txt\n@@\n-a\n+b\n  *** End Patch \n",
        {"f.txt": b"b\n"},
    ),
    (
        "first chunk without @@",
        {"f.txt": b"import foo\n"},
        P.format("*** Update File: f.txt\n import foo\n+bar\n"),
        {"f.txt": b"import foo\nbar\n"},
    ),
    # errors: nothing written
    ("empty patch", {"f.txt": b"a\n"}, P.format(""), "No files were modified."),
    (
        "missing context",
        {"f.txt": b"a\n"},
        P.format("*** Update File: f.txt\n@@\n-zzz\n+b\n"),
        "Failed to find expected lines in f.txt:\nzzz",
    ),
    (
        "missing @@ header",
        {"f.txt": b"a\n"},
        P.format("*** Update File: f.txt\n@@ nowhere\n-a\n+b\n"),
        "Failed to find context 'nowhere' in f.txt",
    ),
    (
        "update needs the file",
        {},
        P.format("*** Update File: nope.txt\n@@\n-a\n+b\n"),
        "does not exist",
    ),
    ("delete needs the file", {}, P.format("*** Delete File: nope.txt\n"), "does not exist"),
    (
        "delete a directory fails",
        {"d/f.txt": b"x\n"},
        P.format("*** Delete File: d\n"),
        "is a directory",
    ),
    (
        "a later failing hunk writes nothing",
        {"ok.txt": b"a\n"},
        P.format("*** Add File: created.txt\n+x\n*** Update File: missing.txt\n@@\n-a\n+b\n"),
        "does not exist",
    ),
    (
        "binary file",
        {"b.bin": b"\xff\xfe\x00"},
        P.format("*** Update File: b.bin\n@@\n-a\n+b\n"),
        "not UTF-8",
    ),
    (
        "bad first line",
        {},
        "hello\n",
        "Invalid patch: The first line of the patch must be '*** Begin Patch'",
    ),
    (
        "no end marker",
        {},
        "*** Begin Patch\n*** Add File: a\n+x\n",
        "The last line of the patch must be '*** End Patch'",
    ),
    (
        "invalid hunk header names its line",
        {},
        P.format("*** Add File: a\n+x\n*** Frobnicate File: b\n"),
        "Invalid patch hunk on line 4: '*** Frobnicate File: b' is not a valid hunk header",
    ),
    (
        "empty update hunk",
        {"f.txt": b"a\n"},
        P.format("*** Update File: f.txt\n"),
        "Invalid patch hunk on line 2: Update file hunk for path 'f.txt' is empty",
    ),
    (
        "bad line in a chunk names its line",
        {"f.txt": b"a\n"},
        P.format("*** Update File: f.txt\n@@\n-a\n+b\n@@\nxyz\n"),
        "Invalid patch hunk on line 7: Unexpected line found in update hunk: 'xyz'",
    ),
]


def _write(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("name", "before", "patch", "expected"), CASES, ids=[c[0] for c in CASES])
def test_patch_case(
    tmp_path: Path,
    name: str,
    before: dict[str, bytes],
    patch: str,
    expected: dict[str, bytes | None] | str,
) -> None:
    _write(tmp_path, before)
    original = _snapshot(tmp_path)
    try:
        plan = plan_patch(parse_patch(patch), tmp_path)
        outcome = apply_plan(plan, WriteGuard((tmp_path,)))
        assert outcome.ok, outcome.error
        result: str | None = None
    except (PatchParseError, PlanError) as exc:
        result = str(exc)
    if isinstance(expected, str):
        assert result is not None and expected in result, result
        assert _snapshot(tmp_path) == original  # nothing written
        return
    assert result is None, result
    for rel, content in expected.items():
        path = tmp_path / rel
        if content is None:
            assert not path.exists(), rel
        else:
            assert path.read_bytes() == content, rel


def test_summary_lists_files_like_upstream(tmp_path: Path) -> None:
    _write(tmp_path, {"m.txt": b"a\n", "d.txt": b"x\n", "s.txt": b"s\n"})
    patch = P.format(
        "*** Add File: n.txt\n+n\n*** Update File: m.txt\n@@\n-a\n+b\n"
        "*** Delete File: d.txt\n*** Update File: s.txt\n*** Move to: t.txt\n@@\n-s\n+t\n"
    )
    plan = plan_patch(parse_patch(patch), tmp_path)
    assert (
        plan.summary()
        == "Success. Updated the following files:\nA n.txt\nM m.txt\nD d.txt\nM t.txt\n"
    )
    assert [c.kind for c in plan.changes] == ["add", "update", "delete", "update"]
    assert plan.changes[1].diff == "@@ -1 +1 @@\n-a\n+b\n"
    assert plan.changes[3].move_path == tmp_path / "t.txt"


def test_failure_halfway_reports_exactly_which_files_changed(tmp_path: Path) -> None:
    _write(tmp_path, {"a.txt": b"a\n", "blocker": b"i am a file\n"})
    # The second write needs a directory where a file is: the OS refuses it at write time.
    patch = P.format(
        "*** Update File: a.txt\n@@\n-a\n+A\n*** Add File: blocker/inner.txt\n+x\n"
        "*** Add File: z.txt\n+z\n"
    )
    plan = plan_patch(parse_patch(patch), tmp_path)
    outcome = apply_plan(plan, WriteGuard((tmp_path,)))
    assert not outcome.ok
    assert outcome.changed == (("M", "a.txt"),)
    assert outcome.failed == "blocker/inner.txt"
    report = outcome.failure_report()
    assert "M a.txt" in report and "z.txt" not in report
    assert (tmp_path / "a.txt").read_bytes() == b"A\n" and not (tmp_path / "z.txt").exists()


def test_permissions_are_kept_and_writes_are_atomic(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho old\n")
    script.chmod(0o751)
    inode = script.stat().st_ino
    plan = plan_patch(
        parse_patch(P.format("*** Update File: run.sh\n@@\n-echo old\n+echo new\n")), tmp_path
    )
    assert apply_plan(plan, WriteGuard((tmp_path,))).ok
    assert script.read_text() == "#!/bin/sh\necho new\n"
    assert script.stat().st_mode & 0o777 == 0o751
    assert script.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".codex-tmp")]


def test_parser_streaming_returns_the_hunks_so_far() -> None:
    text = "*** Begin Patch\n*** Add File: a.txt\n+one\n*** Update File: b.txt\n@@\n-x\n+y\n*** Delete File: c"
    patch = parse_patch(text, streaming=True)
    assert [type(h).__name__ for h in patch.hunks] == ["AddFile", "UpdateFile", "DeleteFile"]
    with pytest.raises(PatchParseError):
        parse_patch(text)


def test_owner_is_kept_when_root(tmp_path: Path) -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another owner")  # the mode test covers the rest
    target = tmp_path / "owned.txt"
    target.write_text("a\n")
    os.chown(target, 1234, 4321)
    plan = plan_patch(parse_patch(P.format("*** Update File: owned.txt\n@@\n-a\n+b\n")), tmp_path)
    assert apply_plan(plan, WriteGuard((tmp_path,))).ok
    st = target.stat()
    assert (st.st_uid, st.st_gid) == (1234, 4321) and target.read_text() == "b\n"
