-- codex_lsp: a Neovim client for the codex-lsp server (target 0.10+, tested on 0.12; 0.7.2 keeps
-- sign-in, ask, approvals and token refresh working). See :help codex_lsp.
--
--   require("codex_lsp").setup({
--     cmd = { "codex-lsp" },                      -- or vim.lsp.config("codex_lsp", { cmd = ... }) on 0.11+
--     get_tokens = function(reason, previous_account_id, done) ... end,   -- return tokens, or call done(tokens)
--   })
--
-- The server runs as an LSP client that no buffer is attached to. Server->client requests
-- (token refresh, approvals) are answered asynchronously on 0.10+ (see compat.await).

local protocol = require("codex_lsp.protocol")
local compat = require("codex_lsp.compat")
local chat = require("codex_lsp.chat")

local M = {}
local m = protocol.methods
local value = compat.value

-- What the user reads instead of method names.
local LABELS = {
  [m.ACCOUNT_LOGIN_START] = "sign-in",
  [m.ACCOUNT_LOGOUT] = "sign-out",
  [m.ACCOUNT_READ] = "reading the account",
  [m.ACCOUNT_RATE_LIMITS_READ] = "reading rate limits",
  [m.CODEX_STATUS] = "status",
  [m.THREAD_START] = "starting a conversation",
  [m.TURN_START] = "asking",
  [m.TURN_INTERRUPT] = "interrupting",
  [m.THREAD_LIST] = "listing past conversations",
  [m.THREAD_RESUME] = "resuming the conversation",
}

local DECISIONS = { "accept", "acceptForSession", "decline", "cancel" }
local DECISION_LABELS = {
  accept = "Accept",
  acceptForSession = "Accept for this session",
  decline = "Decline",
  cancel = "Decline and stop the turn",
}
local VALID_DECISION = { accept = true, acceptForSession = true, decline = true, cancel = true }

local function fresh_state()
  return {
    client_id = nil,
    initialized = false,
    server_info = nil,
    server_pid = nil,
    codex = nil, -- capabilities.experimental.codex of initialize
    auth_mode = nil,
    plan_type = nil,
    account = nil,
    rate_limits = nil,
    thread_id = nil,
    turns = {}, -- turn id -> { status, text, error }
    last_turn_id = nil,
    running_turn_id = nil,
    activity = nil, -- "thinking", "running a command", "waiting for your approval", "signing in"
    plan = nil, -- { explanation, steps = { {step, status} } } of the running turn
    turn_diff = nil,
    file_changes = {}, -- item id -> fileChange item
    token_requests = {}, -- { reason, previous_account_id } per get_tokens call
    approvals = {}, -- { kind, command, cwd, decision } per answered approval
    pending_approval = nil,
    device_code = nil, -- { user_code, verification_url } while a device-code sign-in waits
    last_status = nil,
    logged_out = false,
    exits = {}, -- { code, signal, reason } per server exit
    restarts = 0,
    errors = {},
  }
end

M.state = fresh_state()
M.config = nil

local pending = {} -- functions waiting for the client to finish initializing

-- ---- messages -----------------------------------------------------------------------------------

local function notify(msg, level)
  vim.schedule(function()
    vim.notify("Codex: " .. msg, level or vim.log.levels.INFO)
  end)
end

local function error_text(err)
  if type(err) == "table" then
    return value(err.message) or vim.inspect(err)
  end
  return tostring(err)
end

-- `what` is a phrase the user understands ("sign-in"), never a method name.
local function record_error(what, err)
  local message = error_text(err)
  table.insert(M.state.errors, what .. ": " .. message)
  notify(what .. " failed: " .. message, vim.log.levels.ERROR)
  chat.newline()
  chat.append("! " .. what .. " failed: " .. message .. "\n")
end

M.output_lines = chat.lines

-- ---- small helpers ------------------------------------------------------------------------------

local function merge_rate_limits(known, update)
  local merged = vim.deepcopy(known or {})
  for key, v in pairs(update or {}) do
    if v ~= vim.NIL then
      merged[key] = v
    end
  end
  return merged
end

local function check_tokens(tokens)
  if type(tokens) ~= "table" or type(tokens.accessToken) ~= "string" or type(tokens.chatgptAccountId) ~= "string" then
    return nil, "get_tokens must return { accessToken = string, chatgptAccountId = string, chatgptPlanType = string|nil }"
  end
  return tokens
end

