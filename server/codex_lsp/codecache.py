"""A persistent cache of the code objects attrs compiles at import time (cold-start speed).

Importing pygls builds lsprotocol's ~550 attrs classes; attrs generates the source of their
``__init__``/``__eq__``/``__repr__``/... and ``compile()``s each one, which is about half of the
import. This module wraps attrs' ``_compile_and_eval`` so each generated script is looked up by
its exact source (and file name) in a cache of marshalled code objects; a miss compiles as before
and is remembered. :func:`save` writes the misses once start-up is over and puts attrs back.

Safety, because the cache holds executable code:

* it lives in the user's cache dir (``$XDG_CACHE_HOME/codex-lsp`` or ``~/.cache/codex-lsp``),
  a 0700 directory owned by this user; the cache and its key are 0600 files owned by this user,
  opened without following symlinks. Anything else is ignored (a warning), never read.
* every cache file is signed with HMAC-SHA256 under a random per-user key kept next to it; a file
  whose signature does not verify (corrupt, truncated, copied from elsewhere, written by someone
  else) is ignored and replaced by a fresh one, never unmarshalled.
* the file name and the signed header pin the attrs version and the Python bytecode magic, so an
  attrs or Python upgrade just starts a new cache. Entries are keyed by a hash of the generated
  source, so a changed class can never pick up stale code.
* a hit never rewrites the file; writes are atomic (temp file + rename). Any failure falls back
  to plain ``compile()``. POSIX only (ownership checks); elsewhere the cache is off.

Idle memory: the file is an index plus the marshalled code objects back to back, kept as one
buffer while start-up runs; each code object is unmarshalled only when attrs asks for it and is
dropped right after its class is built. Unmarshalling the whole table up front left ~5 MB of
pymalloc arenas pinned by the classes built in between, after the table itself was freed.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import logging
import marshal
import os
import secrets
import stat
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import CodeType
from typing import Any

log = logging.getLogger(__name__)

FORMAT = b"codex-lsp attrs code cache v3\n"
KEY_NAME = "code-cache.key"
KEY_BYTES = 32
MAX_CACHE_BYTES = 32 * 1024 * 1024
DISABLE_ENV = "CODEX_LSP_NO_CODE_CACHE"
PRUNE_AFTER_S = 30 * 24 * 3600  # other versions' caches untouched this long are removed on a save


def default_dir(env: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if env is None else env
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codex-lsp"


def _attrs_version() -> str:
    """attrs' version plus the identity of the module that generates the code. Read from the
    dist-info name and a stat (importlib.metadata alone would cost ~10 ms of the start-up)."""
    import attr._make

    make = Path(attr._make.__file__)
    dists = sorted(p.name for p in make.parent.parent.glob("attrs-*.dist-info"))
    version = dists[0][len("attrs-") : -len(".dist-info")] if len(dists) == 1 else "unknown"
    info = make.stat()
    return f"{version}+{info.st_size}.{info.st_mtime_ns}"


def _entry_key(script: str, filename: str) -> bytes:
    return hashlib.sha256(filename.encode() + b"\0" + script.encode()).digest()


class CodeCache:
    """Cached code objects of attrs' generated methods, for one attrs + Python version."""

    def __init__(self, directory: Path, attrs_version: str) -> None:
        self.directory = directory
        self.attrs_version = attrs_version
        self.header = FORMAT + f"attrs {attrs_version}\n".encode() + importlib.util.MAGIC_NUMBER
        tag = sys.implementation.cache_tag or "python"
        safe_version = "".join(c if c.isalnum() or c in ".-" else "_" for c in attrs_version)[:80]
        self.path = directory / f"attrs-{safe_version}-{tag}.code"
        # key -> marshalled code object (a slice of the file's buffer, or bytes for a new one)
        self.entries: dict[bytes, bytes | memoryview] = {}
        self.filenames: dict[bytes, str] = {}
        self.type_hashes: dict[bytes, int] = {}  # the per-process constant an entry was built with
        self.hits = 0
        self.misses: set[bytes] = set()  # new scripts: worth writing
        self.changed = 0  # known file names with new source (see lookup)
        self._known_files: set[str] = set()
        self._used: set[bytes] = set()
        self._key: bytes | None = None

    # ---- reading -------------------------------------------------------------------------------

    def load(self) -> None:
        """Read the cache if it is ours and intact; otherwise start empty (never raises)."""
        try:
            if not self._directory_is_private(create=False):
                return
            key = self._read_key(create=False)
            if key is None:
                return
            self._key = key
            data = _read_private_file(self.path, MAX_CACHE_BYTES)
            if data is None:
                return
            if self._verify(data, key):
                self._known_files = set(self.filenames.values())
        except Exception as exc:  # noqa: BLE001 - the cache is only ever a speed-up
            log.warning("code cache ignored (%s)", type(exc).__name__)
            self.entries, self.filenames = {}, {}

    def _verify(self, data: bytes, key: bytes) -> bool:
        """Check the signature, then take the index; no code object is unmarshalled here."""
        view = memoryview(data)
        mac, payload = view[:32], view[32:]
        expected = hmac.new(key, payload, hashlib.sha256).digest()
        if len(data) < 32 or not hmac.compare_digest(mac, expected):
            log.warning("code cache %s failed its signature check: ignoring it", self.path.name)
            return False
        if payload[: len(self.header)] != self.header:
            return False  # another attrs/Python version (signed by us, so just a miss)
        self.entries, self.filenames, self.type_hashes = _unpack(payload[len(self.header) :])
        return True

    def lookup(self, script: str, filename: str) -> CodeType:
        # attrs bakes a per-process constant (the str hash of a name) into hashable classes'
        # __hash__: it is keyed out of the script and swapped into the cached code on a hit.
        type_hash = _baked_type_hash(script, filename)
        stable = script if type_hash is None else script.replace(str(type_hash), "<type hash>")
        key = _entry_key(stable, filename)
        self._used.add(key)
        raw = self.entries.get(key)
        if raw is not None:
            try:
                code = marshal.loads(raw)
            except (ValueError, EOFError, TypeError):
                code = None  # signed by us, so only a bug could get here: compile instead
            if isinstance(code, CodeType):
                built_with = self.type_hashes.get(key, 0)
                if type_hash is not None and built_with != type_hash:
                    code = _swap_constant(code, built_with, type_hash)
                self.hits += 1
                return code
        code = compile(script, filename, "exec")
        self.entries[key] = marshal.dumps(code)
        self.filenames[key] = filename
        self.type_hashes[key] = type_hash or 0
        self.misses.add(key)
        if filename in self._known_files:
            # Same class, new source: many of these mean a library changed (see stale()).
            self.changed += 1
        return code

    def stale(self) -> bool:
        """Many classes with new source (e.g. lsprotocol upgraded): start the file over."""
        return self.changed > max(16, len(self._used) // 10)

    # ---- writing -------------------------------------------------------------------------------

    def save(self) -> bool:
        """Write the cache when this run compiled something new. Returns True when written."""
        stale = self.stale()
        if not self.misses and not stale:
            return False  # a hit never rewrites the file
        try:
            if not self._directory_is_private(create=True):
                return False
            key = self._key or self._read_key(create=True)
            if key is None:
                return False
            keys = [k for k in self.entries if not stale or k in self._used]
            payload = self.header + _pack(
                {k: self.entries[k] for k in keys},
                {k: (self.filenames.get(k, ""), self.type_hashes.get(k, 0)) for k in keys},
            )
            mac = hmac.new(key, payload, hashlib.sha256).digest()
            _write_private_file(self.path, mac + payload)
            self._prune_others()
        except Exception as exc:  # noqa: BLE001 - the cache is only ever a speed-up
            log.warning("code cache not written (%s)", type(exc).__name__)
            return False
        self.misses = set()
        self.changed = 0
        return True

    def _prune_others(self) -> None:
        """Remove other attrs/Python versions' caches nobody wrote for PRUNE_AFTER_S (each
        upgraded venv leaves one behind). A cache still in use is only rebuilt once if pruned."""
        import time

        cutoff = time.time() - PRUNE_AFTER_S
        for path in self.directory.glob("attrs-*.code"):
            if path == self.path:
                continue
            info = path.lstat()
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and info.st_mtime < cutoff:
                path.unlink(missing_ok=True)

    # ---- ownership and permissions -------------------------------------------------------------

    def _directory_is_private(self, *, create: bool) -> bool:
        if create:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            info = os.lstat(self.directory)
        except FileNotFoundError:
            return False
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            log.warning("code cache dir %s is not a directory owned by this user", self.directory)
            return False
        if info.st_mode & 0o077:
            log.warning("code cache dir %s is accessible to others: not using it", self.directory)
            return False
        return True

    def _read_key(self, *, create: bool) -> bytes | None:
        path = self.directory / KEY_NAME
        key = _read_private_file(path, KEY_BYTES + 1)
        if key is not None and len(key) == KEY_BYTES:
            return key
        if not create:
            return None
        key = secrets.token_bytes(KEY_BYTES)
        _write_private_file(path, key)
        return key


def _read_private_file(path: Path, limit: int) -> bytes | None:
    """The file's bytes if it is a regular 0600-or-stricter file owned by this user, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("code cache file %s not readable (%s)", path.name, type(exc).__name__)
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            log.warning("code cache file %s has a foreign owner or open permissions", path.name)
            return None
        if info.st_size > limit:
            return None
        return handle.read(limit)


def _baked_type_hash(script: str, filename: str) -> int | None:
    """The ``hash()`` of a name that attrs wrote into this script as a literal, if it did.

    attrs compiles a class's methods as one script named ``<attrs generated methods M.Q>``;
    a generated ``__hash__`` starts its tuple with ``hash("<attrs generated hash M.Q>")``, which
    differs in every process (str hash randomisation)."""
    prefix = "<attrs generated methods "
    if not filename.startswith(prefix):
        return None
    type_hash = hash("<attrs generated hash " + filename[len(prefix) :])
    return type_hash if f" {type_hash}," in script else None


def _swap_constant(code: CodeType, old: int, new: int) -> CodeType:
    """``code`` (and the code objects inside it) with the int constant ``old`` replaced."""
    consts = tuple(
        new
        if type(c) is int and c == old
        else _swap_constant(c, old, new)
        if isinstance(c, CodeType)
        else c
        for c in code.co_consts
    )
    return code.replace(co_consts=consts)


def _pack(
    codes: Mapping[bytes, bytes | memoryview], about: Mapping[bytes, tuple[str, int]]
) -> bytes:
    """index length (8 bytes) + marshalled index {key: (start, end, filename, type hash)} + the
    codes."""
    index: dict[bytes, tuple[int, int, str, int]] = {}
    position = 0
    for key, raw in codes.items():
        filename, type_hash = about[key]
        index[key] = (position, position + len(raw), filename, type_hash)
        position += len(raw)
    packed_index = marshal.dumps(index)
    return len(packed_index).to_bytes(8, "little") + packed_index + b"".join(codes.values())


def _unpack(
    body: memoryview,
) -> tuple[dict[bytes, bytes | memoryview], dict[bytes, str], dict[bytes, int]]:
    """The entries (slices of ``body``), their file names and type hashes; empty if malformed."""
    size = int.from_bytes(body[:8], "little")
    index = marshal.loads(body[8 : 8 + size])
    blob = body[8 + size :]
    entries: dict[bytes, bytes | memoryview] = {}
    filenames: dict[bytes, str] = {}
    type_hashes: dict[bytes, int] = {}
    if not isinstance(index, dict):
        return {}, {}, {}
    for key, place in index.items():
        if not (isinstance(key, bytes) and isinstance(place, tuple) and len(place) == 4):
            return {}, {}, {}
        start, end, filename, type_hash = place
        if not (
            isinstance(start, int)
            and isinstance(end, int)
            and isinstance(type_hash, int)
            and 0 <= start <= end <= len(blob)
        ):
            return {}, {}, {}
        entries[key] = blob[start:end]
        filenames[key] = str(filename)
        type_hashes[key] = type_hash
    return entries, filenames, type_hashes


def _write_private_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---- hooking attrs ---------------------------------------------------------------------------

_active: CodeCache | None = None
_original: Callable[..., None] | None = None


def install(
    directory: Path | None = None, env: Mapping[str, str] | None = None
) -> CodeCache | None:
    """Route attrs' compiles through the cache until :func:`save`. Safe to call once, early."""
    global _active, _original
    environ = os.environ if env is None else env
    if _active is not None or environ.get(DISABLE_ENV) == "1" or not hasattr(os, "getuid"):
        return _active
    try:
        import attr._make as attrs_make

        original = attrs_make._compile_and_eval
        cache = CodeCache(directory or default_dir(environ), _attrs_version())
    except Exception as exc:  # noqa: BLE001 - attrs moved its internals: just compile as usual
        log.debug("code cache unavailable (%s)", type(exc).__name__)
        return None
    cache.load()

    def compile_and_eval(
        script: str, globs: dict[str, Any] | None, locs: Any = None, filename: str = ""
    ) -> None:
        eval(cache.lookup(script, filename), globs, locs)  # noqa: S307 - attrs' own generated code

    attrs_make._compile_and_eval = compile_and_eval
    _active, _original = cache, original
    return cache


def uninstall() -> None:
    """Put attrs' own compile back and drop the in-memory table (idle memory)."""
    global _active, _original
    if _active is None or _original is None:
        return
    import attr._make as attrs_make

    attrs_make._compile_and_eval = _original
    _active.entries, _active.filenames, _active.type_hashes = {}, {}, {}  # and the file's buffer
    _active, _original = None, None


def save_and_uninstall() -> None:
    """End of start-up: persist the new entries (if any), then stop caching."""
    cache = _active
    if cache is None:
        return
    log.debug(
        "code cache: %d hits, %d new, %d changed", cache.hits, len(cache.misses), cache.changed
    )
    cache.save()
    uninstall()
