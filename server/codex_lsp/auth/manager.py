"""AuthManager: the single owner of the current credentials and of every refresh.

Load order: env `CODEX_API_KEY` -> editor-owned tokens (memory) -> the configured store.
Managed ChatGPT tokens refresh over OAuth under the inter-process lock; editor-owned tokens are
refreshed by a callable the LSP layer installs; API keys never refresh.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx

from codex_lsp.auth.claims import parse_jwt_claims, token_expiry
from codex_lsp.auth.errors import (
    AuthRecoveryFailed,
    MalformedTokenError,
    NotLoggedIn,
    RefreshTokenFailed,
    StorageError,
)
from codex_lsp.auth.login import login_issuer
from codex_lsp.auth.model import (
    ApiKeyAuth,
    ChatGptAuth,
    ChatGptAuthTokens,
    CodexAuth,
    account_id,
)
from codex_lsp.auth.restrictions import (
    FORCED_LOGIN_METHODS,
    WorkspaceRule,
    allowed_workspaces,
    check_login_method,
    check_workspace,
)
from codex_lsp.auth.storage import AuthDotJson, TokenData, create_store
from codex_lsp.backend.pool import release_response
from codex_lsp.errors import CodexError, InvalidParams, InvalidRequest
from codex_lsp.logs import register_secret

# How long a 401 body may still be draining once the editor has answered (see below). A small
# body normally finishes long before; the wait matters when the loop is busy (a burst of turns,
# and a 401 that arrives after another request already refreshed gets no head start): 0.05 s
# dropped a few connections per 20-turn burst here, and reconnecting (TCP + TLS to the real
# backend) costs more than this wait.
_DRAIN_GRACE_S = 0.25
log = logging.getLogger(__name__)

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
DEFAULT_REFRESH_TOKEN_URL = "https://auth.openai.com/oauth/token"
REFRESH_TOKEN_URL_ENV = "CODEX_REFRESH_TOKEN_URL_OVERRIDE"
API_KEY_ENV = "CODEX_API_KEY"
REVOKE_TOKEN_URL_ENV = "CODEX_REVOKE_TOKEN_URL_OVERRIDE"
REVOKE_TIMEOUT_S = 3.0  # logout waits at most this long for the issuer
MANAGED_REFRESH_WINDOW = timedelta(minutes=5)
TOKEN_REFRESH_INTERVAL = timedelta(days=8)  # fallback when the access token has no `exp`
PROACTIVE_RETRY_COOLDOWN = 30.0  # seconds before a failed proactive refresh is tried again
# Unknown age (no last_refresh on disk): treat as stale so the 8-day fallback refreshes it.
UNKNOWN_LAST_REFRESH = datetime(1970, 1, 1, tzinfo=UTC)

_SIGN_IN_AGAIN = "Please log out and sign in again."
PERMANENT_REFRESH_ERRORS = {
    "refresh_token_expired": "your refresh token has expired",
    "refresh_token_reused": "your refresh token was already used",
    "refresh_token_invalidated": "your refresh token was revoked",
}
_ERROR_CODE_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class AccountSwitched(AuthRecoveryFailed):
    """The editor's refresh answer is for another account than the operation started with."""

    def __init__(self, previous: str, new: str | None) -> None:
        super().__init__(
            f"the editor switched accounts ({previous} -> {new or 'unknown'}) while refreshing "
            "tokens; the new account is now active, send the request again to use it"
        )


@attrs.frozen
class _ProactiveOutcome:
    """What a proactive refresh did in this operation: attempted (asked), and its error."""

    attempted: bool
    error: CodexError | None


_NOT_ATTEMPTED = _ProactiveOutcome(attempted=False, error=None)


EditorRefresher = Callable[[str | None], Awaitable[ChatGptAuthTokens]]
AuthListener = Callable[[CodexAuth | None], None]
FlightKey = tuple[str, str]


