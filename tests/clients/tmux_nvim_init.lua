-- init.lua of the Neovim that test_nvim_tmux.py runs in a real terminal (tmux): the plugin with its
-- default approval UI, and a timer that writes what the plugin knows to CODEX_DUMP_FILE.
vim.opt.rtp:prepend(os.getenv("CODEX_NVIM_DIR"))
vim.o.swapfile = false
vim.o.shortmess = vim.o.shortmess .. "I"
local codex = require("codex_lsp").setup({
  cmd = vim.fn.json_decode(os.getenv("CODEX_SERVER_CMD")),
  root_dir = os.getenv("CODEX_WORKSPACE"),
  approval_policy = "untrusted",
  get_tokens = function(reason)
    return vim.fn.json_decode(os.getenv("CODEX_TOKENS"))[reason] or false
  end,
})
local timer = vim.loop.new_timer()
timer:start(100, 100, vim.schedule_wrap(function()
  local s = codex.state
  local id = s.last_turn_id
  local dump = {
    initialized = s.initialized,
    auth_mode = s.auth_mode or vim.NIL,
    pending_approval = s.pending_approval and s.pending_approval.kind or vim.NIL,
    approvals = s.approvals,
    turn = id and s.turns[id] or vim.NIL,
    errors = s.errors,
    mode = vim.api.nvim_get_mode().mode,
    lines = vim.api.nvim_buf_get_lines(vim.fn.bufnr(os.getenv("CODEX_WORKSPACE") .. "/notes.txt"), 0, -1, false),
  }
  local f = io.open(os.getenv("CODEX_DUMP_FILE") .. ".tmp", "w")
  if f then
    f:write(vim.fn.json_encode(dump))
    f:close()
    os.rename(os.getenv("CODEX_DUMP_FILE") .. ".tmp", os.getenv("CODEX_DUMP_FILE"))
  end
end))
