-- Drives the codex_lsp Neovim plugin in `nvim --headless -u NONE` against the real server, using its
-- user commands, and writes what the Lua side recorded as JSON. Started by test_nvim_client.py.
--
-- Env: CODEX_NVIM_DIR (plugin, put on runtimepath), CODEX_SERVER_CMD (JSON argv), CODEX_WORKSPACE,
-- CODEX_TOKENS (JSON {login = tokens, unauthorized = tokens}), CODEX_TOKEN_DELAY_MS (get_tokens answers
-- through its callback after this delay), CODEX_API_KEY, CODEX_APPROVAL_DECISION, CODEX_APPROVAL_POLICY,
-- CODEX_STEPS (comma list), CODEX_PROMPT, CODEX_DEVICE_FILE, CODEX_RESULT_FILE.
-- Every wait is bounded (vim.wait with a timeout); the script always ends with :qa!.

vim.opt.rtp:prepend(os.getenv("CODEX_NVIM_DIR"))

local WAIT_MS = 15000
local record = { steps = {}, token_calls = {}, approvals = {}, version = tostring(vim.version()) }

local function save()
  local f = assert(io.open(os.getenv("CODEX_RESULT_FILE"), "w"))
  f:write(vim.fn.json_encode(record))
  f:close()
end

-- Like a notification plugin would: keep what the user was told (and don't turn errors into
-- exceptions of whatever command happens to run in headless mode).
record.notifications = {}
vim.notify = function(msg, level)
  table.insert(record.notifications, { msg = msg, level = level or vim.NIL })
end

local tokens_by_reason = vim.fn.json_decode(os.getenv("CODEX_TOKENS") or "{}")
local token_delay = tonumber(os.getenv("CODEX_TOKEN_DELAY_MS") or "0")
local ticks = 0 -- counted by a timer while get_tokens is waiting: proves the editor loop runs
local server_cmd = vim.fn.json_decode(os.getenv("CODEX_SERVER_CMD"))
if os.getenv("CODEX_USE_LSP_CONFIG") then
  -- The 0.11+ way: the plugin's lsp/codex_lsp.lua, overridden with vim.lsp.config, then enabled.
  vim.lsp.config("codex_lsp", { cmd = server_cmd })
  vim.lsp.enable("codex_lsp")
  server_cmd = nil
end
local codex = require("codex_lsp").setup({
  cmd = server_cmd,
  root_dir = os.getenv("CODEX_WORKSPACE"),
  approval_policy = os.getenv("CODEX_APPROVAL_POLICY"),
  get_tokens = function(reason, previous_account_id, done)
    table.insert(record.token_calls, { reason = reason, previous_account_id = previous_account_id or vim.NIL })
    if token_delay > 0 then
      vim.defer_fn(function()
        done(tokens_by_reason[reason])
      end, token_delay)
      return nil -- answered through done()
    end
    return tokens_by_reason[reason] or false -- false: "no tokens" (nil would mean "done() comes later")
  end,
  get_api_key = function()
    return os.getenv("CODEX_API_KEY")
  end,
  on_approval = os.getenv("CODEX_APPROVAL_DECISION") and function(req, _, kind)
    local decision = os.getenv("CODEX_APPROVAL_DECISION")
    table.insert(record.approvals, { kind = kind, command = req.command, cwd = req.cwd, thread_id = req.threadId, decision = decision })
    return decision
  end or nil,
})
local state = function()
  return codex.state
end

local function errors_since(n)
  return #state().errors > n
end

-- Run `action`, then wait until `done()` (or, unless `wait_past_errors`, a new error); records
-- ok/timeout, the errors the plugin recorded meanwhile, and elapsed ms.
local function step(name, action, done, wait_past_errors)
  local errors_before = #state().errors
  local started = vim.loop.hrtime()
  local ok, err = pcall(action)
  if not ok then
    record.steps[name] = { ok = false, error = tostring(err) }
    return
  end
  local finished = vim.wait(WAIT_MS, function()
    return done() or (not wait_past_errors and errors_since(errors_before))
  end, 20)
  local new_errors = vim.list_slice(state().errors, errors_before + 1)
  record.steps[name] = {
    ok = finished and #new_errors == 0,
    timed_out = not finished,
    errors = new_errors,
    ms = math.floor((vim.loop.hrtime() - started) / 1e6),
  }
end

