"""AGENTS.md discovery (pure): global and project files, overrides, fallbacks, the byte cap."""

from __future__ import annotations

from pathlib import Path

from codex_lsp.context import agents_md
from codex_lsp.context.agents_md import load_instructions, message_text


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_hierarchy_global_then_root_then_nested_cwd(tmp_path: Path) -> None:
    home, repo = tmp_path / "home", tmp_path / "repo"
    write(home / "AGENTS.md", "global rules")
    (repo / ".git").mkdir(parents=True)
    write(repo / "AGENTS.md", "root rules")
    write(repo / "pkg" / "AGENTS.md", "pkg rules")
    cwd = repo / "pkg" / "deep"
    cwd.mkdir()
    found = load_instructions(cwd, home)
    assert found is not None
    assert found.text == "global rules\n\n--- project-doc ---\n\nroot rules\n\npkg rules"
    assert found.sources == (home / "AGENTS.md", repo / "AGENTS.md", repo / "pkg" / "AGENTS.md")
    text = message_text(found)
    assert text.startswith(f"# AGENTS.md instructions for {cwd}\n\n<INSTRUCTIONS>\n")
    assert text.endswith("pkg rules\n</INSTRUCTIONS>")


def test_a_git_file_marks_the_root_and_nothing_above_it_counts(tmp_path: Path) -> None:
    write(tmp_path / "AGENTS.md", "above the repo")
    repo = tmp_path / "worktree"
    write(repo / ".git", "gitdir: /elsewhere")
    write(repo / "AGENTS.md", "worktree rules")
    found = load_instructions(repo, tmp_path / "nohome")
    assert found is not None and found.text == "worktree rules"


def test_without_git_only_the_cwd_counts(tmp_path: Path) -> None:
    write(tmp_path / "AGENTS.md", "parent")
    cwd = tmp_path / "child"
    write(cwd / "AGENTS.md", "child")
    found = load_instructions(cwd, tmp_path / "nohome")
    assert found is not None and found.text == "child"


def test_override_files_win_and_empty_files_are_skipped(tmp_path: Path) -> None:
    home, repo = tmp_path / "home", tmp_path / "repo"
    write(home / "AGENTS.override.md", "global override")
    write(home / "AGENTS.md", "global plain")
    (repo / ".git").mkdir(parents=True)
    write(repo / "AGENTS.override.md", "  \n")  # empty: falls through to AGENTS.md
    write(repo / "AGENTS.md", "root plain")
    write(repo / "sub" / "AGENTS.override.md", "sub override")
    write(repo / "sub" / "AGENTS.md", "sub plain")
    found = load_instructions(repo / "sub", home)
    assert found is not None
    assert found.text == "global override\n\n--- project-doc ---\n\nroot plain\n\nsub override"


def test_fallback_filenames_are_used_in_order(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(repo / "CLAUDE.md", "claude")
    write(repo / "CONTRIBUTING.md", "contributing")
    found = load_instructions(
        repo, tmp_path / "nohome", fallback_names=["CONTRIBUTING.md", "CLAUDE.md"]
    )
    assert found is not None and found.text == "contributing"
    assert load_instructions(repo, tmp_path / "nohome") is None


def test_byte_cap_truncates_the_project_part_and_zero_disables_it(tmp_path: Path) -> None:
    home, repo = tmp_path / "home", tmp_path / "repo"
    write(home / "AGENTS.md", "global")
    (repo / ".git").mkdir(parents=True)
    write(repo / "AGENTS.md", "A" * 100)
    write(repo / "sub" / "AGENTS.md", "B" * 100)
    capped = load_instructions(repo / "sub", home, max_bytes=150)
    assert capped is not None and capped.truncated
    project = capped.text.split("--- project-doc ---\n\n", 1)[1]
    assert project == "A" * 100 + "\n\n" + "B" * 50
    disabled = load_instructions(repo / "sub", home, max_bytes=0)
    assert disabled is not None and disabled.text == "global"
    assert load_instructions(repo / "sub", tmp_path / "nohome", max_bytes=0) is None


def test_default_cap_is_32_kib(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(repo / "AGENTS.md", "x" * 40_000)
    found = load_instructions(repo, tmp_path / "nohome")
    assert found is not None and len(found.text) == 32 * 1024


def test_sent_cwd_is_read_back_from_the_history(tmp_path: Path) -> None:
    found = load_instructions(tmp_path, tmp_path) or agents_md.Instructions(tmp_path, "t", ())
    item = agents_md.agents_md_item(found)
    other = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    assert agents_md.last_sent_cwd([other]) is None
    assert agents_md.last_sent_cwd([item, other]) == str(tmp_path)
