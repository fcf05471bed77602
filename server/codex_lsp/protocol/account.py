"""Account payloads: login, logout, account state, rate limits, editor-owned token refresh."""

from __future__ import annotations

from typing import Literal

import attrs

from codex_lsp.protocol.methods import define
from codex_lsp.protocol.wire import JsonValue, field

WireAuthMode = Literal["apikey", "chatgpt", "chatgptAuthTokens"]


# ---- shared shapes ------------------------------------------------------------------------------


@attrs.define
class ApiKeyAccount:
    """An account authenticated with an OpenAI API key."""

    type: Literal["apiKey"] = field("Discriminator.")


@attrs.define
class ChatGptAccount:
    """A ChatGPT account (managed login or editor-owned tokens)."""

    type: Literal["chatgpt"] = field("Discriminator.")
    email: str | None = field("Email from the token claims; null when the token carries none.")
    plan_type: str = field(
        "ChatGPT plan (`free`, `plus`, `pro`, `team`, `business`, `enterprise`, `edu`, ... or `unknown`)."
    )


Account = ApiKeyAccount | ChatGptAccount


@attrs.define
class RateLimitWindow:
    """One usage window."""

    used_percent: int = field("Percentage of the window already used (0-100).")
    window_duration_mins: int | None = field(
        "Window length in minutes (300 = 5 h, 10080 = weekly)."
    )
    resets_at: int | None = field("When the window resets, unix seconds.")


@attrs.define
class CreditsSnapshot:
    """Credit balance of the account."""

    has_credits: bool = field("Whether the account has credits.")
    unlimited: bool = field("Whether credits are unlimited.")
    balance: str | None = field("Balance as a decimal string, when known.")


@attrs.define
class RateLimitSnapshot:
    """Rate-limit state. `account/rateLimits/updated` carries sparse updates: merge, don't replace."""

    limit_id: str | None = field("Limit family id, e.g. `codex`.")
    limit_name: str | None = field("Human-readable limit name.")
    primary: RateLimitWindow | None = field(
        "Usually the 5-hour window; label by `windowDurationMins`, not position."
    )
    secondary: RateLimitWindow | None = field("Usually the weekly window.")
    credits: CreditsSnapshot | None = field("Credits, when the backend reports them.")
    plan_type: str | None = field("Plan the limits apply to.")
    individual_limit: JsonValue = field(
        "Newest upstream: `{limit, used, remainingPercent, resetsAt}` for an individual spend limit, or null."
    )
    rate_limit_reached_type: str | None = field(
        "Newest upstream: which limit was hit (`rate_limit_reached`, `workspace_owner_credits_depleted`, ...), or null."
    )


# ---- account/read -------------------------------------------------------------------------------


@attrs.define
class AccountReadParams:
    """Params of `account/read`."""

    refresh_token: bool = field(
        "Force a managed-token refresh before answering. No-op for API keys and editor-owned tokens.",
        default=False,
    )


@attrs.define
class AccountReadResult:
    """Result of `account/read`."""

    account: Account | None = field("The signed-in account, or null.")
    requires_openai_auth: bool = field(
        "Whether the active model provider needs OpenAI auth at all."
    )
    credentials_problem: str | None = field(
        "Beyond upstream: why the stored credentials were not used (e.g. an unreadable "
        "`auth.json`, which the next login moves aside as `auth.json.corrupt-<timestamp>`); "
        "omitted when there is nothing to say.",
        default=None,
        omit_none=True,
    )


ACCOUNT_READ = define(
    "account/read",
    direction="client->server",
    kind="request",
    group="account",
    params=AccountReadParams,
    result=AccountReadResult,
    doc="Read the current account. Editor-owned tokens report as `chatgpt`.",
)


# ---- account/login/start ------------------------------------------------------------------------


@attrs.define
class ApiKeyLoginParams:
    """Sign in with an API key; stored per `cli_auth_credentials_store`."""

    type: Literal["apiKey"] = field("Discriminator.")
    api_key: str = field("The OpenAI API key.", secret=True)


@attrs.define
class ChatGptLoginParams:
    """Start a browser OAuth login (PKCE)."""

    type: Literal["chatgpt"] = field("Discriminator.")