class AuthManager:
    def __init__(
        self,
        codex_home: Path,
        store_mode: str = "file",
        *,
        forced_login_method: str | None = None,
        forced_workspace_id: WorkspaceRule = None,
        refresh_token_url: str | None = None,
        editor_refresh_timeout: float = 10.0,
        keyring_timeout: float = 3.0,
        http_timeout: float = 10.0,
        env: Mapping[str, str] | None = None,
        editor_proactive_window: float = 60.0,
    ) -> None:
        if forced_login_method is not None and forced_login_method not in FORCED_LOGIN_METHODS:
            raise InvalidParams(
                f'forced_login_method must be "chatgpt" or "api" (got {forced_login_method!r})'
            )
        self._store = create_store(store_mode, Path(codex_home), keyring_timeout=keyring_timeout)
        self._env: Mapping[str, str] = os.environ if env is None else env
        self._forced_login_method = forced_login_method
        self._forced_workspace_id = allowed_workspaces(forced_workspace_id) or None
        self._refresh_url = (
            refresh_token_url or self._env.get(REFRESH_TOKEN_URL_ENV) or DEFAULT_REFRESH_TOKEN_URL
        )
        self._editor_refresh_timeout = editor_refresh_timeout
        self._editor_proactive_window = timedelta(seconds=editor_proactive_window)
        self._http_timeout = http_timeout
        self._current: CodexAuth | None = None
        self._loaded = False
        self._credentials_problem: str | None = None
        self._editor_tokens: ChatGptAuthTokens | None = None
        self._editor_refresher: EditorRefresher | None = None
        self._listeners: list[AuthListener] = []
        self._flights: dict[FlightKey, asyncio.Task[CodexAuth]] = {}
        self._permanent_failure: tuple[str, RefreshTokenFailed] | None = None
        self._proactive_failed_at: dict[FlightKey, float] = {}
        # Editor tokens that were already inside the proactive window when the editor sent them.
        self._short_lived: set[FlightKey] = set()
        # Serialises managed refreshes with logins/logouts in this process (the flock does it
        # across processes, but the ephemeral store has no flock).
        self._managed_lock = asyncio.Lock()

    # -- configuration ----------------------------------------------------------------------
    @property
    def forced_login_method(self) -> str | None:
        return self._forced_login_method

    @property
    def forced_workspace_id(self) -> str | None:
        """The one allowed workspace (sent to the browser login), None when zero or several."""
        allowed = self.forced_workspace_ids
        return allowed[0] if len(allowed) == 1 else None

    @property
    def forced_workspace_ids(self) -> tuple[str, ...]:
        """Every workspace `forced_chatgpt_workspace_id` allows (empty: no restriction)."""
        return self._forced_workspace_id or ()

    @property
    def store_description(self) -> str:
        return self._store.description

    def api_key_from_env(self) -> bool:
        return bool(self._env.get(API_KEY_ENV))

    def add_listener(self, callback: AuthListener) -> None:
        """`callback(auth)` runs whenever the current auth changes (login, refresh, logout...)."""
        self._listeners.append(callback)

    # -- reading -----------------------------------------------------------------------------
    def current(self) -> CodexAuth | None:
        return self._current

    async def load(self) -> CodexAuth | None:
        auth = self._override_auth() or await self._load_from_store()
        self._loaded = True
        self._set_current(auth)
        return auth

    async def cached_auth(self) -> CodexAuth | None:
        """The current credentials (loaded on first use) without any refresh: for callers that
        only need to know who is signed in. Backend requests use :meth:`auth` once each."""
        if not self._loaded:
            await self.load()
        return self._current

    async def auth(self) -> CodexAuth | None:
        """The credentials for one backend request, refreshed first when they are about to expire
        (a failed proactive refresh keeps the old ones)."""
        auth, _ = await self._auth_for_request()
        return auth

    async def _auth_for_request(self) -> tuple[CodexAuth | None, _ProactiveOutcome | None]:
        """Like :meth:`auth`, also saying whether (and how) the editor was asked proactively."""
        if not self._loaded:
            await self.load()
        current = self._current
        asked: _ProactiveOutcome | None = None
        if isinstance(current, ChatGptAuth) and self._managed_refresh_due(current):
            await self._try_proactive(
                _managed_key(current), lambda: self._refresh_managed_from(current)
            )
        elif isinstance(current, ChatGptAuthTokens) and self._editor_refresh_due(current):
            outcome = await self._try_proactive(
                _editor_key(current), lambda: self._refresh_editor_from(current)
            )
            asked = outcome if outcome.attempted else None
            if isinstance(outcome.error, AccountSwitched):
                raise outcome.error  # the request was made for the old account: fail it
        return self._current, asked

    async def reload(self, *, adopt_changed_account: bool = False) -> CodexAuth | None:
        """Re-read the store; a different account on disk is adopted only when asked."""
        override = self._override_auth()
        if override is not None:
            auth: CodexAuth | None = override
        else:
            auth = await self._load_from_store()
            current = self._current
            if (
                not adopt_changed_account
                and self._loaded
                and current is not None
                and _identity(auth) != _identity(current)
            ):
                log.info(
                    "not adopting stored credentials of a different account on reload; "
                    "reload with adopt_changed_account to switch"
                )
                return current
        self._loaded = True
        self._set_current(auth)
        return auth

    # -- logging in and out -----------------------------------------------------------------
    async def login_api_key(self, api_key: str) -> None:
        if not api_key.strip():
            raise InvalidParams("apiKey must not be empty")
        check_login_method(self._forced_login_method, "apiKey")
        self._reject_if_editor_auth_active()
        record = AuthDotJson(
            auth_mode="apikey", openai_api_key=api_key, tokens=None, last_refresh=None
        )
        await self._save(record)
        self._loaded = True
        self._set_current(self._override_auth() or ApiKeyAuth(api_key=api_key))

    async def save_chatgpt_login(
        self, id_token: str, access_token: str, refresh_token: str, api_key: str | None = None
    ) -> CodexAuth:
        """Persist a completed browser/device login; the old credentials stay until this succeeds."""
        check_login_method(self._forced_login_method, "chatgpt")
        self._reject_if_editor_auth_active()
        info = parse_jwt_claims(id_token)
        check_workspace(self._forced_workspace_id, info.chatgpt_account_id)
        now = datetime.now(UTC)
        record = AuthDotJson(
            auth_mode="chatgpt",
            openai_api_key=api_key,
            tokens=TokenData(id_token, access_token, refresh_token, info.chatgpt_account_id),
            last_refresh=now,
        )
        auth = ChatGptAuth(
            id_token=info,
            access_token=access_token,
            refresh_token=refresh_token,
            account_id=info.chatgpt_account_id,
            last_refresh=now,
        )
        await self._save(record)
        self._loaded = True
        self._set_current(self._override_auth() or auth)
        return auth

    def set_editor_tokens(self, tokens: ChatGptAuthTokens) -> None:
        """Install editor-owned tokens: memory only, they take precedence over the store."""
        check_login_method(self._forced_login_method, "chatgptAuthTokens")
        check_workspace(self._forced_workspace_id, tokens.id_token.chatgpt_account_id)
        self._editor_tokens = tokens
        self._set_current(self._override_auth())

    def editor_auth_active(self) -> bool:
        return self._editor_tokens is not None

    def set_editor_refresher(self, refresher: EditorRefresher | None) -> None:
        self._editor_refresher = refresher

    async def logout(self) -> None:
        """Forget editor tokens, revoke managed ChatGPT tokens (best effort, bounded), and delete
        the configured store's credentials."""
        self._editor_tokens = None
        self._short_lived.clear()
        current = self._current
        if isinstance(current, ChatGptAuth):
            await self._revoke(current.refresh_token)
        async with self._managed_lock:
            try:
                await self._store.delete()
            finally:
                self._loaded = True
                self._set_current(self._override_auth())

    async def _revoke(self, refresh_token: str) -> None:
        """RFC 7009 revocation of the refresh token (which ends its access tokens too). Best
        effort: a slow or failing issuer never blocks logout for more than REVOKE_TIMEOUT_S."""
        url = self._env.get(REVOKE_TOKEN_URL_ENV) or f"{login_issuer(self._env)}/oauth/revoke"
        form = {"token": refresh_token, "token_type_hint": "refresh_token", "client_id": CLIENT_ID}
        try:
            async with asyncio.timeout(REVOKE_TIMEOUT_S):
                async with httpx.AsyncClient(timeout=REVOKE_TIMEOUT_S) as client:
                    response = await client.post(url, data=form)
        except (TimeoutError, httpx.HTTPError) as exc:
            log.warning(
                "logout: could not revoke the ChatGPT tokens (%s); they expire by themselves",
                type(exc).__name__,
            )
            return
        if response.status_code != 200:
            log.warning(
                "logout: token revocation answered HTTP %s; signing out anyway",
                response.status_code,
            )

    # -- refreshing --------------------------------------------------------------------------
    async def refresh_managed(self) -> CodexAuth:
        """Force an OAuth refresh of managed ChatGPT tokens (account/read refreshToken:true)."""
        if not self._loaded:
            await self.load()
        current = self._current
        if not isinstance(current, ChatGptAuth):
            raise InvalidRequest(
                "token refresh needs a managed ChatGPT login; sign in with ChatGPT first"
            )
        return await self._single_flight(
            _managed_key(current), lambda: self._refresh_managed_from(current)
        )

    async def refresh_editor_tokens(self) -> CodexAuth:
        """Ask the editor for new tokens; concurrent callers share one request."""
        current = self._current
        if not isinstance(current, ChatGptAuthTokens):
            raise InvalidRequest(
                "no editor-owned tokens are active; sign in with account/login/start "
                "(type chatgptAuthTokens) first"
            )
        return await self._single_flight(
            _editor_key(current), lambda: self._refresh_editor_from(current)
        )

    async def send_with_unauthorized_recovery(
        self, send: Callable[[CodexAuth], Awaitable[httpx.Response]]
    ) -> httpx.Response:
        """Call `send(auth)`; on HTTP 401 recover once (single-flight) and call it again."""
        auth, asked = await self._auth_for_request()
        if auth is None:
            raise NotLoggedIn()
        response = await send(auth)
        if response.status_code != 401 or isinstance(auth, ApiKeyAuth):
            return response
        if asked is not None and isinstance(auth, ChatGptAuthTokens):
            # One operation asks the editor at most once: it was asked proactively already.
            await response.aclose()
            raise AuthRecoveryFailed(
                asked.error.reason
                if isinstance(asked.error, AuthRecoveryFailed)
                else "the backend rejected the editor's refreshed token (HTTP 401); sign in "
                "again from the editor"
            )
        # Ask the editor first, then drain the small 401 body while it answers: read to its
        # end, the connection goes back to the pool and the retry reuses it.
        recovery = asyncio.ensure_future(self._recover(auth))
        try:
            # Two loop steps: the recovery task joins/starts the single-flight task, which asks.
            for _ in range(2):
                await asyncio.sleep(0)
        except BaseException:
            recovery.cancel()
            raise
        drain = asyncio.ensure_future(release_response(response))
        try:
            recovered = await recovery
        finally:
            # A small body is read in microseconds; one still streaming after the editor answered
            # (plus a short grace) is not worth the wait: drop that connection.
            if not drain.done():
                await asyncio.wait([drain], timeout=_DRAIN_GRACE_S)
            if not drain.done():
                drain.cancel()
                await asyncio.wait([drain])
        return await send(recovered)

    # -- internals: loading ------------------------------------------------------------------
    def _override_auth(self) -> CodexAuth | None:
        """Credentials that win over the store: env API key, then editor tokens."""
        env_key = self._env.get(API_KEY_ENV)
        if env_key:
            return ApiKeyAuth(api_key=env_key)
        return self._editor_tokens

    async def _load_from_store(self) -> CodexAuth | None:
        try:
            record = await self._store.load()
            return self._auth_from_record(record)
        except StorageError as exc:
            self._credentials_problem = exc.message
            raise

    @property
    def credentials_problem(self) -> str | None:
        """Why stored credentials were not used (or were moved aside), for account/read and
        codex/status; None when there is nothing to say."""
        return self._credentials_problem

    async def _save(self, record: AuthDotJson) -> None:
        """Save under the in-process lock; say so when an unusable file had to be moved aside."""
        before = getattr(self._store, "moved_aside", None)
        async with self._managed_lock:
            await self._store.save(record)
        moved = getattr(self._store, "moved_aside", None)
        if moved is not None and moved != before:
            where, why = moved
            self._credentials_problem = (
                f"the stored credentials could not be used ({why.split('; ')[0]}); the file was "
                f"kept as {where.name} and the new sign-in was saved"
            )

    def _auth_from_record(self, record: AuthDotJson | None) -> CodexAuth | None:
        if record is None:
            return None
        source = self._store.description
        mode = record.auth_mode or ("apikey" if record.openai_api_key else "chatgpt")
        if mode == "apikey":
            if not record.openai_api_key:
                raise StorageError(
                    f"{source} says auth_mode apikey but has no OPENAI_API_KEY; sign in again"
                )
            return ApiKeyAuth(api_key=record.openai_api_key)
        if mode == "chatgptAuthTokens":
            log.warning("ignoring editor-owned tokens found in %s: they are memory-only", source)
            return None
        if mode != "chatgpt":
            raise StorageError(f"{source} has an unknown auth_mode {mode!r}; sign in again")
        tokens = record.tokens
        if tokens is None:
            return None  # nothing stored (e.g. only {"OPENAI_API_KEY": null})
        try:
            info = parse_jwt_claims(tokens.id_token)
        except MalformedTokenError as exc:
            raise StorageError(
                f"{source} holds a malformed id_token ({exc.reason}); sign in again"
            ) from None
        return ChatGptAuth(
            id_token=info,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            account_id=tokens.account_id or info.chatgpt_account_id,
            last_refresh=record.last_refresh or UNKNOWN_LAST_REFRESH,
        )

    def _set_current(self, auth: CodexAuth | None) -> None:
        if auth == self._current:
            return
        _register_secrets(auth)
        self._current = auth
        for listener in list(self._listeners):
            try:
                listener(auth)
            except Exception:
                log.exception("an auth listener failed")

    def _reject_if_editor_auth_active(self) -> None:
        if self._editor_tokens is not None:
            raise InvalidRequest(
                "external (editor-owned) ChatGPT auth is active; update it with account/login/start "
                "(type chatgptAuthTokens) or clear it with account/logout first"
            )

    # -- internals: single flight and proactive refresh -------------------------------------
    async def _single_flight(
        self, key: FlightKey, start: Callable[[], Coroutine[Any, Any, CodexAuth]]
    ) -> CodexAuth:
        """Join the running operation for `key` or start one; a waiter's cancellation spares it."""
        task = self._flights.get(key)
        if task is None:
            task = asyncio.create_task(start())
            self._flights[key] = task
            task.add_done_callback(lambda done: self._finish_flight(key, done))
        return await asyncio.shield(task)

    def _finish_flight(self, key: FlightKey, task: asyncio.Task[CodexAuth]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # mark retrieved even if every waiter was cancelled

    async def _try_proactive(
        self, key: FlightKey, start: Callable[[], Coroutine[Any, Any, CodexAuth]]
    ) -> _ProactiveOutcome:
        """A proactive refresh that fails leaves the old credentials in place. Returns whether
        a refresh was attempted (not skipped by the cool-down) and its error, if any."""
        failed_at = self._proactive_failed_at.get(key)
        if failed_at is not None and time.monotonic() - failed_at < PROACTIVE_RETRY_COOLDOWN:
            return _NOT_ATTEMPTED
        if key[0] == "managed" and self._cached_permanent_failure(key[1]) is not None:
            return _NOT_ATTEMPTED
        try:
            await self._single_flight(key, start)
        except CodexError as exc:
            self._proactive_failed_at[key] = time.monotonic()
            log.warning("proactive token refresh failed; keeping the current token: %s", exc)
            return _ProactiveOutcome(attempted=True, error=exc)
        self._proactive_failed_at.pop(key, None)
        return _ProactiveOutcome(attempted=True, error=None)

    def _managed_refresh_due(self, auth: ChatGptAuth) -> bool:
        now = datetime.now(UTC)
        expires_at = token_expiry(auth.access_token)
        if expires_at is not None:
            return expires_at - now <= MANAGED_REFRESH_WINDOW
        return now - auth.last_refresh > TOKEN_REFRESH_INTERVAL

    def _editor_refresh_due(self, tokens: ChatGptAuthTokens) -> bool:
        if self._editor_refresher is None:
            return False
        if _editor_key(tokens) in self._short_lived:
            return False  # the editor just gave us this one: only a 401 asks again
        return self._expires_soon(tokens)

    def _expires_soon(self, tokens: ChatGptAuthTokens) -> bool:
        claims = tokens.id_token
        if claims.raw_jwt == tokens.access_token:  # the claims came from it: decoded already
            expires_at = claims.expires_at
        else:
            expires_at = token_expiry(tokens.access_token) or claims.expires_at
        if expires_at is None:
            return False
        return expires_at - datetime.now(UTC) <= self._editor_proactive_window

    # -- internals: 401 recovery ---------------------------------------------------------------
    async def _recover(self, failed: CodexAuth) -> CodexAuth:
        current = self._current
        if current is None:
            raise NotLoggedIn(
                "logged out while the request was running; sign in with account/login/start"
            )
        if current != failed:
            return current  # someone already replaced the credentials: just retry with them
        if isinstance(failed, ChatGptAuth):
            try:
                return await self._single_flight(
                    _managed_key(failed), lambda: self._recover_managed(failed)
                )
            except (RefreshTokenFailed, StorageError) as exc:
                raise AuthRecoveryFailed(exc.message) from None
        if isinstance(failed, ChatGptAuthTokens):
            return await self._single_flight(
                _editor_key(failed), lambda: self._refresh_editor_from(failed)
            )
        raise AuthRecoveryFailed("the API key was rejected; check it or sign in again")

    async def _recover_managed(self, failed: ChatGptAuth) -> CodexAuth:
        reloaded = await self.reload()
        if reloaded is not None and reloaded != failed:
            return reloaded
        return await self._refresh_managed_from(failed)

    # -- internals: managed OAuth refresh ------------------------------------------------------
    async def _refresh_managed_from(self, snapshot: ChatGptAuth) -> CodexAuth:
        key = _fingerprint(snapshot.refresh_token)
        cached = self._cached_permanent_failure(key)
        if cached is not None:
            raise cached
        async with self._managed_lock, self._store.lock():
            record = await self._store.load()
            on_disk = self._auth_from_record(record)
            if not isinstance(on_disk, ChatGptAuth) or on_disk.account_id != snapshot.account_id:
                raise self._remember_permanent(
                    key,
                    "Your access token could not be refreshed because you have since logged out "
                    "or signed in to another account. " + _SIGN_IN_AGAIN,
                )
            if on_disk.refresh_token != snapshot.refresh_token:
                log.info("another process already refreshed the ChatGPT tokens; adopting them")
                self._adopt(snapshot, on_disk)
                return on_disk
            assert record is not None and record.tokens is not None  # implied by on_disk
            refreshed_record = await self._request_refresh(key, record, record.tokens)
            refreshed = self._auth_from_record(refreshed_record)
            assert isinstance(refreshed, ChatGptAuth)
            try:
                await self._store.save(refreshed_record)
            except StorageError as exc:
                # The issuer already rotated the tokens: keep them in memory rather than lose them.
                log.error("refreshed tokens could not be saved, using them in memory only: %s", exc)
        self._adopt(snapshot, refreshed)
        return refreshed

    def _adopt(self, snapshot: CodexAuth, refreshed: CodexAuth) -> None:
        # Only replace what was refreshed: a logout or login meanwhile wins.
        if self._current == snapshot:
            self._set_current(refreshed)

    async def _request_refresh(
        self, key: str, record: AuthDotJson, tokens: TokenData
    ) -> AuthDotJson:
        body = {
            "client_id": CLIENT_ID,
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
        }
        try:
            async with httpx.AsyncClient(timeout=self._http_timeout) as client:
                response = await client.post(self._refresh_url, json=body)
        except httpx.TimeoutException:
            raise RefreshTokenFailed(
                f"Failed to refresh token: the token endpoint did not answer within "
                f"{self._http_timeout:g} s; try again later",
                permanent=False,
            ) from None
        except httpx.HTTPError as exc:
            raise RefreshTokenFailed(
                f"Failed to refresh token: could not reach the token endpoint "
                f"({type(exc).__name__}); check your network and try again",
                permanent=False,
            ) from None
        if response.status_code != 200:
            raise self._classify_refresh_failure(key, response)
        return _apply_refresh_response(record, tokens, response)

    def _classify_refresh_failure(self, key: str, response: httpx.Response) -> RefreshTokenFailed:
        code = _error_code(response)
        if code in PERMANENT_REFRESH_ERRORS:
            return self._remember_permanent(
                key,
                f"Your access token could not be refreshed because "
                f"{PERMANENT_REFRESH_ERRORS[code]}. {_SIGN_IN_AGAIN}",
            )
        if response.status_code == 401:
            return self._remember_permanent(
                key,
                "Your access token could not be refreshed: the sign-in server rejected the "
                f"refresh token (HTTP 401{f', {code}' if code else ''}). {_SIGN_IN_AGAIN}",
            )
        detail = f" ({code})" if code else ""
        return RefreshTokenFailed(
            f"Failed to refresh token: HTTP {response.status_code}{detail}; try again later",
            permanent=False,
        )

    def permanent_refresh_failure(self) -> RefreshTokenFailed | None:
        """The cached permanent refresh failure of the current managed credentials, if any: their
        access token is not handed out any more (getAuthStatus), as upstream."""
        current = self._current
        if not isinstance(current, ChatGptAuth):
            return None
        return self._cached_permanent_failure(_fingerprint(current.refresh_token))

    def _remember_permanent(self, key: str, message: str) -> RefreshTokenFailed:
        error = RefreshTokenFailed(message, permanent=True)
        self._permanent_failure = (key, error)
        return error

    def _cached_permanent_failure(self, key: str) -> RefreshTokenFailed | None:
        if self._permanent_failure is not None and self._permanent_failure[0] == key:
            return self._permanent_failure[1]
        return None

    # -- internals: editor-owned tokens --------------------------------------------------------
    async def _refresh_editor_from(self, snapshot: ChatGptAuthTokens) -> CodexAuth:
        refresher = self._editor_refresher
        if refresher is None:
            raise AuthRecoveryFailed(
                "the editor has not registered a token refresher; send new tokens with "
                "account/login/start (type chatgptAuthTokens)"
            )
        previous_account = account_id(snapshot)
        tokens = await self._ask_editor(refresher, previous_account)
        try:
            check_workspace(self._forced_workspace_id, tokens.id_token.chatgpt_account_id)
        except InvalidRequest as exc:
            raise AuthRecoveryFailed(
                f"the editor's refreshed tokens are for the wrong workspace: {exc.message}"
            ) from None
        if self._editor_tokens is None:
            raise AuthRecoveryFailed(
                "logged out while the editor was refreshing tokens; sign in again"
            )
        if self._expires_soon(tokens):
            self._short_lived.add(_editor_key(tokens))
        if (
            self._editor_tokens == snapshot
        ):  # else the editor pushed newer tokens meanwhile: keep those
            self._editor_tokens = tokens
            self._set_current(self._override_auth())
        new_account = tokens.id_token.chatgpt_account_id
        if previous_account is not None and new_account != previous_account:
            # The editor switched accounts: adopt its tokens (it owns them; `account/updated`
            # names the new account) but fail this operation, which began for the old one.
            raise AccountSwitched(previous_account, new_account)
        return self._current if self._current is not None else tokens

    async def _ask_editor(
        self, refresher: EditorRefresher, previous_account_id: str | None
    ) -> ChatGptAuthTokens:
        try:
            async with asyncio.timeout(self._editor_refresh_timeout):
                tokens = await refresher(previous_account_id)
        except TimeoutError:
            raise AuthRecoveryFailed(
                f"the editor did not answer account/chatgptAuthTokens/refresh within "
                f"{self._editor_refresh_timeout:g} s; sign in again from the editor"
            ) from None
        except InvalidParams as exc:
            # Refused like upstream's schema check; nothing is cached, the next request asks again.
            raise AuthRecoveryFailed(f"invalid auth refresh response: {exc.message}") from None
        except CodexError as exc:
            raise AuthRecoveryFailed(f"the editor's token refresh failed: {exc.message}") from None
        except Exception as exc:
            raise AuthRecoveryFailed(
                f"the editor's token refresh failed ({type(exc).__name__}); sign in again from the editor"
            ) from None
        if not isinstance(tokens, ChatGptAuthTokens):
            raise AuthRecoveryFailed(
                "the editor's token refresh returned a malformed reply; sign in again from the editor"
            )
        return tokens


def _apply_refresh_response(
    record: AuthDotJson, tokens: TokenData, response: httpx.Response
) -> AuthDotJson:
    """Each field present in the issuer's reply replaces the stored one; last_refresh = now."""
    malformed = RefreshTokenFailed(
        "Failed to refresh token: the token endpoint returned a malformed response; try again later",
        permanent=False,
    )
    try:
        payload = response.json()
    except ValueError:
        raise malformed from None
    if not isinstance(payload, dict):
        raise malformed
    fields = {}
    for name in ("id_token", "access_token", "refresh_token"):
        value = payload.get(name)
        if value is not None and not isinstance(value, str):
            raise malformed
        fields[name] = value or getattr(tokens, name)
    try:
        info = parse_jwt_claims(fields["id_token"])
    except MalformedTokenError:
        raise malformed from None
    new_tokens = TokenData(
        id_token=fields["id_token"],
        access_token=fields["access_token"],
        refresh_token=fields["refresh_token"],
        account_id=tokens.account_id or info.chatgpt_account_id,
    )
    return attrs.evolve(record, tokens=new_tokens, last_refresh=datetime.now(UTC))


def _error_code(response: httpx.Response) -> str | None:
    """The error code from `error.code`, `error` (a string) or top-level `code`."""
    try:
        payload = response.json()
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    candidates = [
        error.get("code") if isinstance(error, dict) else None,
        error if isinstance(error, str) else None,
        payload.get("code"),
    ]
    for candidate in candidates:
        if isinstance(candidate, str) and _ERROR_CODE_PATTERN.match(candidate):
            return candidate
    return None


def _fingerprint(secret: str) -> str:
    """A short stable id for a credential snapshot, so keys never hold the secret itself."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:24]


def _managed_key(auth: ChatGptAuth) -> FlightKey:
    return ("managed", _fingerprint(auth.refresh_token))


def _editor_key(tokens: ChatGptAuthTokens) -> FlightKey:
    return ("editor", _fingerprint(tokens.access_token))


def _identity(auth: CodexAuth | None) -> tuple[str, str | None] | None:
    """Which account credentials belong to (a new API key is the same 'account' kind)."""
    if auth is None:
        return None
    if isinstance(auth, ApiKeyAuth):
        return ("apikey", None)
    return ("chatgpt", account_id(auth))


def _register_secrets(auth: CodexAuth | None) -> None:
    """Every credential we hold is scrubbed from log lines, wherever it turns up."""
    if auth is None:
        return
    for name in ("api_key", "access_token", "refresh_token"):
        register_secret(getattr(auth, name, None))
    id_token = getattr(auth, "id_token", None)
    register_secret(getattr(id_token, "raw_jwt", None))
