"""The attrs code cache (codex_lsp.codecache): hits on the second start, never rewritten on a hit,
and it falls back to compiling (never crashes, never runs code it did not write) for a corrupt,
foreign, world-writable or symlinked cache, a foreign directory, and an attrs upgrade."""

from __future__ import annotations

import hashlib
import hmac
import json
import marshal
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codex_lsp import codecache
from codex_lsp.codecache import KEY_NAME, CodeCache

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not hasattr(os, "getuid"), reason="the code cache is POSIX only"),
]

SCRIPT = "def __init__(self, x):\n    self.x = x\n"
FILENAME = "<attrs generated methods tests.Example>"

START = """
import json, sys
from pathlib import Path
from codex_lsp import codecache
cache = codecache.install(Path(sys.argv[1]))
import lsprotocol.types as t
assert t.Position(line=1, character=2) == t.Position(line=1, character=2)
assert t.Position(line=1, character=2) != t.Position(line=1, character=3)
assert t.InitializeParams(capabilities=t.ClientCapabilities()).process_id is None
stats = {"hits": cache.hits, "new": len(cache.misses), "changed": cache.changed, "path": str(cache.path)}
codecache.save_and_uninstall()
print(json.dumps(stats))
"""


def start(
    cache_dir: Path, script: str = START, env: dict[str, str] | None = None, timeout: float = 90
) -> dict:
    """A fresh interpreter running ``script`` through the cache (by default importing
    lsprotocol, like the server's start-up); its last line of output, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", script, str(cache_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_second_start_hits_and_a_hit_never_rewrites(tmp_path: Path) -> None:
    cache_dir = tmp_path / "codex-lsp"
    first = start(cache_dir)
    assert first["hits"] == 0 and first["new"] > 300  # lsprotocol's classes
    path = Path(first["path"])
    assert oct(cache_dir.stat().st_mode & 0o777) == "0o700"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct((cache_dir / KEY_NAME).stat().st_mode & 0o777) == "0o600"
    before = path.stat()
    second = start(cache_dir)
    assert second["new"] == 0 and second["hits"] >= first["new"] - 10
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_corrupt_cache_falls_back_and_is_replaced(tmp_path: Path) -> None:
    cache_dir = tmp_path / "codex-lsp"
    path = Path(start(cache_dir)["path"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the marshalled code
    path.write_bytes(bytes(data))
    again = start(cache_dir)
    assert again["hits"] == 0 and again["new"] > 300  # ignored, everything compiled
    assert start(cache_dir)["hits"] > 300  # and a good cache was written in its place
    path.write_bytes(b"garbage")  # truncated to nonsense
    assert start(cache_dir)["hits"] == 0


def evil_entry(marker: Path) -> dict[bytes, object]:
    """A cache table whose entry for SCRIPT would create ``marker`` if it were ever run."""
    key = hashlib.sha256(FILENAME.encode() + b"\0" + SCRIPT.encode()).digest()
    code = compile(f"open({str(marker)!r}, 'w').close()\n{SCRIPT}", FILENAME, "exec")
    return {key: code}


def write_signed(cache: CodeCache, table: dict, key: bytes, mode: int = 0o600) -> None:
    codes = {k: marshal.dumps(code) for k, code in table.items()}
    payload = cache.header + codecache._pack(codes, {k: (FILENAME, 0) for k in table})
    cache.path.write_bytes(hmac.new(key, payload, hashlib.sha256).digest() + payload)
    cache.path.chmod(mode)


def run_lookup(cache: CodeCache) -> None:
    namespace: dict = {}
    exec(cache.lookup(SCRIPT, FILENAME), {}, namespace)  # noqa: S102 - what attrs does
    assert "__init__" in namespace


def own_cache(tmp_path: Path) -> CodeCache:
    cache = CodeCache(tmp_path / "codex-lsp", "1.0")
    cache.lookup("x = 1\n", "<seed>")
    assert cache.save()  # creates the directory and the key
    return cache


def test_foreign_signature_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    cache = own_cache(tmp_path)
    write_signed(cache, evil_entry(marker), key=b"k" * 32)  # not our key
    loaded = CodeCache(cache.directory, "1.0")
    loaded.load()
    assert loaded.entries == {}
    run_lookup(loaded)
    assert not marker.exists()


@pytest.mark.parametrize(
    "problem", ["world-writable file", "symlink", "open directory", "foreign owner"]
)
def test_cache_with_wrong_permissions_or_owner_is_never_executed(
    tmp_path: Path, problem: str
) -> None:
    marker = tmp_path / "pwned"
    cache = own_cache(tmp_path)
    key = (cache.directory / KEY_NAME).read_bytes()
    if problem == "symlink":
        elsewhere = tmp_path / "elsewhere.code"
        write_signed(cache, evil_entry(marker), key)
        cache.path.rename(elsewhere)
        cache.path.symlink_to(elsewhere)
    else:
        write_signed(
            cache, evil_entry(marker), key, 0o666 if problem == "world-writable file" else 0o600
        )
    if problem == "open directory":
        cache.directory.chmod(0o777)
    if problem == "foreign owner":
        if os.getuid() != 0:
            pytest.skip("needs root to give the file to another user")
        os.chown(cache.path, 65534, 65534)
    loaded = CodeCache(cache.directory, "1.0")
    loaded.load()
    assert loaded.entries == {}
    run_lookup(loaded)
    assert not marker.exists()
    # The signed-by-us control case: the same entry *is* used when everything checks out.
    if problem == "world-writable file":
        cache.path.chmod(0o600)
        trusted = CodeCache(cache.directory, "1.0")
        trusted.load()
        assert len(trusted.entries) == 1


def test_attrs_upgrade_starts_a_new_cache(tmp_path: Path) -> None:
    old = own_cache(tmp_path)
    new = CodeCache(old.directory, "2.0")
    assert new.path != old.path
    new.load()
    assert new.entries == {}
    # An old-version file under the new name (signed by us) is still not used: the header pins
    # the attrs version and the bytecode magic.
    new.path.write_bytes(old.path.read_bytes())
    new.path.chmod(0o600)
    new.load()
    assert new.entries == {}
    run_lookup(new)
    assert new.save()
    fresh = CodeCache(old.directory, "2.0")
    fresh.load()
    assert len(fresh.entries) == 1


def test_attrs_upgrade_in_a_real_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache of another attrs version (file renamed into place) is ignored by a real start."""
    cache_dir = tmp_path / "codex-lsp"
    path = Path(start(cache_dir)["path"])
    data = path.read_bytes()
    assert b"attrs " in data[:200]
    key = (cache_dir / KEY_NAME).read_bytes()
    payload = data[32:].replace(b"\nattrs ", b"\nattrs 0.0-old-", 1)
    path.write_bytes(hmac.new(key, payload, hashlib.sha256).digest() + payload)
    assert start(cache_dir)["hits"] == 0
    assert start(cache_dir)["hits"] > 300


