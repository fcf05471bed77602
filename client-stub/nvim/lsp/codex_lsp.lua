-- Neovim 0.11+ config for the codex-lsp server: `vim.lsp.config("codex_lsp", { cmd = {...} })`
-- overrides it, and the plugin (require("codex_lsp")) starts the server from it. No buffer is ever
-- attached: `filetypes = {}` makes `vim.lsp.enable("codex_lsp")` match none, so the server is
-- started only by the Codex commands (:Codex, :CodexAsk, :CodexLogin, ...).
return {
  cmd = { "codex-lsp" },
  filetypes = {},
  init_options = { experimentalApi = true },
}
