-- Drives the codex_lsp Neovim plugin in `nvim --headless -u NONE` against the real server, using its
-- user commands, and writes what the Lua side recorded as JSON. Started by test_nvim_client.py.
--
-- Env: CODEX_NVIM_DIR (plugin, put on runtimepath), CODEX_SERVER_CMD (JSON argv), CODEX_WORKSPACE,
-- CODEX_TOKENS (JSON {login = tokens, unauthorized = tokens}), CODEX_APPROVAL_DECISION,
-- CODEX_APPROVAL_POLICY, CODEX_STEPS (comma list), CODEX_PROMPT, CODEX_RESULT_FILE.
-- Every wait is bounded (vim.wait with a timeout); the script always ends with :qa!.

vim.opt.rtp:prepend(os.getenv("CODEX_NVIM_DIR"))

local WAIT_MS = 15000 -- x at most 7 steps stays under the test's 120 s limit
local record = { steps = {}, token_calls = {}, approvals = {} }

local function save()
  local f = assert(io.open(os.getenv("CODEX_RESULT_FILE"), "w"))
  f:write(vim.fn.json_encode(record))
  f:close()
end

local tokens_by_reason = vim.fn.json_decode(os.getenv("CODEX_TOKENS") or "{}")
local codex = require("codex_lsp").setup({
  cmd = vim.fn.json_decode(os.getenv("CODEX_SERVER_CMD")),
  root_dir = os.getenv("CODEX_WORKSPACE"),
  approval_policy = os.getenv("CODEX_APPROVAL_POLICY"),
  get_tokens = function(reason, previous_account_id)
    table.insert(record.token_calls, { reason = reason, previous_account_id = previous_account_id or vim.NIL })
    return tokens_by_reason[reason]
  end,
  on_approval = function(req)
    local decision = os.getenv("CODEX_APPROVAL_DECISION") or "accept"
    table.insert(record.approvals, { command = req.command, cwd = req.cwd, thread_id = req.threadId, decision = decision })
    return decision
  end,
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

local hook_answer = nil

local steps = {
  start = function()
    step("start", codex.start, function()
      return state().initialized
    end)
  end,
  -- Test hook: the server sends account/chatgptAuthTokens/refresh to the plugin right now.
  refresh_hook = function()
    step("refresh_hook", function()
      codex.client().request("codexTest/clientRequest", {
        method = "account/chatgptAuthTokens/refresh",
        params = { reason = "unauthorized", previousAccountId = "acct-hook" },
        timeout = 5,
      }, function(err, result)
        hook_answer = err and { error = err } or result
      end)
    end, function()
      return hook_answer ~= nil
    end, true)
    record.hook_answer = hook_answer
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
  ask = function()
    step("ask", function()
      vim.cmd("CodexAsk " .. (os.getenv("CODEX_PROMPT") or "hello"))
    end, function()
      local id = state().last_turn_id
      local turn = id and state().turns[id]
      return turn ~= nil and turn.status ~= "inProgress"
    end)
    local id = state().last_turn_id
    record.turn = id and state().turns[id] or vim.NIL
    record.statusline_after_ask = codex.statusline()
  end,
  -- :CodexResume with vim.ui.select answered by picking the first (newest) conversation.
  resume = function()
    local offered = nil
    vim.ui.select = function(items, opts, on_choice)
      offered = vim.tbl_map(function(t)
        return { id = t.id, preview = t.preview, label = opts.format_item(t) }
      end, items)
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
}
record.statusline = codex.statusline()
record.output = codex.output_lines()
codex.stop()
record.client_stopped = vim.wait(5000, function()
  return state().client_id == nil
end, 20)
save()
vim.cmd("qa!")
