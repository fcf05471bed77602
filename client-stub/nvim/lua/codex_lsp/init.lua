-- codex_lsp: a Neovim (>= 0.7) client for the codex-lsp server.
--
--   require("codex_lsp").setup({
--     cmd = { "codex-lsp" },
--     get_tokens = function(reason, previous_account_id) return { accessToken = ..., chatgptAccountId = ... } end,
--     on_approval = function(req) return "accept" end,   -- "accept" | "acceptForSession" | "decline" | "cancel"
--   })
--
-- Commands: :CodexLogin, :CodexLogout, :CodexStatus, :CodexAsk {prompt}; :checkhealth codex_lsp.
--
-- Neovim 0.7 quirks handled here: empty params are sent as vim.empty_dict() (a Lua {} encodes as
-- JSON []), JSON null may arrive as vim.NIL or nil, server->client request handlers must answer
-- synchronously (get_tokens and on_approval are called inline), and there is no
-- window/showDocument (the server is told so by the default client capabilities).

local protocol = require("codex_lsp.protocol")

local M = {}
local m = protocol.methods

local APPROVAL_DECISIONS = { accept = true, acceptForSession = true, decline = true, cancel = true }

-- Everything the plugin knows; plain data only (tests serialize it to JSON).
local function fresh_state()
  return {
    client_id = nil,
    initialized = false,
    server_info = nil,
    codex = nil, -- result.capabilities.experimental.codex of initialize
    auth_mode = nil,
    plan_type = nil,
    account = nil,
    rate_limits = nil,
    thread_id = nil,
    turns = {}, -- turn id -> { status, text, error }
    last_turn_id = nil,
    token_requests = {}, -- { reason, previous_account_id } per get_tokens call
    approvals = {}, -- { command, cwd, decision } per approval request
    last_status = nil,
    logged_out = false,
    errors = {},
  }
end

M.state = fresh_state()
M.config = nil

local pending = {} -- functions waiting for the client to finish initializing
local output_buf = nil

-- ---- helpers ------------------------------------------------------------------------------------

local function value(v)
  if v == vim.NIL then
    return nil
  end
  return v
end

local function notify(msg, level)
  vim.notify("Codex: " .. msg, level or vim.log.levels.INFO)
end

local function record_error(what, err)
  local message = type(err) == "table" and (err.message or vim.inspect(err)) or tostring(err)
  table.insert(M.state.errors, what .. ": " .. message)
  notify(what .. " failed: " .. message, vim.log.levels.ERROR)
end

local function output_buffer()
  if output_buf and vim.api.nvim_buf_is_valid(output_buf) then
    return output_buf
  end
  output_buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(output_buf, "codex://output")
  vim.api.nvim_buf_set_option(output_buf, "filetype", "markdown")
  return output_buf
end

-- Append text (which may contain newlines) at the end of the output buffer.
local function append_output(text)
  if text == nil or text == "" then
    return
  end
  local buf = output_buffer()
  local pieces = vim.split(text, "\n", { plain = true })
  local last = vim.api.nvim_buf_line_count(buf)
  local tail = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ""
  pieces[1] = tail .. pieces[1]
  vim.api.nvim_buf_set_lines(buf, last - 1, last, false, pieces)
end

function M.output_lines()
  return vim.api.nvim_buf_get_lines(output_buffer(), 0, -1, false)
end

-- Sparse rate-limit update: null fields never clear a known value.
local function merge_rate_limits(known, update)
  local merged = vim.deepcopy(known or {})
  for key, v in pairs(update or {}) do
    if v ~= vim.NIL then
      merged[key] = v
    end
  end
  return merged
end

local function token_params(tokens)
  return {
    type = "chatgptAuthTokens",
    accessToken = tokens.accessToken,
    chatgptAccountId = tokens.chatgptAccountId,
    chatgptPlanType = value(tokens.chatgptPlanType) or vim.NIL,
  }