def test_cache_dir_owned_by_someone_else_is_not_used(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to create a directory owned by another user")
    cache_dir = tmp_path / "codex-lsp"
    cache_dir.mkdir(mode=0o700)
    os.chown(cache_dir, 65534, 65534)
    cache = CodeCache(cache_dir, "1.0")
    cache.lookup(SCRIPT, FILENAME)
    assert not cache.save()
    assert list(cache_dir.iterdir()) == []


def test_disabled_by_environment(tmp_path: Path) -> None:
    assert codecache.install(tmp_path, env={codecache.DISABLE_ENV: "1"}) is None


def test_default_dir_follows_xdg(tmp_path: Path) -> None:
    assert codecache.default_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "codex-lsp"


def test_entries_are_unmarshalled_only_when_used(tmp_path: Path) -> None:
    cache = own_cache(tmp_path)
    cache.lookup(SCRIPT, FILENAME)
    assert cache.save()
    loaded = CodeCache(cache.directory, "1.0")
    loaded.load()
    assert len(loaded.entries) == 2
    assert not any(
        isinstance(raw, type(compile("", "", "exec"))) for raw in loaded.entries.values()
    )
    run_lookup(loaded)
    assert loaded.hits == 1


def test_other_versions_caches_are_pruned_after_thirty_days(tmp_path: Path) -> None:
    cache = own_cache(tmp_path)
    stale = cache.directory / "attrs-0.1-cpython-39.code"
    recent = cache.directory / "attrs-0.2-cpython-310.code"
    unrelated = cache.directory / "notes.txt"
    for path in (stale, recent, unrelated):
        path.write_bytes(b"x")
    old = time.time() - 31 * 24 * 3600
    os.utime(stale, (old, old))
    os.utime(unrelated, (old, old))
    cache.lookup("y = 2\n", "<another>")
    assert cache.save()
    assert not stale.exists()
    assert recent.exists() and unrelated.exists() and cache.path.exists()


FROZEN = """
import json, sys
from pathlib import Path
from codex_lsp import codecache
cache = codecache.install(Path(sys.argv[1]))
import attrs

@attrs.frozen
class Point:
    x: int
    y: int

expected = hash((hash("<attrs generated hash __main__.Point>"), 1, 2))
print(json.dumps({"hits": cache.hits, "new": len(cache.misses), "ok": hash(Point(1, 2)) == expected}))
codecache.save_and_uninstall()
"""


def test_hashable_classes_hit_the_cache_and_hash_with_this_process_constant(
    tmp_path: Path,
) -> None:
    """attrs writes a per-process constant into a frozen class's __hash__: the cache keys it out
    and puts this process's value back, so the class hits and still hashes as attrs would."""
    cache_dir = tmp_path / "codex-lsp"
    runs = [
        start(cache_dir, FROZEN, {**os.environ, "PYTHONHASHSEED": seed}, timeout=60)
        for seed in ("1", "2", "3")
    ]
    assert [r["ok"] for r in runs] == [True, True, True]
    assert runs[0]["new"] >= 1 and runs[0]["hits"] == 0
    assert runs[1]["new"] == 0 and runs[1]["hits"] >= 1  # a hit under another hash seed
    assert runs[2]["new"] == 0
