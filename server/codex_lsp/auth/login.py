"""ChatGPT login flows (reference §7): browser OAuth with PKCE, and the device-code flow.

Plain asyncio + httpx, no JSON-RPC. A flow is started, exposes what the editor must show
(`auth_url`, or `verification_url` + `user_code`), and ends exactly once: `wait()` returns on
success or raises :class:`LoginFailed` (timeout, cancel, bad callback, issuer error...).
Saving the tokens is the caller's `persist` callback, awaited before the browser gets its page,
so the page (and the outcome) say whether the login really worked. Nothing here deletes
credentials: a failed or cancelled login leaves the old ones in place.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import logging
import re
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import attrs
import httpx

from codex_lsp.errors import CodexError, InternalError, InvalidRequest

log = logging.getLogger(__name__)

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
DEFAULT_ISSUER = "https://auth.openai.com"
ISSUER_ENV = "CODEX_APP_SERVER_LOGIN_ISSUER"
CALLBACK_PORTS_ENV = "CODEX_LOGIN_CALLBACK_PORTS"
LOGIN_TIMEOUT_ENV = "CODEX_LOGIN_TIMEOUT_S"
DEFAULT_CALLBACK_PORTS = (1455, 1457)
BROWSER_LOGIN_TIMEOUT_S = 600.0
DEVICE_LOGIN_TIMEOUT_S = 900.0
HTTP_TIMEOUT_S = 10.0
SLOW_DOWN_STEP_S = 5.0  # RFC 8628 section 3.5
MAX_POLL_INTERVAL_S = 60.0
MAX_TRANSIENT_BACKOFF_S = 60.0  # device polling: 5xx/429 back off up to this, until the deadline
USER_CODE_ATTEMPTS = 4  # the user-code request: transient failures retried 3 times
USER_CODE_BACKOFF_S = 0.5
SCOPES = "openid profile email offline_access"
ORIGINATOR = "codex_cli_rs"  # an originator the real issuer knows
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
CALLBACK_READ_TIMEOUT_S = 10.0
MAX_HEADER_LINES = 100
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

CANCELLED = "Login cancelled"
TIMED_OUT = "Login timed out"


class LoginFailed(CodexError):
    """A login ended without credentials; the message is what `account/login/completed` says."""

    code = InvalidRequest.code


@attrs.frozen
class LoginTokens:
    """What a completed login produced (never logged: every field is hidden from repr)."""

    id_token: str = attrs.field(repr=False)
    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    api_key: str | None = attrs.field(default=None, repr=False)


PersistLogin = Callable[[LoginTokens], Awaitable[None]]


# ---- configuration ------------------------------------------------------------------------------


def login_issuer(env: Mapping[str, str]) -> str:
    return (env.get(ISSUER_ENV) or DEFAULT_ISSUER).rstrip("/")


def callback_ports(env: Mapping[str, str]) -> tuple[int, ...]:
    """Ports to try in order: `CODEX_LOGIN_CALLBACK_PORTS` (e.g. "1455,1457" or "0") or 1455, 1457;
    an ephemeral port (0) always comes last."""
    raw = env.get(CALLBACK_PORTS_ENV, "").strip()
    ports: list[int] = list(DEFAULT_CALLBACK_PORTS)
    if raw:
        try:
            ports = [int(part) for part in raw.split(",") if part.strip()]
        except ValueError:
            log.warning(
                "%s=%r is not a comma-separated port list; using 1455, 1457",
                CALLBACK_PORTS_ENV,
                raw,
            )
        if any(not 0 <= port <= 65535 for port in ports):
            log.warning("%s=%r has a port out of range; using 1455, 1457", CALLBACK_PORTS_ENV, raw)
            ports = list(DEFAULT_CALLBACK_PORTS)
    if 0 not in ports:
        ports.append(0)
    return tuple(ports)


def login_timeout(env: Mapping[str, str], default: float, configured: float | None = None) -> float:
    """CODEX_LOGIN_TIMEOUT_S, else config.toml's `lsp.login_timeout_s`, else ``default``."""
    if configured is not None:
        default = configured
    raw = env.get(LOGIN_TIMEOUT_ENV)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        log.warning(
            "%s=%r is not a positive number of seconds; using %g", LOGIN_TIMEOUT_ENV, raw, default
        )
        return default
    return value


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge): 64 random bytes, base64url without padding."""
    verifier = _b64url(secrets.token_bytes(64))
    challenge = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    return verifier, challenge


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


# ---- the common part of both flows ----------------------------------------------------------------


class PendingLogin:
    """A login in progress: one outcome, set once, by success, failure, cancel or timeout."""

    def __init__(self, timeout: float) -> None:
        self.login_id = str(uuid.uuid4())
        loop = asyncio.get_running_loop()
        self._outcome: asyncio.Future[None] = loop.create_future()
        self._timer = loop.call_later(timeout, self._fail, TIMED_OUT)

    @property
    def done(self) -> bool:
        return self._outcome.done()

    async def wait(self) -> None:
        """Return when the login succeeded; raise LoginFailed saying why it did not."""
        await asyncio.shield(self._outcome)

    def cancel(self, reason: str = CANCELLED) -> bool:
        """Stop the login (its `wait()` raises LoginFailed(reason)); False if it already ended."""
        if self.done:
            return False
        self._fail(reason)
        return True

    def _fail(self, reason: str) -> None:
        self._finish(LoginFailed(reason))

    def _succeed(self) -> None:
        self._finish(None)

    def _finish(self, error: LoginFailed | None) -> None:
        if self._outcome.done():
            return
        self._timer.cancel()
        if error is None:
            self._outcome.set_result(None)
        else:
            self._outcome.set_exception(error)
            self._outcome.exception()  # mark retrieved: nobody may be waiting
        self._stop()

    def _stop(self) -> None:
        """Release what the flow holds (listening socket, polling task)."""


# ---- issuer calls -----------------------------------------------------------------------------------


async def exchange_code(
    http: httpx.AsyncClient, issuer: str, code: str, redirect_uri: str, code_verifier: str
) -> LoginTokens:
    """`POST {issuer}/oauth/token` (authorization_code + PKCE) -> tokens, plus an API key if the
    issuer grants one (best effort, as upstream)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": CLIENT_ID,
        "code_verifier": code_verifier,
    }
    payload = await _post_token(http, issuer, form, "the authorization code exchange")
    fields = {name: payload.get(name) for name in ("id_token", "access_token", "refresh_token")}
    if not all(isinstance(value, str) and value for value in fields.values()):
        raise LoginFailed(
            "Login failed: the sign-in server's token answer lacks id_token, access_token or "
            "refresh_token; try again"
        )
    api_key = await _exchange_for_api_key(http, issuer, str(fields["id_token"]))
    return LoginTokens(
        id_token=str(fields["id_token"]),
        access_token=str(fields["access_token"]),
        refresh_token=str(fields["refresh_token"]),
        api_key=api_key,
    )