end

-- Call get_tokens and check its answer; returns tokens or nil, message. Tokens are never logged.
local function fetch_tokens(reason, previous_account_id)
  table.insert(M.state.token_requests, { reason = reason, previous_account_id = previous_account_id or vim.NIL })
  if not M.config.get_tokens then
    return nil, "no get_tokens function: pass setup({ get_tokens = function(reason, previous_account_id) ... end })"
  end
  local ok, tokens = pcall(M.config.get_tokens, reason, previous_account_id)
  if not ok then
    return nil, "get_tokens raised an error: " .. tostring(tokens)
  end
  if type(tokens) ~= "table" or type(tokens.accessToken) ~= "string" or type(tokens.chatgptAccountId) ~= "string" then
    return nil, "get_tokens must return { accessToken = string, chatgptAccountId = string, chatgptPlanType = string|nil }"
  end
  return tokens
end

-- ---- server -> client ---------------------------------------------------------------------------

local function default_on_approval(req)
  local prompt = string.format("Codex wants to run:\n  %s\nin %s\n%s", req.command, req.cwd, value(req.reason) or "")
  local choice = vim.fn.confirm(prompt, "&Accept\nAccept for &session\n&Decline\n&Cancel turn", 3)
  return ({ "accept", "acceptForSession", "decline", "cancel" })[choice] or "decline"
end

local handlers = {}

-- Server->client requests: 0.7 sends the handler's return values (result, err) as the answer.
handlers[m.ACCOUNT_CHATGPT_AUTH_TOKENS_REFRESH] = function(_, params)
  local tokens, problem = fetch_tokens(params.reason, value(params.previousAccountId))
  if not tokens then
    record_error("token refresh", problem)
    return nil, { code = -32603, message = problem }
  end
  return {
    accessToken = tokens.accessToken,
    chatgptAccountId = tokens.chatgptAccountId,
    chatgptPlanType = value(tokens.chatgptPlanType) or vim.NIL,
  }
end

handlers[m.ITEM_COMMAND_EXECUTION_REQUEST_APPROVAL] = function(_, params)
  local on_approval = M.config.on_approval or default_on_approval
  local ok, decision = pcall(on_approval, params)
  if not ok or not APPROVAL_DECISIONS[decision] then
    record_error("approval", ok and ("on_approval returned " .. tostring(decision)) or decision)
    decision = "decline"
  end
  table.insert(M.state.approvals, { command = params.command, cwd = params.cwd, decision = decision })
  return { decision = decision }
end

-- Notifications.
handlers[m.ACCOUNT_UPDATED] = function(_, params)
  M.state.auth_mode = value(params.authMode)
  M.state.plan_type = value(params.planType)
  if not M.state.auth_mode then
    M.state.account = nil
    M.state.rate_limits = nil
  end
end

handlers[m.ACCOUNT_RATE_LIMITS_UPDATED] = function(_, params)
  M.state.rate_limits = merge_rate_limits(M.state.rate_limits, params.rateLimits)
end

handlers[m.ACCOUNT_LOGIN_COMPLETED] = function(_, params)
  if not params.success then
    record_error("login", value(params.error) or "unknown error")
  end
end

handlers[m.TURN_STARTED] = function(_, params)
  M.state.turns[params.turn.id] = M.state.turns[params.turn.id] or { status = "inProgress", text = "" }
  append_output(string.format("--- turn %s ---\n", params.turn.id))
end

handlers[m.ITEM_STARTED] = function(_, params)
  if params.item.type == "commandExecution" then
    append_output("\n$ " .. params.item.command .. "\n")
  end
end

handlers[m.ITEM_AGENT_MESSAGE_DELTA] = function(_, params)
  local turn = M.state.turns[params.turnId] or { status = "inProgress", text = "" }
  turn.text = turn.text .. params.delta
  M.state.turns[params.turnId] = turn
  append_output(params.delta)
