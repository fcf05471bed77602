"""A fake OAuth issuer: a real HTTP server on 127.0.0.1 speaking the auth.openai.com endpoints.

Endpoints: POST /oauth/token (refresh_token JSON, authorization_code and token-exchange forms),
GET /oauth/authorize, POST /oauth/revoke, POST /api/accounts/deviceauth/usercode and /token, and a protected resource
GET /backend-api/whoami that accepts only currently valid access tokens (for 401-recovery tests).
Fault switches are plain attributes; counters live in `.calls` (incremented under a lock).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sys
import threading
import time
import urllib.parse
from collections import Counter
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import attrs
import jwt

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
_SIGNING_KEY = "codex-lsp-fake-issuer-signing-key-not-a-secret"


@attrs.define
class _Account:
    account_id: str
    email: str
    plan_type: str
    user_id: str


@attrs.define
class _RefreshToken:
    account: _Account
    used: bool = False
    expired: bool = False
    revoked: bool = False


@attrs.define
class _AuthorizationCode:
    account: _Account
    code_challenge: str
    redirect_uri: str
    used: bool = False


@attrs.define
class _DeviceCode:
    device_auth_id: str
    user_code: str
    approved: bool = False
    code_verifier: str = ""
    code_challenge: str = ""
    authorization_code: str = ""


def pkce_challenge(code_verifier: str) -> str:
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class FakeIssuer:
    """Context manager; `.start()` / `.stop()`; `.base_url` is `http://127.0.0.1:<port>`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.calls: Counter[str] = Counter()
        self._refresh_tokens: dict[str, _RefreshToken] = {}
        self._valid_access_tokens: set[str] = set()
        self._codes: dict[str, _AuthorizationCode] = {}
        self._devices: dict[str, _DeviceCode] = {}
        # Recorded requests (for assertions).
        self.authorize_requests: list[dict[str, str]] = []
        self.refresh_requests: list[dict[str, Any]] = []
        # Fault switches and knobs, settable from tests.
        self.token_fail_status: int | None = None  # every /oauth/token call answers this status
        self.token_fail_code: str | None = None  # ...with {"error": {"code": ...}}
        self.token_stall_seconds: float = 0.0  # delay before /oauth/token answers
        self.access_token_ttl: float = 3600.0
        self.login_email = "user@example.com"
        self.login_plan_type = "pro"
        self.login_account_id = "acct-1"
        self.authorize_error: str | None = None  # redirect back with ?error=<this>
        self.device_code_enabled = True
        self.device_poll_interval = 1
        # Scripted answers, used (and removed) one per call before the normal behaviour:
        # e.g. (400, {"error": "slow_down"}) or (503, {"error": "unavailable"}).
        self.device_token_script: list[tuple[int, dict[str, Any]]] = []
        self.device_usercode_script: list[tuple[int, dict[str, Any]]] = []
        self.device_poll_times: list[float] = []  # time.monotonic() of each /token poll
        # POST /oauth/revoke (RFC 7009): recorded; the token is revoked unless the fault is set.
        self.revoke_requests: list[dict[str, Any]] = []
        self.revoke_fail_status: int | None = None
        self.revoke_stall_seconds: float = 0.0
        self.client_id = CLIENT_ID

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeIssuer:
        server = _Server(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases stalled handlers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeIssuer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeIssuer is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def token_url(self) -> str:
        return self.base_url + "/oauth/token"

    # -- token minting ---------------------------------------------------------------------
    def make_jwt(
        self,
        *,
        email: str | None = "user@example.com",
        plan_type: str | None = "pro",
        account_id: str | None = "acct-1",
        user_id: str | None = "user-1",
        exp_in: float = 3600,
    ) -> str:
        """An HS256 JWT with the claims Codex reads (signed with a fixed test key)."""
        now = time.time()
        auth_claims = {
            key: value
            for key, value in {
                "chatgpt_plan_type": plan_type,
                "chatgpt_user_id": user_id,
                "user_id": user_id,
                "chatgpt_account_id": account_id,
            }.items()
            if value is not None
        }
        claims: dict[str, Any] = {
            "iss": "fake-issuer",
            "iat": int(now),
            "exp": int(now + exp_in),
            "jti": secrets.token_hex(8),
            "https://api.openai.com/auth": auth_claims,
        }
        if email is not None:
            claims["email"] = email
        return jwt.encode(claims, _SIGNING_KEY, algorithm="HS256")

    def issue_refresh_token(self, account_id: str = "acct-1", **account: str) -> str:
        """Register a single-use refresh token for `account_id` (email/plan_type/user_id optional)."""
        token = "rt-" + secrets.token_hex(16)
        with self._lock:
            self._refresh_tokens[token] = _RefreshToken(self._account(account_id, **account))
        return token

    def issue_access_token(self, account_id: str = "acct-1", *, exp_in: float | None = None) -> str:
        """An access token the protected resource accepts (until revoke_access_tokens())."""
        token = self.make_jwt(account_id=account_id, exp_in=exp_in or self.access_token_ttl)
        with self._lock:
            self._valid_access_tokens.add(token)
        return token

    def issue_tokens(self, account_id: str = "acct-1", **account: str) -> dict[str, str]:
        """A fresh {id_token, access_token, refresh_token} set, as a login would produce."""
        return self._mint(self._account(account_id, **account))

    def revoke_access_tokens(self) -> None:
        """Make the protected resource reject every access token issued so far."""
        with self._lock:
            self._valid_access_tokens.clear()

    def expire_refresh_token(self, token: str) -> None:
        with self._lock:
            self._refresh_tokens[token].expired = True

    def revoke_refresh_token(self, token: str) -> None:
        with self._lock:
            self._refresh_tokens[token].revoked = True

    def approve_device(self, user_code: str) -> None:
        """The user typed `user_code` in the browser and approved: polling now succeeds."""
        with self._lock:
            device = next(d for d in self._devices.values() if d.user_code == user_code)
            verifier = secrets.token_urlsafe(48)
            device.code_verifier = verifier
            device.code_challenge = pkce_challenge(verifier)
            device.authorization_code = "dc-" + secrets.token_hex(12)
            device.approved = True
            self._codes[device.authorization_code] = _AuthorizationCode(
                account=self._login_account(),
                code_challenge=device.code_challenge,
                redirect_uri=self.base_url + "/deviceauth/callback",
            )

    def is_access_token_valid(self, token: str) -> bool:
        with self._lock:
            return token in self._valid_access_tokens

    # -- internals -------------------------------------------------------------------------
    def _count(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1

    def _account(self, account_id: str, **account: str) -> _Account:
        return _Account(
            account_id=account_id,
            email=account.get("email", self.login_email),
            plan_type=account.get("plan_type", self.login_plan_type),
            user_id=account.get("user_id", "user-" + account_id),
        )

    def _login_account(self) -> _Account:
        return self._account(self.login_account_id)

    def _mint(self, account: _Account) -> dict[str, str]:
        id_token = self.make_jwt(
            email=account.email,
            plan_type=account.plan_type,
            account_id=account.account_id,
            user_id=account.user_id,
        )
        access_token = self.make_jwt(
            email=account.email,
            plan_type=account.plan_type,
            account_id=account.account_id,
            user_id=account.user_id,
            exp_in=self.access_token_ttl,
        )
        refresh_token = "rt-" + secrets.token_hex(16)
        with self._lock:
            self._valid_access_tokens.add(access_token)
            self._refresh_tokens[refresh_token] = _RefreshToken(account)
        return {"id_token": id_token, "access_token": access_token, "refresh_token": refresh_token}

    def _stall(self) -> None:
        if self.token_stall_seconds > 0:
            self._stopping.wait(self.token_stall_seconds)

    def handle_token(self, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        self._stall()
        if self.token_fail_status is not None:
            self._count("token_fault")
            error: dict[str, Any] = {"message": "injected failure"}
            if self.token_fail_code is not None:
                error["code"] = self.token_fail_code
            return self.token_fail_status, {"error": error}
        if content_type.startswith("application/json"):
            try:
                request = json.loads(body or b"{}")
            except json.JSONDecodeError:
                return 400, {"error": {"code": "invalid_request", "message": "body is not JSON"}}
            if not isinstance(request, dict) or request.get("grant_type") != "refresh_token":
                return 400, {"error": {"code": "unsupported_grant_type"}}
            return self._refresh(request)
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == TOKEN_EXCHANGE_GRANT:
            self._count("token_exchange")
            if not form.get("subject_token"):
                return 400, {"error": {"code": "invalid_request", "message": "no subject_token"}}
            return 200, {"access_token": "sk-fake-" + secrets.token_hex(12)}
        if grant_type == "refresh_token":
            return self._refresh(form)
        return 400, {"error": {"code": "unsupported_grant_type"}}

    def _refresh(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self._count("refresh")
        with self._lock:
            self.refresh_requests.append(
                {"client_id": request.get("client_id"), "grant_type": request.get("grant_type")}
            )
            if request.get("client_id") != self.client_id:
                return 400, {"error": {"code": "invalid_client"}}
            record = self._refresh_tokens.get(str(request.get("refresh_token")))
            if record is None:
                return 401, {"error": {"code": "invalid_grant", "message": "unknown refresh token"}}
            for flag, code in (
                (record.revoked, "refresh_token_invalidated"),
                (record.expired, "refresh_token_expired"),
                (record.used, "refresh_token_reused"),
            ):
                if flag:
                    return 401, {"error": {"code": code, "message": code.replace("_", " ")}}
            record.used = True
            account = record.account
        return 200, self._mint(account)

    def _exchange_code(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self._count("authorization_code")
        with self._lock:
            code = self._codes.get(form.get("code", ""))
            if code is None or code.used:
                return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
            if form.get("client_id") != self.client_id:
                return 400, {"error": "invalid_client"}
            if form.get("redirect_uri") != code.redirect_uri:
                return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
            verifier = form.get("code_verifier", "")
            if not verifier or pkce_challenge(verifier) != code.code_challenge:
                return 400, {"error": "invalid_grant", "error_description": "PKCE check failed"}
            code.used = True
            account = code.account
        return 200, self._mint(account)

    def handle_authorize(self, query: dict[str, str]) -> str:
        """Record the request and return the redirect Location (redirect_uri?code=...&state=...)."""
        self._count("authorize")
        redirect_uri = query.get("redirect_uri", "")
        state = query.get("state", "")
        with self._lock:
            self.authorize_requests.append(dict(query))
        if self.authorize_error is not None:
            params = {"error": self.authorize_error, "state": state}
        else:
            code = "ac-" + secrets.token_hex(12)
            with self._lock:
                self._codes[code] = _AuthorizationCode(
                    account=self._login_account(),
                    code_challenge=query.get("code_challenge", ""),
                    redirect_uri=redirect_uri,
                )
            params = {"code": code, "state": state}
        separator = "&" if "?" in redirect_uri else "?"
        return redirect_uri + separator + urllib.parse.urlencode(params)

    def handle_device_usercode(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self._count("device_usercode")
        with self._lock:
            if self.device_usercode_script:
                return self.device_usercode_script.pop(0)
        if not self.device_code_enabled:
            return 404, {"error": "not_found"}
        if request.get("client_id") != self.client_id:
            return 400, {"error": "invalid_client"}
        device = _DeviceCode(
            device_auth_id="dev-" + secrets.token_hex(8),
            user_code=f"{secrets.randbelow(10**4):04d}-{secrets.randbelow(10**4):04d}",
        )
        with self._lock:
            self._devices[device.device_auth_id] = device
        return 200, {
            "device_auth_id": device.device_auth_id,
            "user_code": device.user_code,
            "interval": str(self.device_poll_interval),  # upstream sends a string
        }

    def handle_device_token(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self._count("device_token")
        with self._lock:
            self.device_poll_times.append(time.monotonic())
            if self.device_token_script:
                return self.device_token_script.pop(0)
            device = self._devices.get(str(request.get("device_auth_id")))
            if device is None or device.user_code != request.get("user_code"):
                return 404, {"error": "unknown_device_auth"}
            if not device.approved:
                return 403, {"error": "authorization_pending"}
            return 200, {
                "authorization_code": device.authorization_code,
                "code_challenge": device.code_challenge,
                "code_verifier": device.code_verifier,
            }

    def handle_revoke(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """RFC 7009 revocation: 200 even for unknown tokens; revokes refresh and access tokens."""
        self._count("revoke")
        with self._lock:
            self.revoke_requests.append(dict(request))
        if self.revoke_stall_seconds:
            self._stopping.wait(self.revoke_stall_seconds)
        if self.revoke_fail_status is not None:
            return self.revoke_fail_status, {"error": "server_error"}
        token = str(request.get("token") or "")
        with self._lock:
            if token in self._refresh_tokens:
                self._refresh_tokens[token].revoked = True
            self._valid_access_tokens.discard(token)
        return 200, {}

    def handle_whoami(self, authorization: str | None) -> tuple[int, dict[str, Any]]:
        self._count("whoami")
        token = (authorization or "").removeprefix("Bearer ").strip()
        if not token or not self.is_access_token_valid(token):
            return 401, {"error": {"code": "token_expired", "message": "invalid access token"}}
        claims = jwt.decode(token, options={"verify_signature": False})
        auth_claims = claims.get("https://api.openai.com/auth", {})
        return 200, {
            "account_id": auth_claims.get("chatgpt_account_id"),
            "email": claims.get("email"),
        }


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops connections when tests fire 50 requests at once.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (or a stop() that released a stalled reply) is not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _make_handler(issuer: FakeIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/oauth/authorize":
                query = dict(urllib.parse.parse_qsl(url.query))
                self._redirect(issuer.handle_authorize(query))
            elif url.path == "/backend-api/whoami":
                self._json(*issuer.handle_whoami(self.headers.get("Authorization")))
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            body = self._body()
            path = urllib.parse.urlsplit(self.path).path
            if path == "/oauth/token":
                content_type = self.headers.get("Content-Type", "")
                self._json(*issuer.handle_token(content_type, body))
            elif path == "/api/accounts/deviceauth/usercode":
                self._json(*issuer.handle_device_usercode(_json_object(body)))
            elif path == "/api/accounts/deviceauth/token":
                self._json(*issuer.handle_device_token(_json_object(body)))
            elif path == "/oauth/revoke":
                self._json(*issuer.handle_revoke(_revoke_request(self.headers, body)))
            else:
                self._json(404, {"error": "not_found"})

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _redirect(self, location: str) -> None:
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _revoke_request(headers: Any, body: bytes) -> dict[str, Any]:
    if "json" in headers.get("Content-Type", ""):
        return _json_object(body)
    return dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