local function takes_callback(fn)
  local info = debug.getinfo(fn, "u")
  return info.nparams == nil or info.nparams >= 3 or info.isvararg
end

-- get_tokens may return the tokens, or (when it takes a third argument) return nothing and call
-- that argument with the tokens later.
local function fetch_tokens(reason, previous_account_id, done)
  table.insert(M.state.token_requests, { reason = reason, previous_account_id = previous_account_id or vim.NIL })
  if not M.config.get_tokens then
    done(nil, "no get_tokens function: pass setup({ get_tokens = function(reason, previous_account_id, done) ... end }), or use :CodexLogin api-key / device")
    return
  end
  local answered = false
  local function finish(tokens)
    if answered then
      return
    end
    answered = true
    local ok, problem = check_tokens(tokens)
    done(ok, problem)
  end
  local ok, returned = pcall(M.config.get_tokens, reason, previous_account_id, vim.schedule_wrap(finish))
  if not ok then
    answered = true
    done(nil, "get_tokens raised an error: " .. tostring(returned))
  elseif returned ~= nil or not takes_callback(M.config.get_tokens) then
    finish(returned) -- a two-argument get_tokens answers by returning
  end
end

local function token_answer(tokens)
  return {
    accessToken = tokens.accessToken,
    chatgptAccountId = tokens.chatgptAccountId,
    chatgptPlanType = value(tokens.chatgptPlanType) or vim.NIL,
  }
end

local function set_activity(activity)
  M.state.activity = activity
  pcall(vim.cmd, "redrawstatus!")
end

-- ---- approvals ----------------------------------------------------------------------------------

-- Render a request in the chat, then wait for a decision from (in this order of precedence) the
-- user's on_approval, the chat window keys / :CodexApprove, or vim.ui.select when
-- approval_ui = "select" (or on 0.7, which cannot wait without blocking). Keys typed before the
-- prompt never answer it.
local function ask_decision(kind, req, lines, done)
  chat.newline()
  chat.append(table.concat(lines, "\n") .. "\n")
  local on_approval = M.config.on_approval
  if on_approval then
    local answered = false
    local function finish(decision)
      if answered then
        return
      end
      answered = true
      done(decision)
    end
    local ok, decision = pcall(on_approval, req, vim.schedule_wrap(finish), kind)
    if not ok then
      record_error("your on_approval function", decision)
      finish("decline")
    elseif decision ~= nil then
      finish(decision)
    end
    return
  end
  local approval = { kind = kind, request = req }
  approval.answer = function(decision)
    if M.state.pending_approval ~= approval then
      return
    end
    M.state.pending_approval = nil
    set_activity("thinking")
    done(decision)
  end
  M.state.pending_approval = approval
  set_activity("waiting for your approval")
  chat.append("  [a] accept  [s] accept for session  [d] decline  [c] decline and stop   (in this window, or :CodexApprove)\n")
  chat.open(false)
  notify("approval needed: " .. lines[1]:gsub("^#+ ", "") .. " — :CodexApprove, or a/s/d/c in the chat window",
    vim.log.levels.WARN)
  if M.config.approval_ui == "select" or not compat.has_010 then
    local saved = compat.take_typeahead()
    local labels = {}
    for _, d in ipairs(DECISIONS) do
      table.insert(labels, DECISION_LABELS[d])
    end
    vim.ui.select(labels, { prompt = lines[1]:gsub("^#+ ", "") .. "?" }, function(_, idx)
      approval.answer(idx and DECISIONS[idx] or "decline")
      compat.give_back_typeahead(saved)
    end)
  end
end

function M.approve(decision)
  local map = { accept = "accept", a = "accept", session = "acceptForSession", s = "acceptForSession",
    acceptForSession = "acceptForSession", decline = "decline", d = "decline", cancel = "cancel", c = "cancel" }
  local approval = M.state.pending_approval
  if not approval then
    notify("nothing is waiting for approval", vim.log.levels.WARN)
    return
  end
  local d = map[decision or "accept"]
  if not d then
    notify("answer with accept, session, decline or cancel", vim.log.levels.WARN)
    return
  end
  approval.answer(d)
end

local function answer_approval(kind, req, lines, fields)
  return compat.await(function(done)
    ask_decision(kind, req, lines, function(decision)
      if not VALID_DECISION[decision] then
        record_error("approval", "on_approval returned " .. tostring(decision) .. "; declined")
        decision = "decline"
      end
      local entry = vim.tbl_extend("force", { kind = kind, decision = decision }, fields)
      table.insert(M.state.approvals, entry)
      chat.append("  -> " .. DECISION_LABELS[decision] .. "\n")
      done({ decision = decision })
    end)
  end, M.config.approval_timeout_ms)
