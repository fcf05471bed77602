"""`fuzzyFileSearch` over real LSP framing: shape, ranking, ignores, params errors, cancellation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from harness import start_session


def tree(root: Path, files: list[str]) -> Path:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    return root


async def test_search_answers_upstream_shaped_ranked_matches(
    codex_home: Path, tmp_path: Path
) -> None:
    root = tree(
        tmp_path / "proj",
        [
            "server/config.py",
            "server/codex_lsp/cfg_loader.py",
            "docs/configuration.md",
            "build/config.py",
            ".git/config",
            "node_modules/config/index.js",
        ],
    )
    (root / ".gitignore").write_text("build/\nnode_modules/\n")
    async with start_session(codex_home, workspace=root) as s:
        result = await s.call("fuzzyFileSearch", {"query": "config", "roots": [str(root)]})
        files = result["files"]
        paths = [f["path"] for f in files]
        assert paths[0] == "server/config.py"
        assert "docs/configuration.md" in paths
        assert not any(p.startswith(("build", "node_modules", ".git")) for p in paths)
        top = files[0]
        assert set(top) == {"root", "path", "file_name", "score", "indices", "match_type"}
        assert (
            top["root"] == str(root)
            and top["file_name"] == "config.py"
            and top["match_type"] == "file"
        )
        assert "".join(top["path"][i] for i in top["indices"]) == "config"
        assert [f["score"] for f in files] == sorted((f["score"] for f in files), reverse=True)
        dirs = await s.call("fuzzyFileSearch", {"query": "codex_lsp", "roots": [str(root)]})
        assert dirs["files"][0] == {
            **dirs["files"][0],
            "path": "server/codex_lsp",
            "match_type": "directory",
        }


async def test_bad_roots_are_invalid_params_naming_them(codex_home: Path, tmp_path: Path) -> None:
    async with start_session(codex_home) as s:
        with pytest.raises(JsonRpcException) as err:
            await s.call("fuzzyFileSearch", {"query": "x", "roots": [str(tmp_path), "rel/dir"]})
        assert err.value.code == -32602 and "params.roots[1]" in err.value.message
        with pytest.raises(JsonRpcException) as err:
            await s.call("fuzzyFileSearch", {"query": "x", "roots": [str(tmp_path / "gone")]})
        assert err.value.code == -32602 and "not an existing directory" in err.value.message
        with pytest.raises(JsonRpcException) as err:
            await s.call("fuzzyFileSearch", {"query": 3, "roots": []})
        assert err.value.code == -32602 and "params.query" in err.value.message
        assert await s.call("fuzzyFileSearch", {"query": "", "roots": [str(tmp_path)]}) == {
            "files": []
        }


async def test_a_newer_call_with_the_same_token_cancels_the_older(
    codex_home: Path, tmp_path: Path
) -> None:
    # A big enough tree that the first (cold) search is still walking when the second arrives.
    root = tmp_path / "big"
    for d in range(60):
        tree(root, [f"d{d}/sub{s}/file{s}_{d}.py" for s in range(50)])
    async with start_session(codex_home) as s:
        params = {"roots": [str(root)], "cancellationToken": "picker"}
        older = asyncio.ensure_future(
            s.call("fuzzyFileSearch", {"query": "file", **params}, timeout=60)
        )
        await asyncio.sleep(0)  # the older request is written first; the newer follows at once
        newer = await s.call("fuzzyFileSearch", {"query": "file1_2", **params}, timeout=60)
        assert (await older) == {"files": []}
        assert newer["files"] and newer["files"][0]["file_name"].startswith("file1_2")
        # Another token is independent.
        other = await s.call(
            "fuzzyFileSearch", {"query": "file", "roots": [str(root)], "cancellationToken": "x"}
        )
        assert len(other["files"]) == 50