local function request(method, params, cb)
  local c = codex.client()
  if vim.fn.has("nvim-0.11") == 1 then
    c:request(method, params, cb)
  else
    c.request(method, params, cb)
  end
end

local function turn_finished()
  local id = state().last_turn_id
  local turn = id and state().turns[id]
  return turn ~= nil and turn.status ~= "inProgress"
end

local function chat_windows()
  local n = 0
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win)) == "codex://chat" then
      n = n + 1
    end
  end
  return n
end

local hook_answer = nil

local steps = {
  start = function()
    step("start", codex.start, function()
      return state().initialized
    end)
    record.server_cmd_tail = codex.user_cmd()[#codex.user_cmd()]
    record.attached_buffers = #vim.lsp.get_buffers_by_client_id(state().client_id or -1)
  end,
  -- Test hook: the server sends account/chatgptAuthTokens/refresh to the plugin right now.
  refresh_hook = function()
    local timer = vim.loop.new_timer()
    timer:start(100, 100, vim.schedule_wrap(function()
      ticks = ticks + 1
    end))
    step("refresh_hook", function()
      request("codexTest/clientRequest", {
        method = "account/chatgptAuthTokens/refresh",
        params = { reason = "unauthorized", previousAccountId = "acct-hook" },
        timeout = 5,
      }, function(err, result)
        hook_answer = err and { error = err } or result
      end)
    end, function()
      return hook_answer ~= nil
    end, true)
    timer:stop()
    timer:close()
    record.hook_answer = hook_answer
    record.ticks_during_refresh = ticks
  end,
  login = function()
    step("login", function()
      vim.cmd("CodexLogin")
    end, function()
      return state().account ~= nil and state().auth_mode ~= nil
    end)
    record.account_after_login = state().account
    record.auth_mode_after_login = state().auth_mode or vim.NIL
  end,
  login_api_key = function()
    step("login_api_key", function()
      vim.cmd("CodexLogin api-key")
    end, function()
      return state().account ~= nil
    end)
    record.account_after_login = state().account
  end,
  login_device = function()
    step("login_device", function()
      vim.cmd("CodexLogin device")
    end, function()
      if state().device_code and not record.device_code then
        record.device_code = state().device_code
        local f = assert(io.open(os.getenv("CODEX_DEVICE_FILE"), "w"))
        f:write(state().device_code.user_code)
        f:close()
      end
      return state().account ~= nil and state().auth_mode ~= nil
    end)
    record.account_after_login = state().account
    record.auth_mode_after_login = state().auth_mode or vim.NIL
  end,
  ask = function()
    -- What the statusline showed while the turn ran (each distinct text once, in order).
    local statuslines = {}
    local sampler = vim.loop.new_timer()
    sampler:start(0, 20, vim.schedule_wrap(function()
      local text = codex.statusline()
      if statuslines[#statuslines] ~= text then
        table.insert(statuslines, text)
      end
    end))
    step("ask", function()
      vim.cmd("CodexAsk " .. (os.getenv("CODEX_PROMPT") or "hello"))
    end, turn_finished)
    sampler:stop()
    sampler:close()
    local id = state().last_turn_id
    record.turn = id and state().turns[id] or vim.NIL
    record.statusline_after_ask = codex.statusline()
    record.statuslines_during_ask = statuslines
    record.chat_windows = chat_windows()
  end,
  edit_file = function()
    vim.cmd("edit " .. os.getenv("CODEX_WORKSPACE") .. "/hello.txt")
    vim.wait(300)
    record.clients_after_edit = #(vim.lsp.get_clients and vim.lsp.get_clients({ name = "codex_lsp" }) or {})
  end,
  ask_selection = function()
    step("ask_selection", function()
      vim.cmd("edit " .. os.getenv("CODEX_WORKSPACE") .. "/hello.txt")
      vim.cmd("1,1CodexAsk explain this")
    end, turn_finished)
    local id = state().last_turn_id
    record.turn = id and state().turns[id] or vim.NIL
    record.attached_buffers = #vim.lsp.get_buffers_by_client_id(state().client_id or -1)
  end,
  interrupt = function()
    step("interrupt", function()
      vim.cmd("CodexAsk " .. (os.getenv("CODEX_PROMPT") or "hello"))
      vim.wait(WAIT_MS, function()
        local id = state().last_turn_id
        return id ~= nil and state().turns[id].text ~= ""
      end, 20)
      record.activity_while_running = state().activity or vim.NIL
      record.statusline_while_running = codex.statusline()
      vim.cmd("CodexInterrupt")
    end, turn_finished)
    local id = state().last_turn_id
    record.turn = id and state().turns[id] or vim.NIL
  end,
  -- :CodexResume, with vim.ui.select answered the way a picker plugin would: the first (newest)
  -- conversation is chosen. Records what was offered and the chat right after resuming.
  resume = function()
    local offered = nil
    vim.ui.select = function(items, opts, on_choice)
      offered = { prompt = opts.prompt, items = vim.tbl_map(function(t)
        return { id = t.id, preview = t.preview, label = opts.format_item(t) }
      end, items) }
      on_choice(items[1], 1)
    end
    local before = state().thread_id
    step("resume", function()
      vim.cmd("CodexResume")
    end, function()
      return state().thread_id ~= nil and state().thread_id ~= before
    end)
    record.resume_offered = offered or vim.NIL
    record.resumed_thread_id = state().thread_id or vim.NIL
    record.chat_after_resume = codex.output_lines()
    record.chat_windows_after_resume = chat_windows()
  end,
  status = function()
    step("status", function()
      vim.cmd("CodexStatus")
    end, function()
      return state().last_status ~= nil
    end)
    record.status = state().last_status or vim.NIL
  end,
  health = function()
    step("health", function()
      vim.cmd("checkhealth codex_lsp")
    end, function()
      return true
    end)
    record.health = vim.api.nvim_buf_get_lines(0, 0, -1, false)
    vim.cmd("bwipeout!")
  end,
  kill_server = function()
    local pid = state().server_pid
    record.killed_pid = pid or vim.NIL
    step("kill_server", function()
      vim.loop.kill(pid, "sigkill")
    end, function()
      return state().client_id == nil and #state().exits > 0
    end, true)
    record.thread_after_kill = state().thread_id or vim.NIL
  end,
  status_after_restart = function()
    state().last_status = nil
    step("status_after_restart", function()
      vim.cmd("CodexStatus")
    end, function()
      return state().last_status ~= nil
    end)
    record.status = state().last_status or vim.NIL
    record.pid_after_restart = state().server_pid or vim.NIL
  end,
  start_fails = function()
    step("start_fails", codex.start, function()
      return #state().exits > 0 and #state().errors > 0
    end, true)
  end,
  help = function()
    vim.cmd("helptags " .. os.getenv("CODEX_NVIM_DIR") .. "/doc")
    local ok, err = pcall(vim.cmd, "help codex_lsp")
    record.help = { ok = ok, error = ok and vim.NIL or tostring(err), buffer = vim.fn.expand("%:t"),
      line = vim.api.nvim_get_current_line() }
    pcall(vim.cmd, "helpclose")
  end,
  logout = function()
    step("logout", function()
      vim.cmd("CodexLogout")
    end, function()
      return state().logged_out
    end)
  end,
  account_after = function()
    local answer = nil
    step("account_after", function()
      codex.read_account(function(result)
        answer = result
      end)
    end, function()
      return answer ~= nil
    end)
    record.account_read_after_logout = answer or vim.NIL
  end,
}

local ok, err = pcall(function()
  for name in string.gmatch(os.getenv("CODEX_STEPS") or "", "[^,]+") do
    steps[name]()
  end
end)
if not ok then
  record.fatal = tostring(err)
end

record.state = {
  auth_mode = state().auth_mode or vim.NIL,
  plan_type = state().plan_type or vim.NIL,
  rate_limits = state().rate_limits or vim.NIL,
  thread_id = state().thread_id or vim.NIL,
  server_info = state().server_info or vim.NIL,
  codex = state().codex or vim.NIL,
  token_requests = state().token_requests,
  approvals = state().approvals,
  errors = state().errors,
  exits = state().exits,
  restarts = state().restarts,
  turn_diff = state().turn_diff or vim.NIL,
  plan = state().plan or vim.NIL,
}
record.statusline = codex.statusline()
record.output = codex.output_lines()
-- Wait for the server process itself: Neovim 0.12 reports a client stopped as soon as stop()
-- is asked, while the server is still answering `shutdown` (flushing its rollouts).
local stopping_id = codex.state.client_id
codex.stop()
record.client_stopped = vim.wait(5000, function()
  return codex.client() == nil and (stopping_id == nil or vim.lsp.get_client_by_id(stopping_id) == nil)
end, 20)
save()
vim.cmd("qa!")