async def _exchange_for_api_key(http: httpx.AsyncClient, issuer: str, id_token: str) -> str | None:
    form = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "client_id": CLIENT_ID,
        "requested_token": "openai-api-key",
        "subject_token": id_token,
        "subject_token_type": ID_TOKEN_TYPE,
    }
    try:
        payload = await _post_token(http, issuer, form, "the API key exchange")
    except LoginFailed as exc:
        log.info("no API key from the sign-in server (%s); continuing without one", exc.message)
        return None
    key = payload.get("access_token")
    return key if isinstance(key, str) and key else None


async def _post_token(
    http: httpx.AsyncClient, issuer: str, form: dict[str, str], what: str
) -> dict[str, Any]:
    try:
        response = await http.post(f"{issuer}/oauth/token", data=form, timeout=HTTP_TIMEOUT_S)
    except httpx.TimeoutException:
        raise LoginFailed(
            f"Login failed: the sign-in server did not answer {what} within {HTTP_TIMEOUT_S:g} s; try again"
        ) from None
    except httpx.HTTPError as exc:
        raise LoginFailed(
            f"Login failed: could not reach the sign-in server for {what} ({type(exc).__name__}); "
            "check the network and try again"
        ) from None
    payload = _json_object(response)
    if response.status_code != 200:
        code = _error_code(payload)
        detail = f", {code}" if code else ""
        raise LoginFailed(
            f"Login failed: {what} was refused (HTTP {response.status_code}{detail}); try again"
        )
    if payload is None:
        raise LoginFailed(f"Login failed: {what} returned a malformed answer; try again")
    return payload


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        value = response.json()
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _error_code(payload: dict[str, Any] | None) -> str | None:
    if payload is None:
        return None
    error = payload.get("error")
    for candidate in (error.get("code") if isinstance(error, dict) else error, payload.get("code")):
        if isinstance(candidate, str) and _ERROR_CODE.match(candidate):
            return candidate
    return None


# ---- browser login ----------------------------------------------------------------------------------