@attrs.define
class ChatGptDeviceCodeLoginParams:
    """Start a device-code login (for remote editors that can't reach localhost)."""

    type: Literal["chatgptDeviceCode"] = field("Discriminator.")


@attrs.define
class ChatGptAuthTokensLoginParams:
    """Hand the server editor-owned ChatGPT tokens (memory only). Either `{idToken, accessToken}` or
    `{accessToken, chatgptAccountId, chatgptPlanType?}`."""

    type: Literal["chatgptAuthTokens"] = field("Discriminator.")
    access_token: str = field("ChatGPT access token (JWT), used as the bearer.", secret=True)
    id_token: str | None = field(
        "ID token (JWT) carrying email, plan and workspace claims (early upstream shape).",
        default=None,
        secret=True,
    )
    chatgpt_account_id: str | None = field(
        "Workspace/account id (newer upstream shape); wins over the token's claim.", default=None
    )
    chatgpt_plan_type: str | None = field("Plan type; wins over the token's claim.", default=None)


LoginParams = (
    ApiKeyLoginParams
    | ChatGptLoginParams
    | ChatGptDeviceCodeLoginParams
    | ChatGptAuthTokensLoginParams
)


@attrs.define
class ApiKeyLoginResult:
    """API key stored."""

    type: Literal["apiKey"] = field("Discriminator.")


@attrs.define
class ChatGptLoginResult:
    """Browser login started; open `authUrl` (the server also asks the editor via `window/showDocument`
    when the client supports it)."""

    type: Literal["chatgpt"] = field("Discriminator.")
    login_id: str = field("UUID of this login; pass it to `account/login/cancel`.")
    auth_url: str = field("URL to open in a browser.")


@attrs.define
class ChatGptDeviceCodeLoginResult:
    """Device-code login started; show `userCode` and `verificationUrl` to the user."""

    type: Literal["chatgptDeviceCode"] = field("Discriminator.")
    login_id: str = field("UUID of this login.")
    verification_url: str = field("Where the user enters the code.")
    user_code: str = field("The code to enter.")


@attrs.define
class ChatGptAuthTokensLoginResult:
    """Editor-owned tokens accepted."""

    type: Literal["chatgptAuthTokens"] = field("Discriminator.")


LoginResult = (
    ApiKeyLoginResult
    | ChatGptLoginResult
    | ChatGptDeviceCodeLoginResult
    | ChatGptAuthTokensLoginResult
)


ACCOUNT_LOGIN_START = define(
    "account/login/start",
    direction="client->server",
    kind="request",
    group="account",
    params=LoginParams,
    result=LoginResult,
    doc="Start a login. Success is reported by `account/login/completed` then `account/updated`.",
)


@attrs.define
class LoginCancelParams:
    """Params of `account/login/cancel`."""

    login_id: str = field("UUID returned by `account/login/start`.")


@attrs.define
class LoginCancelResult:
    """Result of `account/login/cancel`."""

    status: Literal["canceled", "notFound"] = field("`canceled` when a pending login was stopped.")


ACCOUNT_LOGIN_CANCEL = define(
    "account/login/cancel",
    direction="client->server",
    kind="request",
    group="account",
    params=LoginCancelParams,
    result=LoginCancelResult,
    doc="Cancel a pending browser or device-code login.",
)


@attrs.define
class Empty:
    """No fields."""


ACCOUNT_LOGOUT = define(
    "account/logout",
    direction="client->server",
    kind="request",
    group="account",
    params=Empty,
    result=Empty,
    doc="Sign out: clears editor-owned tokens and the configured credential store, cancels a pending login.",
)


@attrs.define
class RateLimitsReadResult:
    """Result of `account/rateLimits/read`."""

    rate_limits: RateLimitSnapshot = field("Current limits.")
    rate_limits_by_limit_id: dict[str, RateLimitSnapshot] | None = field(
        "Limits keyed by limit id, when known."
    )


ACCOUNT_RATE_LIMITS_READ = define(
    "account/rateLimits/read",
    direction="client->server",
    kind="request",
    group="account",
    params=Empty,
    result=RateLimitsReadResult,
    doc="Fetch usage from the backend (`GET {chatgpt_base_url}/wham/usage`). ChatGPT auth only.",
)


