-- :checkhealth codex_lsp — starts the server for real (initialize, then shutdown) and reports its
-- version or the reason it failed, the sandbox backend and the sign-in state.

local M = {}

-- 0.7 has require("health").report_*; 0.8/0.9 vim.health.report_*; 0.10+ vim.health.start/ok/...
local function reporter()
  local h = vim.health or require("health")
  return {
    start = h.start or h.report_start,
    ok = h.ok or h.report_ok,
    info = h.info or h.report_info,
    warn = h.warn or h.report_warn,
    error = h.error or h.report_error,
  }
end

local function frame(tbl)
  local body = vim.fn.json_encode(tbl)
  return "Content-Length: " .. #body .. "\r\n\r\n" .. body
end

-- Start `cmd`, send initialize, wait (bounded) for the answer or the exit. Returns
-- { result = initialize result } or { error = reason }.
function M.probe(cmd, env, cwd, timeout_ms)
  local out, err, exit_code = "", {}, nil
  local opts = {
    cwd = cwd,
    on_stdout = function(_, data)
      out = out .. table.concat(data, "\n")
    end,
    on_stderr = function(_, data)
      vim.list_extend(err, data)
    end,
    on_exit = function(_, code)
      exit_code = code
    end,
  }
  if env then
    opts.env = env
  end
  local ok, job = pcall(vim.fn.jobstart, cmd, opts)
  if not ok or job <= 0 then
    return { error = "cannot run " .. table.concat(cmd, " ") }
  end
  vim.fn.chansend(job, frame({ jsonrpc = "2.0", id = 1, method = "initialize",
    params = { processId = vim.fn.getpid(), rootUri = vim.NIL, capabilities = vim.empty_dict(),
      initializationOptions = { experimentalApi = true } } }))
  local result
  vim.wait(timeout_ms, function()
    local body = out:match("\r\n\r\n(.*)$")
    if body then
      local decoded_ok, decoded = pcall(vim.fn.json_decode, body)
      if decoded_ok and type(decoded) == "table" then
        result = decoded
        return true
      end
    end
    return exit_code ~= nil
  end, 20)
  if result then
    vim.fn.chansend(job, frame({ jsonrpc = "2.0", id = 2, method = "shutdown" }))
    vim.fn.chansend(job, frame({ jsonrpc = "2.0", method = "exit" }))
    if vim.fn.jobwait({ job }, 3000)[1] == -1 then
      vim.fn.jobstop(job)
    end
    if result.error then
      return { error = "initialize failed: " .. tostring(result.error.message) }
    end
    return { result = result.result }
  end
  if exit_code == nil then
    vim.fn.jobstop(job)
    return { error = "no answer to initialize within " .. timeout_ms .. " ms" }
  end
  local lines = {}
  for _, l in ipairs(err) do
    if l ~= "" then
      table.insert(lines, l)
    end
  end
  local reason = table.concat(vim.list_slice(lines, math.max(1, #lines - 2)), "\n")
  return { error = "the server exited with status " .. exit_code .. (reason ~= "" and (": " .. reason) or "") }
end

local function check_server(report, codex)
  if not codex.config then
    report.error("setup() was not called", { "require('codex_lsp').setup({ get_tokens = ... })" })
    return nil
  end
  local cmd = codex.user_cmd()
  if vim.fn.executable(cmd[1]) ~= 1 then
    report.error("server command not found: " .. cmd[1],
      { "install codex-lsp (pip install codex-lsp), or set cmd in setup() / vim.lsp.config('codex_lsp', { cmd = ... })" })
    return nil
  end
  local probe = M.probe(cmd, codex.config.cmd_env and vim.tbl_extend("force", vim.fn.environ(), codex.config.cmd_env) or nil,
    codex.config.root_dir or vim.loop.cwd(), 15000)
  if probe.error then
    report.error("the server does not start: " .. probe.error, { "fix the problem above (often ~/.codex/config.toml), then run :checkhealth codex_lsp again" })
    return nil
  end
  local info = probe.result.serverInfo or {}
  report.ok("server starts: " .. table.concat(cmd, " ") .. " (" .. tostring(info.name) .. " " .. tostring(info.version) .. ")")
  local caps = probe.result.capabilities or {}
  return caps.experimental and caps.experimental.codex or {}
end

-- Ask the running server (2 s budget); nil when none is running.
local function server_status(codex)
  local client = codex.client()
  if not client or not codex.state.initialized then
    return nil
  end
  local response
  if vim.fn.has("nvim-0.11") == 1 then
    response = client:request_sync("codex/status", vim.empty_dict(), 2000)
  else
    response = client.request_sync("codex/status", vim.empty_dict(), 2000)
  end
  return response and response.result or nil
end

local function check_sandbox(report, status)
  local backend = status and status.sandboxBackend
  if backend and backend ~= "none" then
    report.ok("sandbox backend available: " .. backend)
  elseif backend == "none" then
    report.warn("no sandbox backend available: commands run unsandboxed or are refused",
      { "install bubblewrap (apt install bubblewrap), or use a kernel with Landlock" })
  elseif vim.fn.executable("bwrap") == 1 then
    report.ok("sandbox backend available: bwrap (" .. vim.fn.exepath("bwrap") .. ")")
  else
    report.warn("bwrap not found; the server falls back to Landlock if the kernel has it",
      { "install bubblewrap (apt install bubblewrap)" })
  end
end

local function check_auth(report, codex, status)
  local state = codex.state
  if not state.initialized then
    report.info("sign-in: the plugin has not started the server yet (run :CodexLogin)")
  else
    local mode = (status and status.authMode) or state.auth_mode
    if mode and mode ~= vim.NIL then
      local account = state.account
      local who = account and account.email and account.email ~= vim.NIL and (" as " .. account.email) or ""
      report.ok("signed in (" .. mode .. ")" .. who)
    else
      report.warn("signed out", { "run :CodexLogin" })
    end
  end
  if codex.config and not codex.config.get_tokens then
    report.info("no get_tokens function: sign in with :CodexLogin device or :CodexLogin api-key")
  end
  local exits = state.exits or {}
  local last = exits[#exits]
  if last and last.code ~= 0 then
    report.warn("the server last stopped with exit " .. tostring(last.code) .. (last.reason ~= "" and (": " .. last.reason) or ""))
  end
end

function M.check()
  local report = reporter()
  local codex = require("codex_lsp")
  report.start("codex_lsp")
  check_server(report, codex)
  local status = server_status(codex)
  check_sandbox(report, status)
  check_auth(report, codex, status)
end

return M