class BrowserLogin(PendingLogin):
    """Browser OAuth: a one-shot callback server on 127.0.0.1 and an authorize URL with PKCE + state."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        issuer: str,
        persist: PersistLogin,
        timeout: float,
        workspace_id: str | None,
    ) -> None:
        super().__init__(timeout)
        self._http = http
        self._issuer = issuer
        self._persist = persist
        self._workspace_id = workspace_id
        self._verifier, self._challenge = pkce_pair()
        self._state = _b64url(secrets.token_bytes(32))
        self._server: asyncio.Server | None = None
        self._handling = False
        self.port = 0

    @classmethod
    async def start(
        cls,
        http: httpx.AsyncClient,
        *,
        issuer: str,
        persist: PersistLogin,
        ports: tuple[int, ...] = (*DEFAULT_CALLBACK_PORTS, 0),
        timeout: float = BROWSER_LOGIN_TIMEOUT_S,
        workspace_id: str | None = None,
    ) -> BrowserLogin:
        """Listen on the first free port of `ports`; raise InternalError when none is free."""
        login = cls(http, issuer, persist, timeout, workspace_id)
        try:
            await login._listen(ports)
        except BaseException:
            login._timer.cancel()
            raise
        return login

    @property
    def redirect_uri(self) -> str:
        return f"http://localhost:{self.port}/auth/callback"

    @property
    def auth_url(self) -> str:
        query = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": self.redirect_uri,
            "scope": SCOPES,
            "code_challenge": self._challenge,
            "code_challenge_method": "S256",
            "id_token_add_organizations": "true",
            "codex_cli_simplified_flow": "true",
            "state": self._state,
            "originator": ORIGINATOR,
        }
        if self._workspace_id:
            query["allowed_workspace_id"] = self._workspace_id
        return f"{self._issuer}/oauth/authorize?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}"

    async def _listen(self, ports: tuple[int, ...]) -> None:
        problems = []
        for port in ports:
            try:
                self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
            except OSError as exc:
                problems.append(f"{port}: {exc.strerror or type(exc).__name__}")
                continue
            self.port = self._server.sockets[0].getsockname()[1]
            return
        raise InternalError(
            f"failed to start login server: no free port ({'; '.join(problems)}); close the other "
            "program using it, or use the device-code login (type chatgptDeviceCode)"
        )

    def _stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(CALLBACK_READ_TIMEOUT_S):
                target = await _read_request_target(reader)
            status, body = await self._route(target)
            _write_response(writer, status, body)
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass  # a half-open or garbage connection is not the browser we wait for
        finally:
            writer.close()

    async def _route(self, target: str) -> tuple[int, str]:
        url = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/cancel":
            self.cancel()
            return 200, CANCELLED
        if url.path != "/auth/callback":
            return 404, "Not found"
        if self.done or self._handling:
            return (
                409,
                "This login is no longer waiting for a callback; start it again from the editor.",
            )
        if not secrets.compare_digest(query.get("state", ""), self._state):
            # Not from our authorize URL: never exchange its code.
            self._fail(
                "Login failed: state mismatch (the callback did not come from this login); start the login again"
            )
            return 400, "State mismatch"
        if "error" in query:
            self._fail(_oauth_error_message(query))
            return 400, "Sign-in failed: " + _oauth_error_message(query)
        if not query.get("code"):
            self._fail(
                "Login failed: the callback carried no authorization code; start the login again"
            )
            return 400, "Missing authorization code"
        self._handling = True
        return await self._complete(query["code"])

    async def _complete(self, code: str) -> tuple[int, str]:
        try:
            tokens = await exchange_code(
                self._http, self._issuer, code, self.redirect_uri, self._verifier
            )
            if self.done:
                return 409, "This login was cancelled."
            await self._persist(tokens)
        except CodexError as exc:
            message = (
                exc.message if isinstance(exc, LoginFailed) else f"Login failed: {exc.message}"
            )
            self._fail(message)
            return 400, message
        self._succeed()
        return 200, "Signed in to Codex. You can close this window and return to your editor."


def _oauth_error_message(query: dict[str, str]) -> str:
    error = query.get("error", "")
    code = error if _ERROR_CODE.match(error) else "error"
    description = query.get("error_description", "")[:200]
    if code == "access_denied" and "missing_codex_entitlement" in description:
        return "Login failed: this account has no access to Codex; ask your workspace admin"
    return f"Login failed: the sign-in server answered {code}" + (
        f" ({description})" if description else ""
    )


async def _read_request_target(reader: asyncio.StreamReader) -> str:
    request_line = (await reader.readline()).decode("latin-1").strip()
    parts = request_line.split(" ")
    if len(parts) != 3 or parts[0] not in ("GET", "HEAD"):
        raise ValueError("not a GET request")
    for _ in range(MAX_HEADER_LINES):  # headers are not needed, just consumed
        if (await reader.readline()) in (b"\r\n", b"\n", b""):
            break
    return parts[1]


def _write_response(writer: asyncio.StreamWriter, status: int, text: str) -> None:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 409: "Conflict"}.get(status, "OK")
    body = (
        '<!doctype html><html><head><meta charset="utf-8"><title>Codex sign-in</title></head>'
        f"<body><p>{html.escape(text)}</p></body></html>"
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n"
    )
    writer.write(head.encode("ascii") + body)


# ---- device-code login ----------------------------------------------------------------------------


class DeviceCodeLogin(PendingLogin):
    """Device code (reference §7.2): show `user_code` at `verification_url`; we poll the issuer."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        issuer: str,
        persist: PersistLogin,
        timeout: float,
        device_auth_id: str,
        user_code: str,
        interval: float,
    ) -> None:
        super().__init__(timeout)
        self._http = http
        self._issuer = issuer
        self._persist = persist
        self._device_auth_id = device_auth_id
        self.user_code = user_code
        self._interval = interval
        self._deadline = time.monotonic() + timeout
        self._poller: asyncio.Task[None] | None = None

    @property
    def verification_url(self) -> str:
        return f"{self._issuer}/codex/device"

    @classmethod
    async def start(
        cls,
        http: httpx.AsyncClient,
        *,
        issuer: str,
        persist: PersistLogin,
        timeout: float = DEVICE_LOGIN_TIMEOUT_S,
    ) -> DeviceCodeLogin:
        """Ask the issuer for a user code, then poll in the background until approved."""
        device_auth_id, user_code, interval = await _request_user_code(http, issuer)
        login = cls(http, issuer, persist, timeout, device_auth_id, user_code, interval)
        login._poller = asyncio.create_task(login._poll())
        return login

    def _stop(self) -> None:
        if self._poller is not None and self._poller is not asyncio.current_task():
            self._poller.cancel()

    async def _poll(self) -> None:
        try:
            grant = await self._wait_for_approval()
            if grant is None:
                return  # cancelled or timed out meanwhile
            code, verifier = grant
            redirect_uri = f"{self._issuer}/deviceauth/callback"
            tokens = await exchange_code(self._http, self._issuer, code, redirect_uri, verifier)
            if self.done:
                return
            await self._persist(tokens)
        except CodexError as exc:
            self._fail(
                exc.message if isinstance(exc, LoginFailed) else f"Login failed: {exc.message}"
            )
            return
        self._succeed()

    async def _wait_for_approval(self) -> tuple[str, str] | None:
        body = {"device_auth_id": self._device_auth_id, "user_code": self.user_code}
        url = f"{self._issuer}/api/accounts/deviceauth/token"
        transient = 0  # consecutive transient failures (network, 5xx, 429)
        while not self.done and time.monotonic() < self._deadline:  # bounded by the deadline
            delay = self._interval
            try:
                response = await self._http.post(url, json=body, timeout=HTTP_TIMEOUT_S)
            except httpx.HTTPError as exc:
                transient += 1
                delay = transient_backoff(self._interval, transient)
                log.info("device login: polling failed (%s); retrying", type(exc).__name__)
            else:
                status, error = response.status_code, _oauth_error(response)
                if status == 200:
                    return _device_grant(response)
                if error == "slow_down":
                    self._interval = min(self._interval + SLOW_DOWN_STEP_S, MAX_POLL_INTERVAL_S)
                    delay = self._interval  # RFC 8628 section 3.5: +5 s from now on
                    transient = 0
                elif status in (403, 404) or error == "authorization_pending":
                    transient = 0
                elif status == 429 or status >= 500:
                    transient += 1
                    delay = max(
                        transient_backoff(self._interval, transient), retry_after(response) or 0
                    )
                    log.info(
                        "device login: HTTP %s while polling; retrying in %.1fs", status, delay
                    )
                else:
                    raise LoginFailed(
                        f"Login failed: the sign-in server answered HTTP {status}"
                        f"{f' ({error})' if error else ''} while waiting for approval; start the "
                        "login again"
                    )
            await asyncio.sleep(max(0.0, min(delay, self._deadline - time.monotonic())))
        return None