end

handlers[m.ITEM_COMMAND_EXECUTION_OUTPUT_DELTA] = function(_, params)
  append_output(params.delta)
end

handlers[m.ITEM_COMPLETED] = function(_, params)
  local item = params.item
  if item.type == "commandExecution" then
    append_output(string.format("\n[%s]\n", value(item.exitCode) and ("exit " .. item.exitCode) or item.status))
  elseif item.type == "agentMessage" then
    append_output("\n")
  end
end

handlers[m.TURN_COMPLETED] = function(_, params)
  local turn = M.state.turns[params.turn.id] or { text = "" }
  turn.status = params.turn.status
  local err = value(params.turn.error)
  turn.error = err and err.message or nil
  M.state.turns[params.turn.id] = turn
  append_output(string.format("--- turn %s%s ---\n", turn.status, turn.error and (": " .. turn.error) or ""))
end

-- Known notifications we don't need to act on (avoids "no handler" warnings in the log).
for _, name in ipairs({ m.THREAD_STARTED, m.SERVER_REQUEST_RESOLVED, m.THREAD_TOKEN_USAGE_UPDATED,
  m.ITEM_REASONING_SUMMARY_TEXT_DELTA, m.ITEM_REASONING_SUMMARY_PART_ADDED }) do
  handlers[name] = function() end
end

-- ---- client lifecycle ---------------------------------------------------------------------------

local function client()
  return M.state.client_id and vim.lsp.get_client_by_id(M.state.client_id) or nil
end

function M.client()
  return client()
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

local function client_config()
  local cfg = M.config
  return {
    name = "codex_lsp",
    cmd = cfg.cmd,
    cmd_env = cfg.cmd_env,
    root_dir = cfg.root_dir or vim.loop.cwd(),
    init_options = vim.tbl_extend("force", { experimentalApi = true }, cfg.init_options or {}),
    handlers = handlers,
    on_init = function(c, result)
      M.state.initialized = true
      M.state.server_info = result.serverInfo
      local experimental = result.capabilities and result.capabilities.experimental
      M.state.codex = experimental and experimental.codex or nil
      -- 0.7 calls on_init inside the response handler; run queued requests right after.
      vim.schedule(flush_pending)
      return c
    end,
    on_exit = function()
      M.state.client_id = nil
      M.state.initialized = false
      M.state.thread_id = nil
    end,
  }
end

--- Start the server (once) and return its client id.
function M.start()
  if M.state.client_id and client() then
    return M.state.client_id
  end
  assert(M.config, "codex_lsp: call require('codex_lsp').setup({...}) first")
  local config = client_config()
  if vim.lsp.start then
    -- 0.8+: reuses a running client with the same name (attaches the current buffer).
    M.state.client_id = vim.lsp.start(config, {
      reuse_client = function(c, conf)
        return c.name == conf.name
      end,
    })
  else
    M.state.client_id = vim.lsp.start_client(config)
  end
  if not M.state.client_id then
    record_error("start", "could not start " .. table.concat(M.config.cmd, " "))
  end
  return M.state.client_id
end

--- Run fn(client) once the server is initialized (starting it if needed).
local function with_client(fn)
  if not M.start() then
    return
  end
  if M.state.initialized then
    local c = client()
    if not c then
      record_error("request", "the codex-lsp client is not running")
      return
    end
    fn(c)
  else
    table.insert(pending, fn)
  end
end

-- Send a request; cb(result) runs on success, errors are recorded and shown.
local function request(method, params, cb)
  with_client(function(c)
    c.request(method, params, function(err, result)
      if err then
        record_error(method, err)
        return
      end
      if cb then
        cb(result)
      end
    end)
  end)
end

function M.stop()
  local id = M.state.client_id
  if id then
    vim.lsp.stop_client(id)
  end
end

-- ---- commands -----------------------------------------------------------------------------------

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