end

-- ---- server -> client ---------------------------------------------------------------------------

local handlers = {}
M.handlers = handlers

handlers[m.ACCOUNT_CHATGPT_AUTH_TOKENS_REFRESH] = function(_, params)
  return compat.await(function(done)
    fetch_tokens(params.reason, value(params.previousAccountId), function(tokens, problem)
      if not tokens then
        record_error("token refresh", problem)
        done(nil, { code = -32603, message = problem })
      else
        done(token_answer(tokens))
      end
    end)
  end, M.config.token_timeout_ms)
end

handlers[m.ITEM_COMMAND_EXECUTION_REQUEST_APPROVAL] = function(_, params)
  local lines = { "## Run this command?", "    $ " .. tostring(params.command), "  in " .. tostring(params.cwd) }
  if value(params.reason) then
    table.insert(lines, "  because: " .. params.reason)
  end
  return answer_approval("command", params, lines, { command = params.command, cwd = params.cwd, thread_id = params.threadId })
end

handlers[m.ITEM_FILE_CHANGE_REQUEST_APPROVAL] = function(_, params)
  local item = M.state.file_changes[params.itemId]
  local lines = { "## Apply these file changes?" }
  if value(params.reason) then
    table.insert(lines, "  because: " .. params.reason)
  end
  if value(params.grantRoot) then
    table.insert(lines, "  and allow writes under " .. params.grantRoot .. " for this session")
  end
  local paths = {}
  for _, change in ipairs(item and item.changes or {}) do
    table.insert(paths, change.path)
    table.insert(lines, "```diff")
    table.insert(lines, "--- " .. change.path)
    for _, l in ipairs(vim.split((change.diff or ""):gsub("\n$", ""), "\n", { plain = true })) do
      table.insert(lines, l)
    end
    table.insert(lines, "```")
  end
  if not item then
    table.insert(lines, "  (the server sent no diff for this change)")
  end
  return answer_approval("fileChange", params, lines, { item_id = params.itemId, paths = paths })
end

handlers[m.ACCOUNT_UPDATED] = function(_, params)
  M.state.auth_mode = value(params.authMode)
  M.state.plan_type = value(params.planType)
  if not M.state.auth_mode then
    M.state.account = nil
    M.state.rate_limits = nil
  end
  pcall(vim.cmd, "redrawstatus!")
end

handlers[m.ACCOUNT_RATE_LIMITS_UPDATED] = function(_, params)
  M.state.rate_limits = merge_rate_limits(M.state.rate_limits, params.rateLimits)
  pcall(vim.cmd, "redrawstatus!")
end

handlers[m.ACCOUNT_LOGIN_COMPLETED] = function(_, params)
  M.state.device_code = nil
  if M.state.activity == "signing in" then
    set_activity(nil)
  end
  if not params.success then
    record_error("sign-in", value(params.error) or "unknown error")
    return
  end
  M.state.logged_out = false
  M.read_account(function(result)
    local account = value(result.account)
    local who = account and value(account.email) and (" as " .. account.email) or ""
    notify("signed in" .. who)
    chat.newline()
    chat.append("Signed in" .. who .. ".\n")
  end)
end

handlers[m.TURN_STARTED] = function(_, params)
  local id = params.turn.id
  M.state.turns[id] = M.state.turns[id] or { status = "inProgress", text = "" }
  M.state.running_turn_id = id
  M.state.plan = nil
  set_activity("thinking")
end

handlers[m.ITEM_STARTED] = function(_, params)
  local item = params.item
  if item.type == "commandExecution" then
    set_activity("running a command")
    chat.newline()
    chat.append("$ " .. item.command .. "\n")
  elseif item.type == "fileChange" then
    M.state.file_changes[item.id] = item
    chat.newline()
    for _, change in ipairs(item.changes or {}) do
      local kind = type(change.kind) == "table" and change.kind.type or tostring(change.kind)
      chat.append("~ " .. kind .. " " .. change.path .. "\n")
    end
  elseif item.type == "reasoning" then
    set_activity("thinking")
  end
end

handlers[m.ITEM_AGENT_MESSAGE_DELTA] = function(_, params)
  local turn = M.state.turns[params.turnId] or { status = "inProgress", text = "" }
  turn.text = turn.text .. params.delta
  M.state.turns[params.turnId] = turn
  set_activity("answering")
  chat.append(params.delta)
