-- :checkhealth codex_lsp — the server binary and its version, the sandbox backend, the auth state.

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

-- Run argv with a time limit; returns trimmed stdout or nil, reason.
local function run(argv, timeout_ms)
  local out = {}
  local ok, job = pcall(vim.fn.jobstart, argv, {
    stdout_buffered = true,
    on_stdout = function(_, data)
      out = data
    end,
  })
  if not ok or job <= 0 then
    return nil, "cannot execute " .. argv[1]
  end
  local status = vim.fn.jobwait({ job }, timeout_ms)[1]
  if status == -1 then
    vim.fn.jobstop(job)
    return nil, "timed out after " .. timeout_ms .. " ms"
  end
  if status ~= 0 then
    return nil, "exited with status " .. status
  end
  return vim.trim(table.concat(out, "\n"))
end

local function check_server(report, codex)
  local cmd = codex.config and codex.config.cmd
  if not cmd then
    report.error("setup() was not called", { "require('codex_lsp').setup({ cmd = {...}, get_tokens = ... })" })
    return
  end
  if vim.fn.executable(cmd[1]) ~= 1 then
    report.error("server command not found: " .. cmd[1], { "install codex-lsp (pip install codex-lsp) or set cmd" })
    return
  end
  local argv = vim.deepcopy(cmd)
  table.insert(argv, "--version")
  local version, problem = run(argv, 10000)
  if version then
    report.ok("server found: " .. table.concat(cmd, " ") .. " (" .. version .. ")")
  else
    report.error("server found but `--version` failed: " .. problem, { "run the command by hand to see why" })
  end
end

-- Ask the running server (2 s budget); nil when none is running.
local function server_status(codex)
  local client = codex.client()
  if not client or not codex.state.initialized then
    return nil
  end
  local response = client.request_sync("codex/status", vim.empty_dict(), 2000)
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
    report.info("auth state: server not running (run :CodexLogin)")
    return
  end
  local mode = (status and status.authMode) or state.auth_mode
  if mode and mode ~= vim.NIL then
    local account = state.account
    local who = account and account.email and account.email ~= vim.NIL and (" as " .. account.email) or ""
    report.ok("auth state: signed in (" .. mode .. ")" .. who)
  else
    report.warn("auth state: signed out", { "run :CodexLogin" })
  end
  if not codex.config.get_tokens then
    report.warn("no get_tokens function: :CodexLogin and token refresh cannot work",
      { "setup({ get_tokens = function(reason, previous_account_id) ... end })" })
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