function M.login()
  local tokens, problem = fetch_tokens("login", nil)
  if not tokens then
    record_error("login", problem)
    return
  end
  M.state.logged_out = false
  request(m.ACCOUNT_LOGIN_START, token_params(tokens), function()
    M.read_account(function(result)
      local account = value(result.account)
      notify("signed in" .. (account and value(account.email) and (" as " .. account.email) or ""))
    end)
  end)
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

local function start_turn(prompt)
  local params = { threadId = M.state.thread_id, input = { { type = "text", text = prompt } } }
  request(m.TURN_START, params, function(result)
    local id = result.turn.id
    M.state.last_turn_id = id
    M.state.turns[id] = M.state.turns[id] or { status = "inProgress", text = "" }
  end)
end

function M.ask(prompt)
  if not prompt or prompt == "" then
    notify("usage: :CodexAsk {prompt}", vim.log.levels.WARN)
    return
  end
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

--- Continue a stored conversation (ours or the Codex CLI's): pick one with vim.ui.select from
--- thread/list, unless `thread_id` is given; later :CodexAsk goes to it.
function M.resume(thread_id, cb)
  local function resume(id)
    local params = { threadId = id, excludeTurns = true }
    if M.config.approval_policy then
      params.approvalPolicy = M.config.approval_policy
    end
    request(m.THREAD_RESUME, params, function(result)
      M.state.thread_id = result.thread.id
      notify("resumed: " .. (value(result.thread.name) or result.thread.preview))
      if cb then
        cb(result)
      end
    end)
  end
  if thread_id and thread_id ~= "" then
    resume(thread_id)
    return
  end
  request(m.THREAD_LIST, { limit = 50 }, function(result)
    M.state.stored_threads = result.data
    if #result.data == 0 then
      notify("no stored conversations yet")
      return
    end
    vim.ui.select(result.data, {
      prompt = "Resume a conversation",
      format_item = function(t)
        local title = value(t.name) or (t.preview ~= "" and t.preview or "(no message yet)")
        return string.format("%s  (%s, %s)", title, os.date("%Y-%m-%d %H:%M", t.updatedAt), t.cwd)
      end,
    }, function(choice)
      if choice then
        resume(choice.id)
      end
    end)
  end)
end

--- Short status-line text, e.g. "Codex: pro · 5h 23%".
function M.statusline()
  if not M.state.auth_mode then
    return "Codex: signed out"
  end
  local parts = { M.state.plan_type or M.state.auth_mode }
  local primary = M.state.rate_limits and value(M.state.rate_limits.primary)
  if primary then
    table.insert(parts, string.format("5h %d%%", primary.usedPercent))
  end
  return "Codex: " .. table.concat(parts, " · ")
end

-- ---- setup --------------------------------------------------------------------------------------

local function create_commands()
  local create = vim.api.nvim_create_user_command
  create("CodexLogin", function()
    M.login()
  end, { desc = "Codex: sign in with tokens from get_tokens" })
  create("CodexLogout", function()
    M.logout()
  end, { desc = "Codex: sign out" })
  create("CodexStatus", function()
    M.status()
  end, { desc = "Codex: account, model, sandbox and rate limits" })
  create("CodexAsk", function(args)
    M.ask(args.args)
  end, { nargs = "+", desc = "Codex: ask the agent" })
  create("CodexResume", function(args)
    M.resume(args.args)
  end, { nargs = "?", desc = "Codex: resume a stored conversation (picker, or a thread id)" })
end

function M.setup(opts)
  opts = opts or {}
  vim.validate({
    cmd = { opts.cmd, "table", true },
    get_tokens = { opts.get_tokens, "function", true },
    on_approval = { opts.on_approval, "function", true },
  })
  M.config = vim.tbl_extend("force", { cmd = { "codex-lsp" } }, opts)
  M.state = fresh_state()
  pending = {}
  create_commands()
  return M
end

return M
