"""Configuration: `$CODEX_HOME/config.toml` with Codex key names, plus `-c key=value` overrides,
plus the environment variables that override them (read here once, nowhere else).

A malformed file or a bad value stops start-up with one message naming the file, the key and the
allowed values (:class:`ConfigError`); unknown keys are ignored, since upstream's file has many
more keys than we read.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

DEFAULT_CHATGPT_BASE_URL = "https://chatgpt.com/backend-api"
APPROVAL_POLICIES = ("untrusted", "on-failure", "on-request", "never")
SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")
CREDENTIAL_STORES = ("file", "keyring", "auto", "ephemeral")
LOGIN_METHODS = ("chatgpt", "api")
WIRE_APIS = ("responses",)
DEFAULT_STREAM_IDLE_TIMEOUT_S = 30.0
DEFAULT_APPROVAL_TIMEOUT_S = 600.0
# Env overrides of `[lsp]` keys (for tests and slow links); a bad value is ignored with a warning.
LSP_ENV_OVERRIDES = {
    "stream_idle_timeout_s": "CODEX_LSP_STREAM_IDLE_TIMEOUT_S",
    "approval_timeout_s": "CODEX_LSP_APPROVAL_TIMEOUT_S",
}
# Read by the login flows (`auth.login`), which parse and validate them.
LOGIN_ENV_VARS = (
    "CODEX_APP_SERVER_LOGIN_ISSUER",
    "CODEX_LOGIN_CALLBACK_PORTS",
    "CODEX_LOGIN_TIMEOUT_S",
)

log = logging.getLogger(__name__)


class ConfigError(Exception):
    """Start-up configuration problem; the message names the file and the key."""


@attrs.frozen
class ModelProviderConfig:
    """One `[model_providers.<id>]` table (or the built-in `openai` provider)."""

    id: str
    name: str
    base_url: str | None = None
    env_key: str | None = None
    wire_api: str = "responses"
    requires_openai_auth: bool = False
    http_headers: Mapping[str, str] = attrs.field(factory=dict)


BUILTIN_OPENAI = ModelProviderConfig(id="openai", name="OpenAI", requires_openai_auth=True)


@attrs.frozen
class SandboxWorkspaceWrite:
    """`[sandbox_workspace_write]`."""

    writable_roots: tuple[str, ...] = ()
    network_access: bool = False
    exclude_tmpdir_env_var: bool = False
    exclude_slash_tmp: bool = False


@attrs.frozen
class ShellEnvironmentPolicy:
    """`[shell_environment_policy]` (upstream's name): which variables commands do not get.

    `exclude` adds case-insensitive glob patterns to the default exclusion (`*KEY*`,
    `*SECRET*`, `*TOKEN*`, `*PASSWORD*`, `*PASSWD*`, `*CREDENTIAL*`, `*_PAT`, `DATABASE_URL`);
    `ignore_default_excludes = true` drops the defaults.
    """

    exclude: tuple[str, ...] = ()
    ignore_default_excludes: bool = False


@attrs.frozen
class SandboxLimits:
    """`[sandbox_limits]` (beyond upstream): per-command resource limits, 0 = none.

    `max_memory_mb` sets RLIMIT_AS (address space; JVMs and some runtimes reserve far more
    than they use), `max_file_size_mb` sets RLIMIT_FSIZE (the largest file a command may write).
    """

    max_memory_mb: int = 0
    max_file_size_mb: int = 0


@attrs.frozen
class LspSettings:
    """`[lsp]`: codex-lsp's own knobs (timeouts are configurable so tests can be fast)."""

    editor_refresh_timeout_s: float = 10.0
    editor_proactive_refresh_window_s: float = 60.0
    # A model stream that sends nothing this long fails the turn.
    stream_idle_timeout_s: float = DEFAULT_STREAM_IDLE_TIMEOUT_S
    # An approval the editor doesn't answer this long is a decline; the command never runs.
    approval_timeout_s: float = DEFAULT_APPROVAL_TIMEOUT_S
    # How long a browser / device-code login may take; None: upstream's 10 / 15 minutes.
    # The CODEX_LOGIN_TIMEOUT_S environment variable still wins over this key.
    login_timeout_s: float | None = None


@attrs.frozen
class Config:
    """Resolved configuration."""

    codex_home: Path
    config_file: Path
    model: str | None = None
    model_provider_id: str = "openai"
    model_providers: Mapping[str, ModelProviderConfig] = attrs.field(
        factory=lambda: {"openai": BUILTIN_OPENAI}
    )
    chatgpt_base_url: str = DEFAULT_CHATGPT_BASE_URL
    forced_login_method: str | None = None
    forced_chatgpt_workspace_id: str | tuple[str, ...] | None = None
    cli_auth_credentials_store: str = "file"
    approval_policy: str = "on-request"
    sandbox_mode: str = "read-only"
    sandbox_workspace_write: SandboxWorkspaceWrite = SandboxWorkspaceWrite()
    shell_environment_policy: ShellEnvironmentPolicy = ShellEnvironmentPolicy()
    sandbox_limits: SandboxLimits = SandboxLimits()
    lsp: LspSettings = LspSettings()
    login_env: Mapping[str, str] = attrs.field(factory=dict)  # LOGIN_ENV_VARS that are set
    # Agent context (issue 14): AGENTS.md discovery and compaction.
    project_doc_max_bytes: int = 32 * 1024
    project_doc_fallback_filenames: tuple[str, ...] = ()
    model_context_window: int | None = None
    model_auto_compact_token_limit: int | None = None

    @property
    def model_provider(self) -> ModelProviderConfig:
        return self.model_providers[self.model_provider_id]


def default_codex_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if home := env.get("CODEX_HOME"):
        return Path(home).expanduser()
    return Path.home() / ".codex"


def load_config(
    codex_home: Path | None = None,
    overrides: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Config:
    """Read `config.toml` (missing file = defaults), apply `-c key=value` overrides, then the
    environment's overrides."""
    env = os.environ if env is None else env
    home = (codex_home or default_codex_home(env)).resolve()
    path = home / "config.toml"
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
    for override in overrides:
        _apply_override(data, override)
    return _build(home, path, data, env)


def _apply_override(data: dict[str, Any], override: str) -> None:
    key, sep, raw = override.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f'-c {override!r}: expected key=value (e.g. -c model="gpt-5.2-codex")')
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # bare words are strings, as in upstream's CLI
    parts = key.split(".")
    target = data
    for part in parts[:-1]:
        nxt = target.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"-c {override!r}: {part} is not a table")
        target = nxt
    target[parts[-1]] = value