end

handlers[m.ITEM_COMMAND_EXECUTION_OUTPUT_DELTA] = function(_, params)
  chat.append(params.delta)
end

handlers[m.ITEM_COMPLETED] = function(_, params)
  local item = params.item
  if item.type == "commandExecution" then
    chat.newline()
    chat.append(string.format("[%s]\n", value(item.exitCode) and ("exit " .. item.exitCode) or item.status))
    set_activity("thinking")
  elseif item.type == "fileChange" then
    M.state.file_changes[item.id] = item
    chat.newline()
    chat.append("[file changes " .. tostring(item.status) .. "]\n")
  elseif item.type == "agentMessage" then
    chat.append("\n")
  end
end

local PLAN_MARKS = { completed = "[x]", inProgress = "[>]", pending = "[ ]" }

handlers[m.TURN_PLAN_UPDATED] = function(_, params)
  M.state.plan = { explanation = value(params.explanation), steps = params.plan }
  local lines = { "Plan:" }
  if value(params.explanation) then
    table.insert(lines, "  " .. params.explanation)
  end
  for _, s in ipairs(params.plan or {}) do
    table.insert(lines, "  " .. (PLAN_MARKS[s.status] or "[?]") .. " " .. s.step)
  end
  chat.newline()
  chat.append(table.concat(lines, "\n") .. "\n")
  pcall(vim.cmd, "redrawstatus!")
end

handlers[m.TURN_DIFF_UPDATED] = function(_, params)
  M.state.turn_diff = params.diff
end

handlers[m.TURN_COMPLETED] = function(_, params)
  local turn = M.state.turns[params.turn.id] or { text = "" }
  turn.status = params.turn.status
  local err = value(params.turn.error)
  turn.error = err and err.message or nil
  M.state.turns[params.turn.id] = turn
  if M.state.running_turn_id == params.turn.id then
    M.state.running_turn_id = nil
  end
  set_activity(nil)
  local words = { completed = "done", interrupted = "stopped", failed = "failed" }
  chat.newline()
  chat.append(string.format("-- %s%s --\n\n", words[turn.status] or turn.status, turn.error and (": " .. turn.error) or ""))
  if turn.status == "failed" then
    notify("the answer failed: " .. (turn.error or "unknown error"), vim.log.levels.ERROR)
  end
end

handlers["window/logMessage"] = function(_, params)
  if params.type == 1 then
    notify(params.message, vim.log.levels.ERROR)
  end
end

-- Known notifications without anything to show (keeps "no handler" warnings out of the log).
for _, name in ipairs({ m.THREAD_STARTED, m.SERVER_REQUEST_RESOLVED, m.THREAD_TOKEN_USAGE_UPDATED,
  m.ITEM_REASONING_SUMMARY_TEXT_DELTA, m.ITEM_REASONING_SUMMARY_PART_ADDED, m.ITEM_FILE_CHANGE_PATCH_UPDATED }) do
  handlers[name] = function() end
end

-- ---- the client ---------------------------------------------------------------------------------

local function client()
  local id = M.state.client_id
  local c = id and vim.lsp.get_client_by_id(id) or nil
  if c and compat.is_stopped(c) then
    return nil
  end
  return c
end
M.client = client

local paths = nil
local function stderr_path()
  if not paths then
    local dir = vim.fn.stdpath("cache") .. "/codex_lsp"
    vim.fn.mkdir(dir, "p")
    local base = dir .. "/server-" .. vim.fn.getpid()
    paths = { base .. ".stderr", base .. ".pid" }
  end
  return paths[1], paths[2]
end

