"""`account/*` and `getAuthStatus`: logins, logout, account state, rate limits, editor token refresh.

The AuthManager owns the credentials; this module maps requests onto it, runs the browser and
device-code flows of `auth.login`, and sends the account notifications. Ordering rules:
a login's result is answered first, then `account/login/completed`, then `account/updated`
(exactly once per login); changes the AuthManager makes by itself (editor or managed refresh)
send `account/updated` through its listener, which is muted while a login/logout sends its own.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from codex_lsp import logs
from codex_lsp.auth.claims import chatgpt_auth_tokens_from_editor
from codex_lsp.auth.login import (
    BROWSER_LOGIN_TIMEOUT_S,
    DEVICE_LOGIN_TIMEOUT_S,
    BrowserLogin,
    DeviceCodeLogin,
    Logins,
    LoginTokens,
    callback_ports,
    login_issuer,
    login_timeout,
)
from codex_lsp.auth.model import (
    ApiKeyAuth,
    ChatGptAuth,
    ChatGptAuthTokens,
    CodexAuth,
    account_id,
    bearer_token,
    email,
    plan_type,
    wire_auth_mode,
)
from codex_lsp.auth.restrictions import check_login_method
from codex_lsp.backend.rate_limits import fetch_usage_snapshots, rate_limits_read_result
from codex_lsp.errors import CodexError, InternalError, InvalidParams, InvalidRequest
from codex_lsp.protocol import ParamsError, from_wire
from codex_lsp.protocol.account import (
    ACCOUNT_CHATGPT_AUTH_TOKENS_REFRESH,
    ACCOUNT_LOGIN_CANCEL,
    ACCOUNT_LOGIN_COMPLETED,
    ACCOUNT_LOGIN_START,
    ACCOUNT_LOGOUT,
    ACCOUNT_RATE_LIMITS_READ,
    ACCOUNT_READ,
    ACCOUNT_UPDATED,
    GET_AUTH_STATUS,
    Account,
    AccountLoginCompleted,
    AccountReadParams,
    AccountReadResult,
    AccountUpdated,
    ApiKeyAccount,
    ApiKeyLoginParams,
    ApiKeyLoginResult,
    ChatGptAccount,
    ChatGptAuthTokensLoginParams,
    ChatGptAuthTokensLoginResult,
    ChatgptAuthTokensRefreshParams,
    ChatgptAuthTokensRefreshResponse,
    ChatGptDeviceCodeLoginParams,
    ChatGptDeviceCodeLoginResult,
    ChatGptLoginResult,
    Empty,
    GetAuthStatusParams,
    GetAuthStatusResult,
    LoginCancelParams,
    LoginCancelResult,
    LoginParams,
    LoginResult,
)

if TYPE_CHECKING:
    from codex_lsp.auth.manager import AuthManager
    from codex_lsp.server import CodexLanguageServer
    from codex_lsp.services import Services

log = logging.getLogger(__name__)


def account_payload(auth: CodexAuth | None) -> Account | None:
    """The wire `Account`: editor-owned tokens report as `chatgpt`."""
    if auth is None:
        return None
    if isinstance(auth, ApiKeyAuth):
        return ApiKeyAccount(type="apiKey")
    return ChatGptAccount(type="chatgpt", email=email(auth), plan_type=plan_type(auth) or "unknown")


def updated_payload(auth: CodexAuth | None) -> AccountUpdated:
    if auth is None:
        return AccountUpdated(auth_mode=None, plan_type=None)
    return AccountUpdated(
        auth_mode=wire_auth_mode(auth),
        plan_type=plan_type(auth),
        chatgpt_account_id=account_id(auth),
        email=email(auth),
    )


class AccountNotifier:
    """Sends `account/login/completed` and `account/updated`, once each and in that order."""

    def __init__(self, server: CodexLanguageServer, auth: AuthManager) -> None:
        self._server = server
        self._auth = auth
        self._ready = False  # start-up loads and logouts are not news to the editor
        self._quiet = 0
        self._last_sent: AccountUpdated | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def started(self, startup_warning: str | None) -> None:
        """Start-up is over: from now on auth changes are reported (and why we logged out, if so)."""
        if self._ready:
            return
        self._ready = True
        self._last_sent = updated_payload(self._auth.current())
        if startup_warning:
            self._server.protocol.notify(
                types.WINDOW_LOG_MESSAGE,
                types.LogMessageParams(
                    type=types.MessageType.Warning,
                    message=f"codex-lsp signed you out at start-up: {startup_warning}",
                ),
            )

    def on_auth_changed(self, auth: CodexAuth | None) -> None:
        """AuthManager listener: report changes it made by itself (refreshes)."""
        if not self._ready or self._quiet:
            return
        payload = updated_payload(auth)
        # Only what a client shows is news (mode, plan, account, email), not a token rotation.
        if payload != self._last_sent:
            self.send_updated()

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Mute the listener while a login/logout changes auth; it sends `account/updated` itself."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def send_updated(self) -> None:
        payload = updated_payload(self._auth.current())
        self._last_sent = payload
        self._server.send_notification(ACCOUNT_UPDATED, payload)

    def send_completed(self, login_id: str | None, error: str | None) -> None:
        completed = AccountLoginCompleted(login_id=login_id, success=error is None, error=error)
        self._server.send_notification(ACCOUNT_LOGIN_COMPLETED, completed)
        if error is None:
            self.send_updated()

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class AccountHandlers:
    """The account methods over one server's services."""

    def __init__(self, server: CodexLanguageServer, services: Services) -> None:
        self.server = server
        self.services = services
        self.auth: AuthManager = services.auth
        self.notifier = AccountNotifier(server, services.auth)
        self.logins = Logins(self.notifier)

    # -- account/read, getAuthStatus ---------------------------------------------------------
    async def read(self, params: AccountReadParams) -> AccountReadResult:
        if params.refresh_token:
            await self._refresh_managed_quietly()
        if not self.services.provider.requires_openai_auth:
            return AccountReadResult(account=None, requires_openai_auth=False)
        return AccountReadResult(
            account=account_payload(self.auth.current()),
            requires_openai_auth=True,
            credentials_problem=self.auth.credentials_problem,
        )

    async def auth_status(self, params: GetAuthStatusParams) -> GetAuthStatusResult:
        if not self.services.provider.requires_openai_auth:
            return GetAuthStatusResult(
                auth_method=None, auth_token=None, requires_openai_auth=False
            )
        if params.refresh_token:
            await self._refresh_managed_quietly()
        auth = self.auth.current()
        if auth is None:
            return GetAuthStatusResult(auth_method=None, auth_token=None, requires_openai_auth=True)
        withheld = self.auth.permanent_refresh_failure() is not None
        token = bearer_token(auth) if params.include_token and not withheld else None
        return GetAuthStatusResult(
            auth_method=wire_auth_mode(auth), auth_token=token, requires_openai_auth=True
        )

    async def _refresh_managed_quietly(self) -> None:
        """A forced managed refresh; a no-op for API keys and editor-owned tokens. A failure is
        logged, not raised: the account is still what it was (as upstream)."""
        if not isinstance(self.auth.current(), ChatGptAuth):
            return
        try:
            await self.auth.refresh_managed()
        except CodexError as exc:
            log.warning("token refresh requested by the editor failed: %s", exc.message)

    # -- account/login/start ---------------------------------------------------------------------
    async def login_start(self, params: LoginParams) -> LoginResult:
        if isinstance(params, ChatGptAuthTokensLoginParams):
            return await self._login_editor_tokens(params)
        if isinstance(params, ApiKeyLoginParams):
            return await self._login_api_key(params)
        self._refuse_while_editor_auth(params.type)
        check_login_method(self.auth.forced_login_method, "chatgpt")
        if isinstance(params, ChatGptDeviceCodeLoginParams):
            return await self._login_device_code()
        return await self._login_browser()

    def _refuse_while_editor_auth(self, login_type: str) -> None:
        if self.auth.editor_auth_active():
            raise InvalidRequest(
                f"cannot start a {login_type} login while editor-owned ChatGPT auth "
                "(chatgptAuthTokens) is active; call account/logout first, or send new tokens "
                "with account/login/start (type chatgptAuthTokens)"
            )

    async def _login_editor_tokens(self, params: ChatGptAuthTokensLoginParams) -> LoginResult:
        tokens = chatgpt_auth_tokens_from_editor(
            params.access_token,
            id_token=params.id_token,
            chatgpt_account_id=params.chatgpt_account_id,
            chatgpt_plan_type=params.chatgpt_plan_type,
        )
        logs.register_secret(params.access_token)
        logs.register_secret(params.id_token)
        with self.notifier.quiet():
            self.auth.set_editor_tokens(tokens)  # checks forced method and workspace
            self.logins.cancel_active("Login was replaced by editor-owned tokens")
        self.server.after_response(lambda: self.notifier.send_completed(None, None))
        return ChatGptAuthTokensLoginResult(type="chatgptAuthTokens")

    async def _login_api_key(self, params: ApiKeyLoginParams) -> LoginResult:
        self._refuse_while_editor_auth("apiKey")
        logs.register_secret(params.api_key)
        with self.notifier.quiet():
            await self.auth.login_api_key(params.api_key)
            self.logins.cancel_active("Login was replaced by an API key login")
        self.server.after_response(lambda: self.notifier.send_completed(None, None))
        return ApiKeyLoginResult(type="apiKey")

    async def _login_browser(self) -> LoginResult:
        env = self.services.config.login_env
        login = await BrowserLogin.start(
            self.services.http,
            issuer=login_issuer(env),
            persist=self._persist_login,
            ports=callback_ports(env),
            timeout=login_timeout(
                env, BROWSER_LOGIN_TIMEOUT_S, self.services.config.lsp.login_timeout_s
            ),
            workspace_id=self.auth.forced_workspace_id,
        )
        self.logins.replace(login)
        if self.server.client_supports_show_document:
            self._open_in_browser(login.auth_url)
        return ChatGptLoginResult(type="chatgpt", login_id=login.login_id, auth_url=login.auth_url)

    async def _login_device_code(self) -> LoginResult:
        env = self.services.config.login_env
        login = await DeviceCodeLogin.start(
            self.services.http,
            issuer=login_issuer(env),
            persist=self._persist_login,
            timeout=login_timeout(
                env, DEVICE_LOGIN_TIMEOUT_S, self.services.config.lsp.login_timeout_s
            ),
        )
        self.logins.replace(login)
        return ChatGptDeviceCodeLoginResult(
            type="chatgptDeviceCode",
            login_id=login.login_id,
            verification_url=login.verification_url,
            user_code=login.user_code,
        )

    async def _persist_login(self, tokens: LoginTokens) -> None:
        for secret in (tokens.id_token, tokens.access_token, tokens.refresh_token, tokens.api_key):
            logs.register_secret(secret)
        with self.notifier.quiet():
            await self.auth.save_chatgpt_login(
                tokens.id_token, tokens.access_token, tokens.refresh_token, tokens.api_key
            )

    def _open_in_browser(self, url: str) -> None:
        """Ask the editor to open the sign-in page; the login goes on whatever it answers.

        Not through `request_client`: pygls must get the lsprotocol params object for a standard
        LSP method (a dict fails to serialize). The future is never cancelled, so a late answer
        is harmless; an editor that never answers leaves one pending entry per login.
        """
        params = types.ShowDocumentParams(uri=url, external=True)
        future = self.server.protocol.send_request_async(types.WINDOW_SHOW_DOCUMENT, params)

        def report(done: asyncio.Future[Any]) -> None:
            error = None if done.cancelled() else done.exception()
            if error is not None:
                log.info(
                    "the editor did not open the sign-in page (%s); open authUrl yourself",
                    getattr(error, "message", type(error).__name__),
                )
            elif not done.cancelled() and not getattr(done.result(), "success", True):
                log.info("the editor could not open the sign-in page; open authUrl yourself")

        future.add_done_callback(report)

    # -- cancel, logout ------------------------------------------------------------------------
    async def login_cancel(self, params: LoginCancelParams) -> LoginCancelResult:
        try:
            login_id = str(uuid.UUID(params.login_id))
        except ValueError:
            raise InvalidRequest(f"invalid login id: {params.login_id[:100]}") from None
        return LoginCancelResult(status="canceled" if self.logins.cancel(login_id) else "notFound")

    async def logout(self, params: Empty) -> Empty:
        with self.notifier.quiet():
            self.logins.cancel_active("Login cancelled by logout")
            try:
                await self.auth.logout()
            except CodexError as exc:
                raise InternalError(f"logout failed: {exc.message}") from None
            finally:
                self.server.after_response(self.notifier.send_updated)
        return Empty()

    # -- account/rateLimits/read -----------------------------------------------------------------
    async def rate_limits_read(self, params: Empty) -> dict[str, Any]:
        snapshots = await fetch_usage_snapshots(
            self.services.http, self.services.provider, self.auth
        )
        snapshot = next(iter(snapshots.values()))  # the main (codex) limit comes first
        self.services.rate_limits.snapshot = snapshot
        return rate_limits_read_result(snapshot, snapshots)

    # -- server -> client: account/chatgptAuthTokens/refresh -------------------------------------
    async def refresh_from_editor(self, previous_account_id: str | None) -> ChatGptAuthTokens:
        """The AuthManager's editor refresher. Also used proactively (token about to expire);
        the wire `reason` stays `unauthorized`, upstream's only value."""
        answer = await self.server.request_client(
            ACCOUNT_CHATGPT_AUTH_TOKENS_REFRESH,
            ChatgptAuthTokensRefreshParams(
                reason="unauthorized", previous_account_id=previous_account_id
            ),
            self.services.config.lsp.editor_refresh_timeout_s,
        )
        try:
            reply = from_wire(ChatgptAuthTokensRefreshResponse, answer, "result")
        except ParamsError as exc:
            raise InvalidParams(
                f"the editor answered account/chatgptAuthTokens/refresh with a malformed result ({exc})"
            ) from None
        logs.register_secret(reply.access_token)
        logs.register_secret(reply.id_token)
        return chatgpt_auth_tokens_from_editor(
            reply.access_token,
            id_token=reply.id_token,
            chatgpt_account_id=reply.chatgpt_account_id,
            chatgpt_plan_type=reply.chatgpt_plan_type,
        )