class _Reader:
    """Typed access to the TOML data with errors that name file and key."""

    def __init__(self, path: Path, data: Mapping[str, Any], prefix: str = "") -> None:
        self.path, self.data, self.prefix = path, data, prefix

    def _fail(self, key: str, expected: str, value: Any) -> ConfigError:
        return ConfigError(
            f"{self.path}: key '{self.prefix}{key}' must be {expected} (got {value!r})"
        )

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and not isinstance(value, str):
            raise self._fail(key, "a string", value)
        return value

    def choice(self, key: str, allowed: Sequence[str], default: str | None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and value not in allowed:
            raise self._fail(key, "one of " + ", ".join(f'"{a}"' for a in allowed), value)
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false", value)
        return value

    def number(self, key: str, default: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self._fail(key, "a non-negative number", value)
        return float(value)

    def integer(self, key: str, default: int | None) -> int | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self._fail(key, "a non-negative integer", value)
        return value

    def positive_number_or_none(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise self._fail(key, "a positive number of seconds", value)
        return float(value)

    def text_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "an array of strings", value)
        return tuple(value)

    def text_or_list(self, key: str) -> str | tuple[str, ...] | None:
        """A non-empty string or a non-empty array of non-empty strings (or absent)."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
            return tuple(value)
        raise self._fail(key, "a non-empty string or an array of non-empty strings", value)

    def absolute_paths(self, key: str) -> tuple[str, ...]:
        """An array of absolute paths: a relative one would depend on the server's cwd."""
        paths = self.text_list(key)
        for path in paths:
            if not path or not Path(path).is_absolute():
                raise ConfigError(
                    f"{self.path}: key '{self.prefix}{key}' must hold absolute paths (got relative "
                    f"{path!r}); write it as an absolute path"
                )
        return paths

    def table(self, key: str) -> _Reader:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self._fail(key, "a table", value)
        return _Reader(self.path, value, f"{self.prefix}{key}.")


def _build(home: Path, path: Path, data: Mapping[str, Any], env: Mapping[str, str]) -> Config:
    top = _Reader(path, data)
    providers: dict[str, ModelProviderConfig] = {"openai": BUILTIN_OPENAI}
    providers_table = top.table("model_providers")
    for provider_id in providers_table.data:
        providers[provider_id] = _provider(providers_table.table(provider_id), provider_id)
    provider_id = top.text("model_provider", "openai") or "openai"
    if provider_id not in providers:
        known = ", ".join(f'"{p}"' for p in sorted(providers))
        raise ConfigError(
            f"{path}: key 'model_provider' must be one of {known} (got {provider_id!r})"
        )
    workspace = top.table("sandbox_workspace_write")
    env_policy = top.table("shell_environment_policy")
    limits = top.table("sandbox_limits")
    lsp = top.table("lsp")
    return Config(
        codex_home=home,
        config_file=path,
        model=top.text("model"),
        model_provider_id=provider_id,
        model_providers=providers,
        chatgpt_base_url=(top.text("chatgpt_base_url", DEFAULT_CHATGPT_BASE_URL) or "").rstrip("/"),
        forced_login_method=top.choice("forced_login_method", LOGIN_METHODS, None),
        forced_chatgpt_workspace_id=top.text_or_list("forced_chatgpt_workspace_id"),
        cli_auth_credentials_store=top.choice(
            "cli_auth_credentials_store", CREDENTIAL_STORES, "file"
        )
        or "file",
        approval_policy=top.choice("approval_policy", APPROVAL_POLICIES, "on-request")
        or "on-request",
        sandbox_mode=top.choice("sandbox_mode", SANDBOX_MODES, "read-only") or "read-only",
        sandbox_workspace_write=SandboxWorkspaceWrite(
            writable_roots=workspace.absolute_paths("writable_roots"),
            network_access=workspace.flag("network_access", False),
            exclude_tmpdir_env_var=workspace.flag("exclude_tmpdir_env_var", False),
            exclude_slash_tmp=workspace.flag("exclude_slash_tmp", False),
        ),
        shell_environment_policy=ShellEnvironmentPolicy(
            exclude=env_policy.text_list("exclude"),
            ignore_default_excludes=env_policy.flag("ignore_default_excludes", False),
        ),
        sandbox_limits=SandboxLimits(
            max_memory_mb=max(int(limits.number("max_memory_mb", 0)), 0),
            max_file_size_mb=max(int(limits.number("max_file_size_mb", 0)), 0),
        ),
        lsp=LspSettings(
            editor_refresh_timeout_s=lsp.number("editor_refresh_timeout_s", 10.0),
            editor_proactive_refresh_window_s=lsp.number("editor_proactive_refresh_window_s", 60.0),
            stream_idle_timeout_s=_env_seconds(
                env,
                "stream_idle_timeout_s",
                lsp.number("stream_idle_timeout_s", DEFAULT_STREAM_IDLE_TIMEOUT_S),
            ),
            approval_timeout_s=_env_seconds(
                env,
                "approval_timeout_s",
                lsp.number("approval_timeout_s", DEFAULT_APPROVAL_TIMEOUT_S),
            ),
            login_timeout_s=lsp.positive_number_or_none("login_timeout_s"),
        ),
        login_env={name: env[name] for name in LOGIN_ENV_VARS if env.get(name)},
        project_doc_max_bytes=top.integer("project_doc_max_bytes", 32 * 1024) or 0,
        project_doc_fallback_filenames=top.text_list("project_doc_fallback_filenames"),
        model_context_window=top.integer("model_context_window", None) or None,
        model_auto_compact_token_limit=top.integer("model_auto_compact_token_limit", None) or None,
    )


def _env_seconds(env: Mapping[str, str], key: str, configured: float) -> float:
    """The env override of an `[lsp]` timeout; an unusable value keeps the configured one."""
    name = LSP_ENV_OVERRIDES[key]
    raw = env.get(name)
    if not raw:
        return configured
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value > 0:
        return value
    log.warning("%s=%r is not a positive number of seconds; using %gs", name, raw, configured)
    return configured


def _provider(table: _Reader, provider_id: str) -> ModelProviderConfig:
    headers = table.table("http_headers")
    for key, value in headers.data.items():
        if not isinstance(value, str):
            raise headers._fail(key, "a string", value)
    return ModelProviderConfig(
        id=provider_id,
        name=table.text("name", provider_id) or provider_id,
        base_url=table.text("base_url"),
        env_key=table.text("env_key"),
        wire_api=table.choice("wire_api", WIRE_APIS, "responses") or "responses",
        requires_openai_auth=table.flag("requires_openai_auth", False),
        http_headers=dict(headers.data),
    )