-- The last meaningful lines the server wrote to stderr (its start-up error, usually). Plain io:
-- on_exit runs in a fast event where Vimscript functions are not allowed.
function M.stderr_tail(max_lines)
  local f = io.open((stderr_path()), "r")
  if not f then
    return ""
  end
  local lines = {}
  for line in f:lines() do
    if line ~= "" then
      table.insert(lines, line)
    end
  end
  f:close()
  return table.concat(vim.list_slice(lines, math.max(1, #lines - (max_lines or 3) + 1)), "\n")
end

local function flush_pending()
  local queued = pending
  pending = {}
  local c = client()
  for _, fn in ipairs(queued) do
    if c then
      fn(c)
    end
  end
end

-- The user's base config: vim.lsp.config("codex_lsp", {...}) on 0.11+, then setup() options.
local function user_cmd()
  if M.config.cmd then
    return M.config.cmd
  end
  if compat.has_011 and vim.lsp.config then
    local ok, base = pcall(function()
      return vim.lsp.config.codex_lsp
    end)
    if ok and base and type(base.cmd) == "table" then
      return base.cmd
    end
  end
  return { "codex-lsp" }
end
M.user_cmd = user_cmd

local function reset_session_state()
  local keep = { "token_requests", "approvals", "errors", "exits", "restarts", "ever_started", "logged_out" }
  local fresh = fresh_state()
  for _, k in ipairs(keep) do
    fresh[k] = M.state[k]
  end
  M.state = fresh
end

local function client_config()
  local cmd = user_cmd()
  local err_file, pid_file = stderr_path()
  -- A thin sh wrapper keeps the server's stderr (start-up errors) and pid for the user.
  local wrapped = { "sh", "-c", 'echo $$ > "$0"; f="$1"; shift; exec "$@" 2>"$f"', pid_file, err_file }
  vim.list_extend(wrapped, cmd)
  return {
    name = "codex_lsp",
    cmd = wrapped,
    cmd_env = M.config.cmd_env,
    root_dir = M.config.root_dir or vim.loop.cwd(),
    init_options = vim.tbl_extend("force", { experimentalApi = true }, M.config.init_options or {}),
    handlers = handlers,
    on_init = function(c, result)
      M.state.initialized = true
      M.state.server_info = result.serverInfo
      local experimental = result.capabilities and result.capabilities.experimental
      M.state.codex = experimental and experimental.codex or nil
      local f = io.open(pid_file, "r")
      M.state.server_pid = f and tonumber(f:read("*l")) or nil
      if f then
        f:close()
      end
      vim.schedule(function()
        flush_pending()
      end)
      return c
    end,
    on_exit = function(code, signal)
      local was_running = M.state.initialized
      local expected = M.state.stopping
      local reason = code ~= 0 and M.stderr_tail(3) or ""
      table.insert(M.state.exits, { code = code, signal = signal, reason = reason })
      reset_session_state()
      pending = {} -- requests queued for this server die with it (a new one gets its own queue)
      local detail
      if not expected then
        local what = was_running and "the Codex server stopped" or "the Codex server could not start"
        local how = (signal and signal ~= 0) and ("killed by signal " .. signal) or ("exit " .. tostring(code))
        detail = string.format("%s (%s)%s", what, how, reason ~= "" and (": " .. reason) or "")
        table.insert(M.state.errors, detail)
      end
      vim.schedule(function()
        if not detail then
          return
        end
        vim.notify("Codex: " .. detail .. "\nIt starts again with the next Codex command.", vim.log.levels.ERROR)
        chat.newline()
        chat.append("! " .. detail .. "\n")
      end)
    end,
  }
end

--- Start the server (once; again after it died) and return its client id.
function M.start()
  assert(M.config, "codex_lsp: call require('codex_lsp').setup({...}) first")
  if client() then
    return M.state.client_id
  end
  if M.state.client_id then
    reset_session_state() -- the previous client is gone without on_exit (should not happen)
  end
  if M.state.ever_started then
    M.state.restarts = M.state.restarts + 1
  end
  M.state.ever_started = true
  local cmd = user_cmd()
  if vim.fn.executable(cmd[1]) ~= 1 then
    record_error("starting the server", "command not found: " .. cmd[1]
      .. " (install codex-lsp, or set cmd in setup() / vim.lsp.config('codex_lsp', { cmd = ... }))")
    return nil
  end
  M.state.client_id = compat.start_client(client_config())
  if not M.state.client_id then
    record_error("starting the server", "could not run " .. table.concat(cmd, " "))
  end
  return M.state.client_id
end

local function with_client(fn)
  if not M.start() then
    return
  end
  if M.state.initialized then
    local c = client()
    if c then
      fn(c)
    end
  else
    table.insert(pending, fn)
  end
end

-- Send a request; cb(result) runs on success; errors are shown in the user's words.
local function request(method, params, cb, on_error)
  with_client(function(c)
    compat.request(c, method, params, function(err, result)
      if err then
        if on_error then
          on_error(err)
        end
        record_error(LABELS[method] or method, err)
        return
      end
      if cb then
        cb(result)
      end
    end)
  end)
end
M.request = request

function M.stop()
  local c = client()
  if c then
    M.state.stopping = true
    compat.stop(c)
  end
end

-- ---- account ------------------------------------------------------------------------------------

function M.read_account(cb)
  request(m.ACCOUNT_READ, vim.empty_dict(), function(result)
    M.state.account = value(result.account)
    if M.state.account and M.state.account.type == "chatgpt" then
      M.state.plan_type = value(M.state.account.planType)
    end
    if cb then
      cb(result)
    end
  end)
end

local function after_login()
  M.state.logged_out = false
  M.read_account(function(result)
    local account = value(result.account)
    local who = account and value(account.email) and (" as " .. account.email)
      or (account and account.type == "apiKey" and " with an API key" or "")
    notify("signed in" .. who)
    M.read_rate_limits()
  end)
end

function M.read_rate_limits()
  with_client(function(c)
    compat.request(c, m.ACCOUNT_RATE_LIMITS_READ, vim.empty_dict(), function(err, result)
      if not err and result and value(result.rateLimits) then
        M.state.rate_limits = merge_rate_limits(M.state.rate_limits, result.rateLimits)
        pcall(vim.cmd, "redrawstatus!")
      end
    end)
  end)
end

local function login_tokens()
  set_activity("signing in")
  fetch_tokens("login", nil, function(tokens, problem)
    if not tokens then
      set_activity(nil)
      record_error("sign-in", problem)
      return
    end
    local params = token_answer(tokens)
    params.type = "chatgptAuthTokens"
    request(m.ACCOUNT_LOGIN_START, params, function()
      set_activity(nil)
      after_login()
    end, function()
      set_activity(nil)
    end)
  end)
end

local function login_api_key()
  local key
  if M.config.get_api_key then
    key = M.config.get_api_key()
  else
    key = vim.fn.inputsecret("OpenAI API key: ")
  end
  if type(key) ~= "string" or key == "" then
    notify("sign-in cancelled: no API key given", vim.log.levels.WARN)
    return
  end
  request(m.ACCOUNT_LOGIN_START, { type = "apiKey", apiKey = key }, after_login)
end

local function login_device()
  set_activity("signing in")
  request(m.ACCOUNT_LOGIN_START, { type = "chatgptDeviceCode" }, function(result)
    M.state.device_code = { user_code = result.userCode, verification_url = result.verificationUrl, login_id = result.loginId }
    chat.newline()
    chat.append(string.format("## Sign in with ChatGPT\n  Open %s\n  and enter the code:  %s\n  (:CodexLogin cancel to stop waiting)\n",
      result.verificationUrl, result.userCode))
    chat.open(false)
    notify(string.format("open %s and enter the code %s", result.verificationUrl, result.userCode))
  end, function()
    set_activity(nil)
  end)
end

local function login_browser()
  set_activity("signing in")
  request(m.ACCOUNT_LOGIN_START, { type = "chatgpt" }, function(result)
    chat.newline()
    chat.append("## Sign in with ChatGPT\n  Open " .. result.authUrl .. "\n")
    chat.open(false)
    compat.open_url(result.authUrl)
    notify("finish signing in in your browser: " .. result.authUrl)
  end, function()
    set_activity(nil)
  end)
end

local function login_cancel()
  local device = M.state.device_code
  if not device then
    notify("no sign-in is waiting", vim.log.levels.WARN)
    return
  end
  request(m.ACCOUNT_LOGIN_CANCEL, { loginId = device.login_id }, function()
    M.state.device_code = nil
    set_activity(nil)
    notify("sign-in cancelled")
  end)
end

M.LOGIN_METHODS = { tokens = login_tokens, ["api-key"] = login_api_key, device = login_device,
  browser = login_browser, cancel = login_cancel }

function M.login(how)
  if how == nil or how == "" then
    how = M.config.get_tokens and "tokens" or nil
  end
  if not how then
    local choices = { "device", "api-key", "browser" }
    vim.ui.select(choices, { prompt = "Sign in to Codex with" }, function(choice)
      if choice then
        M.LOGIN_METHODS[choice]()
      end
    end)
    return
  end
  local fn = M.LOGIN_METHODS[how]
  if not fn then
    notify("unknown sign-in method " .. how .. " (tokens, api-key, device, browser, cancel)", vim.log.levels.WARN)
    return
  end
  fn()
end

function M.logout()
  request(m.ACCOUNT_LOGOUT, vim.empty_dict(), function()
    M.state.account = nil
    M.state.auth_mode = nil
    M.state.plan_type = nil
    M.state.rate_limits = nil
    M.state.thread_id = nil
    M.state.logged_out = true
    notify("signed out")
    pcall(vim.cmd, "redrawstatus!")
  end)
end

function M.status()
  request(m.CODEX_STATUS, vim.empty_dict(), function(result)
    M.state.last_status = result
    if value(result.rateLimits) then
      M.state.rate_limits = merge_rate_limits(M.state.rate_limits, result.rateLimits)
    end
    notify(table.concat(result.lines or {}, "\n"))
  end)
end

-- ---- turns --------------------------------------------------------------------------------------

local function start_turn(prompt)
  local params = { threadId = M.state.thread_id, input = { { type = "text", text = prompt } } }
  set_activity("thinking")
  request(m.TURN_START, params, function(result)
    local id = result.turn.id
    M.state.last_turn_id = id
    M.state.running_turn_id = M.state.running_turn_id or id
    M.state.turns[id] = M.state.turns[id] or { status = "inProgress", text = "" }
  end, function()
    set_activity(nil)
  end)
end

-- The selected lines as a fenced block naming the file, for the prompt.
local function selection_block(line1, line2)
  local lines = vim.api.nvim_buf_get_lines(0, line1 - 1, line2, false)
  local name = vim.fn.expand("%:.")
  if name == "" then
    name = "[No Name]"
  end
  return string.format("\n\n%s lines %d-%d:\n```%s\n%s\n```", name, line1, line2, vim.bo.filetype, table.concat(lines, "\n"))
end

function M.ask(prompt, range)
  if (not prompt or prompt == "") and not range then
    notify("write what to ask: :CodexAsk {question}", vim.log.levels.WARN)
    return
  end
  prompt = prompt or ""
  if range then
    prompt = prompt .. selection_block(range[1], range[2])
  end
  chat.open(false)
  chat.newline()
  chat.append("> " .. prompt:gsub("\n", "\n> ") .. "\n\n")
  if M.state.thread_id then
    start_turn(prompt)
    return
  end
  local params = vim.empty_dict()
  if M.config.approval_policy then
    params = { approvalPolicy = M.config.approval_policy }
  end
  request(m.THREAD_START, params, function(result)
    M.state.thread_id = result.thread.id
    start_turn(prompt)
  end)
end

function M.interrupt()
  local turn_id = M.state.running_turn_id
  if not turn_id or not M.state.thread_id then
    notify("nothing is running", vim.log.levels.WARN)
    return
  end
  request(m.TURN_INTERRUPT, { threadId = M.state.thread_id, turnId = turn_id }, function()
    notify("stopping the answer")
  end)
end

-- Show a resumed thread's turns in the chat, the way they looked when they ran.
local function render_thread(thread)
  chat.clear()
  chat.append("# " .. (value(thread.name) or value(thread.preview) or thread.id):gsub("\n", " ") .. "\n\n")
  for _, turn in ipairs(thread.turns or {}) do
    for _, item in ipairs(turn.items or {}) do
      if item.type == "userMessage" then
        for _, c in ipairs(item.content or {}) do
          if c.type == "text" then
            chat.append("> " .. c.text:gsub("\n", "\n> ") .. "\n\n")
          end
        end
      elseif item.type == "agentMessage" then
        chat.append((item.text or "") .. "\n\n")
      elseif item.type == "commandExecution" then
        chat.append("$ " .. item.command .. "\n")
      elseif item.type == "fileChange" then
        for _, change in ipairs(item.changes or {}) do
          local kind = type(change.kind) == "table" and change.kind.type or tostring(change.kind)
          chat.append("~ " .. kind .. " " .. change.path .. "\n")
        end
      end
    end
    local words = { interrupted = "stopped", failed = "failed" }
    if words[turn.status] then
      chat.append("-- " .. words[turn.status] .. " --\n\n")
    end
  end
end

local function format_time(ts)
  return ts and os.date("%Y-%m-%d %H:%M", ts) or "?"
end

--- Continue a stored conversation (ours or the Codex CLI's): pick one of this workspace's with
--- vim.ui.select over thread/list, unless `thread_id` is given. Its turns are shown in the chat
--- and the next :CodexAsk continues it.
function M.resume(thread_id)
  local function resume(id)
    local params = { threadId = id }
    if M.config.approval_policy then
      params.approvalPolicy = M.config.approval_policy
    end
    request(m.THREAD_RESUME, params, function(result)
      M.state.thread_id = result.thread.id
      render_thread(result.thread)
      chat.open(false)
      notify("resumed the conversation; :CodexAsk continues it")
    end)
  end
  if thread_id and thread_id ~= "" then
    resume(thread_id)
    return
  end
  request(m.THREAD_LIST, { limit = 50, cwd = M.config.root_dir or vim.loop.cwd() }, function(result)
    local threads = result.data or {}
    if #threads == 0 then
      notify("no past conversations here")
      return
    end
    vim.ui.select(threads, {
      prompt = "Resume which conversation?",
      format_item = function(t)
        local title = value(t.name) or (value(t.preview) ~= "" and value(t.preview)) or t.id
        return format_time(t.updatedAt) .. "  " .. title:gsub("\n", " ")
      end,
    }, function(choice)
      if choice then
        resume(choice.id)
      end
    end)
  end)
end

-- ---- status line --------------------------------------------------------------------------------

--- Short status-line text, e.g. "Codex: pro · 5h 23% · thinking".
function M.statusline()
  local parts = {}
  if M.state.auth_mode then
    table.insert(parts, M.state.plan_type or (M.state.auth_mode == "apikey" and "API key") or M.state.auth_mode)
  else
    table.insert(parts, "signed out")
  end
  local primary = M.state.rate_limits and value(M.state.rate_limits.primary)
  if primary then
    table.insert(parts, string.format("5h %d%%", primary.usedPercent))
  end
  if M.state.activity then
    table.insert(parts, M.state.activity)
  end
  local plan = M.state.plan
  if plan and M.state.running_turn_id then
    local done, total = 0, #plan.steps
    for _, s in ipairs(plan.steps) do
      if s.status == "completed" then
        done = done + 1
      end
    end
    table.insert(parts, string.format("plan %d/%d", done, total))
  end
  return "Codex: " .. table.concat(parts, " · ")
end

-- ---- setup --------------------------------------------------------------------------------------

local function create_commands()
  local create = vim.api.nvim_create_user_command
  create("Codex", function()
    chat.toggle()
  end, { desc = "Codex: show or hide the chat window" })
  create("CodexLogin", function(args)
    M.login(args.args)
  end, {
    nargs = "?",
    complete = function()
      return { "tokens", "api-key", "device", "browser", "cancel" }
    end,
    desc = "Codex: sign in (tokens, api-key, device, browser)",
  })
  create("CodexLogout", function()
    M.logout()
  end, { desc = "Codex: sign out" })
  create("CodexStatus", function()
    M.status()
  end, { desc = "Codex: account, model, sandbox and rate limits" })
  create("CodexAsk", function(args)
    local range = args.range > 0 and { args.line1, args.line2 } or nil
    M.ask(args.args, range)
  end, { nargs = "*", range = true, desc = "Codex: ask the agent (with the selected lines)" })
  create("CodexInterrupt", function()
    M.interrupt()
  end, { desc = "Codex: stop the running answer" })
  create("CodexResume", function(args)
    M.resume(args.args)
  end, { nargs = "?", desc = "Codex: pick a past conversation and continue it" })
  create("CodexApprove", function(args)
    M.approve(args.args ~= "" and args.args or "accept")
  end, {
    nargs = "?",
    complete = function()
      return { "accept", "session", "decline", "cancel" }
    end,
    desc = "Codex: answer the pending approval",
  })
  chat.map("a", function()
    M.approve("accept")
  end, "Codex: accept")
  chat.map("s", function()
    M.approve("session")
  end, "Codex: accept for this session")
  chat.map("d", function()
    M.approve("decline")
  end, "Codex: decline")
  chat.map("c", function()
    M.approve("cancel")
  end, "Codex: decline and stop the turn")
  chat.map("q", chat.close, "Codex: close the chat window")
end

function M.setup(opts)
  opts = opts or {}
  vim.validate({
    cmd = { opts.cmd, "table", true },
    get_tokens = { opts.get_tokens, "function", true },
    get_api_key = { opts.get_api_key, "function", true },
    on_approval = { opts.on_approval, "function", true },
    approval_ui = { opts.approval_ui, "string", true },
  })
  if M.state.client_id and client() then
    M.stop()
  end
  M.config = vim.tbl_extend("force", {
    token_timeout_ms = 9000, -- under the server's 10 s refresh timeout
    approval_timeout_ms = 24 * 3600 * 1000,
  }, opts)
  M.state = fresh_state()
  pending = {}
  create_commands()
  return M
end

return M