def _when_started(
    server: CodexLanguageServer, services: Services, notifier: AccountNotifier
) -> None:
    """Tell the notifier when start-up (credential load + login restrictions) is over."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        # Registered before the loop runs: start-up completes inside `initialize`.
        @server.feature(types.INITIALIZED)
        def on_initialized(params: Any) -> None:
            notifier.started(services.startup_warning)

        return
    wait_started = getattr(server, "wait_started", None)

    async def after_startup() -> None:
        if wait_started is not None:
            try:
                await wait_started()
            except Exception:  # noqa: BLE001 - start-up failures are reported to every request
                return
        notifier.started(services.startup_warning)

    notifier.spawn(after_startup())


def register(server: CodexLanguageServer, services: Services) -> None:
    account = AccountHandlers(server, services)
    services.auth.add_listener(account.notifier.on_auth_changed)
    services.auth.set_editor_refresher(account.refresh_from_editor)
    _when_started(server, services, account.notifier)

    server.request_handler(ACCOUNT_READ)(account.read)
    server.request_handler(ACCOUNT_LOGIN_START)(account.login_start)
    server.request_handler(ACCOUNT_LOGIN_CANCEL)(account.login_cancel)
    server.request_handler(ACCOUNT_LOGOUT)(account.logout)
    server.request_handler(ACCOUNT_RATE_LIMITS_READ)(account.rate_limits_read)
    server.request_handler(GET_AUTH_STATUS)(account.auth_status)