def _device_grant(response: httpx.Response) -> tuple[str, str]:
    payload = _json_object(response) or {}
    code, verifier = payload.get("authorization_code"), payload.get("code_verifier")
    if not (isinstance(code, str) and code and isinstance(verifier, str) and verifier):
        raise LoginFailed(
            "Login failed: the sign-in server's device approval is malformed; try again"
        )
    return code, verifier


def transient_backoff(base: float, attempt: int) -> float:
    """Exponential backoff for the `attempt`-th consecutive transient failure, capped."""
    return float(min(base * 2 ** (attempt - 1), MAX_TRANSIENT_BACKOFF_S))


def retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (bounded), when the server sent a number."""
    try:
        return min(
            max(float(response.headers.get("retry-after", "")), 0.0), MAX_TRANSIENT_BACKOFF_S
        )
    except ValueError:
        return None


def _oauth_error(response: httpx.Response) -> str | None:
    """The OAuth `error` code of an error answer (`{"error": "..."}` or `{"error": {"code"}}`)."""
    try:
        payload = response.json()
    except ValueError:
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        error = error.get("code")
    return error if isinstance(error, str) else None


async def _request_user_code(http: httpx.AsyncClient, issuer: str) -> tuple[str, str, float]:
    url = f"{issuer}/api/accounts/deviceauth/usercode"
    for attempt in range(1, USER_CODE_ATTEMPTS + 1):  # bounded: transient failures retried
        try:
            response = await http.post(url, json={"client_id": CLIENT_ID}, timeout=HTTP_TIMEOUT_S)
        except httpx.HTTPError as exc:
            if attempt < USER_CODE_ATTEMPTS:
                await asyncio.sleep(transient_backoff(USER_CODE_BACKOFF_S, attempt))
                continue
            raise InternalError(
                f"failed to start device code login: could not reach {issuer} "
                f"({type(exc).__name__}); check the network and try again"
            ) from None
        if (response.status_code == 429 or response.status_code >= 500) and (
            attempt < USER_CODE_ATTEMPTS
        ):
            delay = transient_backoff(USER_CODE_BACKOFF_S, attempt)
            await asyncio.sleep(max(delay, min(retry_after(response) or 0, 10.0)))
            continue
        break
    if response.status_code == 404:
        raise InvalidRequest(
            "device code login is not enabled for this sign-in server; use the browser login "
            "(type chatgpt) instead"
        )
    payload = _json_object(response)
    if response.status_code != 200 or payload is None:
        raise InternalError(
            f"failed to start device code login: the sign-in server answered HTTP "
            f"{response.status_code}; try again later"
        )
    device_auth_id = payload.get("device_auth_id")
    user_code = payload.get("user_code") or payload.get("usercode")
    if not (isinstance(device_auth_id, str) and isinstance(user_code, str)):
        raise InternalError(
            "failed to start device code login: malformed answer from the sign-in server"
        )
    try:
        interval = min(max(float(payload.get("interval") or 5), 0.2), 60.0)
    except (TypeError, ValueError):
        interval = 5.0
    return device_auth_id, user_code, interval


# ---- the pending login (moved from handlers/account.py) -----------------------------------------

REPLACED = "Login was replaced by a newer login"


class LoginNotifier(Protocol):
    """What :class:`Logins` reports to (the LSP side's `AccountNotifier`)."""

    def send_completed(self, login_id: str | None, error: str | None) -> None: ...

    def spawn(self, coro: Any) -> None: ...


class Logins:
    """At most one pending browser or device-code login; a newer one replaces it."""

    def __init__(self, notifier: LoginNotifier) -> None:
        self._notifier = notifier
        self.active: PendingLogin | None = None

    def replace(self, login: PendingLogin) -> None:
        self.cancel_active(REPLACED)
        self.active = login
        self._notifier.spawn(self._watch(login))

    def cancel(self, login_id: str) -> bool:
        if self.active is None or self.active.login_id != login_id:
            return False
        return self.active.cancel(CANCELLED)

    def cancel_active(self, reason: str) -> None:
        if self.active is not None:
            self.active.cancel(reason)

    async def _watch(self, login: PendingLogin) -> None:
        try:
            await login.wait()
        except LoginFailed as exc:
            log.info("login %s ended: %s", login.login_id, exc.message)
            self._notifier.send_completed(login.login_id, exc.message)
        else:
            self._notifier.send_completed(login.login_id, None)
        finally:
            if self.active is login:
                self.active = None
