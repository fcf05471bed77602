"""The names of the client→server requests, without their payload classes: the server routes
them before the protocol's group modules are loaded (see the package docstring). A test keeps
this list equal to the protocol module's."""

CLIENT_REQUESTS = (
    "initialize",
    "account/read",
    "account/login/start",
    "account/login/cancel",
    "account/logout",
    "account/rateLimits/read",
    "getAuthStatus",
    "model/list",
    "thread/start",
    "turn/start",
    "turn/interrupt",
    "turn/steer",
    "thread/compact/start",
    "thread/list",
    "thread/read",
    "thread/resume",
    "thread/fork",
    "thread/archive",
    "thread/unarchive",
    "thread/name/set",
    "command/exec",
    "fuzzyFileSearch",
    "codex/status",
)