@attrs.define
class GetAuthStatusParams:
    """Params of the legacy `getAuthStatus`."""

    include_token: bool | None = field("Include the bearer token in the answer.", default=None)
    refresh_token: bool | None = field(
        "Refresh managed tokens first (ignored for editor-owned tokens).", default=None
    )


@attrs.define
class GetAuthStatusResult:
    """Result of the legacy `getAuthStatus`."""

    auth_method: WireAuthMode | None = field("Active auth mode, or null.")
    auth_token: str | None = field(
        "The bearer (API key or access token), only when `includeToken` is true.", secret=True
    )
    requires_openai_auth: bool | None = field("Whether the active provider needs OpenAI auth.")


GET_AUTH_STATUS = define(
    "getAuthStatus",
    direction="client->server",
    kind="request",
    group="account",
    params=GetAuthStatusParams,
    result=GetAuthStatusResult,
    doc="Legacy (v1) auth status.",
)


# ---- notifications ------------------------------------------------------------------------------


@attrs.define
class AccountLoginCompleted:
    """A login finished (successfully or not)."""

    login_id: str | None = field("The login's id; null for API-key and editor-token logins.")
    success: bool = field("Whether the login succeeded.")
    error: str | None = field("Why it failed; null on success.")


ACCOUNT_LOGIN_COMPLETED = define(
    "account/login/completed",
    direction="server->client",
    kind="notification",
    group="account",
    params=AccountLoginCompleted,
    doc="Sent when a login finishes; on success it is always followed by `account/updated`.",
)


@attrs.define
class AccountUpdated:
    """The active auth changed."""

    auth_mode: WireAuthMode | None = field(
        "Active auth mode (`apikey`, `chatgpt`, `chatgptAuthTokens`), null when signed out."
    )
    plan_type: str | None = field("ChatGPT plan, null for API keys or when signed out.")
    chatgpt_account_id: str | None = field(
        "Beyond upstream: the ChatGPT account (workspace) id in use, null for API keys or when "
        "signed out. Changes when the editor's token refresh switched accounts.",
        default=None,
    )
    email: str | None = field(
        "Beyond upstream: the signed-in ChatGPT email, null when unknown, for API keys or when "
        "signed out.",
        default=None,
    )


ACCOUNT_UPDATED = define(
    "account/updated",
    direction="server->client",
    kind="notification",
    group="account",
    params=AccountUpdated,
    doc="Sent after every login and logout, and after a refresh that changed what a client shows "
    "(auth mode, plan, account id or email); a token rotation alone is not news.",
)


@attrs.define
class AccountRateLimitsUpdated:
    """New rate-limit information (sparse)."""

    rate_limits: RateLimitSnapshot = field(
        "Merge into the last known snapshot; nulls don't clear known values."
    )


ACCOUNT_RATE_LIMITS_UPDATED = define(
    "account/rateLimits/updated",
    direction="server->client",
    kind="notification",
    group="account",
    params=AccountRateLimitsUpdated,
    doc="Sent whenever a model response carried rate-limit headers.",
)


# ---- server -> client request ---------------------------------------------------------------------


@attrs.define
class ChatgptAuthTokensRefreshParams:
    """The server needs fresh editor-owned tokens."""

    reason: Literal["unauthorized"] = field(
        "Always `unauthorized`: a backend call answered 401, or (proactive refresh) the access token "
        "expires within the configured window."
    )
    previous_account_id: str | None = field(
        "Workspace/account id in use, a hint for multi-workspace editors."
    )


@attrs.define
class ChatgptAuthTokensRefreshResponse:
    """Fresh tokens from the editor: `{accessToken, chatgptAccountId, chatgptPlanType?}` or `{idToken, accessToken}`."""

    access_token: str = field("New access token.", secret=True)
    chatgpt_account_id: str | None = field("Workspace/account id.", default=None)
    chatgpt_plan_type: str | None = field("Plan type.", default=None)
    id_token: str | None = field("New ID token (early shape).", default=None, secret=True)


ACCOUNT_CHATGPT_AUTH_TOKENS_REFRESH = define(
    "account/chatgptAuthTokens/refresh",
    direction="server->client",
    kind="request",
    group="account",
    params=ChatgptAuthTokensRefreshParams,
    result=ChatgptAuthTokensRefreshResponse,
    doc="Asks the editor for fresh ChatGPT tokens. The editor must answer within 10 s.",
)
