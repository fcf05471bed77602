-- The chat window: one scratch buffer (`codex://chat`) with the conversation, shown in a split that
-- :Codex toggles. Appends follow the end in every window whose cursor was on the last line.

local M = {}

local buf = nil
M.height = 15

local function valid(b)
  return b and vim.api.nvim_buf_is_valid(b)
end

function M.buffer()
  if valid(buf) then
    return buf
  end
  buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, "codex://chat")
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "hide"
  vim.bo[buf].swapfile = false
  vim.bo[buf].filetype = "markdown"
  vim.bo[buf].modifiable = false
  return buf
end

function M.windows()
  local wins = {}
  if not valid(buf) then
    return wins
  end
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_buf(win) == buf then
      table.insert(wins, win)
    end
  end
  return wins
end

function M.is_open()
  return #M.windows() > 0
end

-- Open the chat split (without moving the cursor unless focus is true); returns its window.
function M.open(focus)
  local existing = M.windows()[1]
  if existing then
    if focus then
      vim.api.nvim_set_current_win(existing)
    end
    return existing
  end
  local from = vim.api.nvim_get_current_win()
  vim.cmd("botright " .. M.height .. "split")
  local win = vim.api.nvim_get_current_win()
  vim.api.nvim_win_set_buf(win, M.buffer())
  vim.wo[win].wrap = true
  vim.wo[win].number = false
  vim.wo[win].winfixheight = true
  vim.wo[win].statusline = "%{v:lua.require'codex_lsp'.statusline()}"
  local last = vim.api.nvim_buf_line_count(buf)
  vim.api.nvim_win_set_cursor(win, { last, 0 })
  if not focus and vim.api.nvim_win_is_valid(from) then
    vim.api.nvim_set_current_win(from)
  end
  return win
end

function M.close()
  for _, win in ipairs(M.windows()) do
    if #vim.api.nvim_list_wins() > 1 then
      vim.api.nvim_win_close(win, false)
    end
  end
end

-- :Codex — open and enter the chat window; from inside it, close it.
function M.toggle()
  if vim.api.nvim_get_current_buf() == buf then
    M.close()
  else
    M.open(true)
  end
end

-- Append text (may contain newlines) at the end, continuing the last line.
function M.append(text)
  if text == nil or text == "" then
    return
  end
  local b = M.buffer()
  local last = vim.api.nvim_buf_line_count(b)
  local following = {}
  for _, win in ipairs(M.windows()) do
    following[win] = vim.api.nvim_win_get_cursor(win)[1] >= last
  end
  local pieces = vim.split(text, "\n", { plain = true })
  local tail = vim.api.nvim_buf_get_lines(b, last - 1, last, false)[1] or ""
  pieces[1] = tail .. pieces[1]
  vim.bo[b].modifiable = true
  vim.api.nvim_buf_set_lines(b, last - 1, last, false, pieces)
  vim.bo[b].modifiable = false
  local new_last = vim.api.nvim_buf_line_count(b)
  for win, follow in pairs(following) do
    if follow and vim.api.nvim_win_is_valid(win) then
      vim.api.nvim_win_set_cursor(win, { new_last, 0 })
    end
  end
end

-- Start a new paragraph: make sure the next text begins on a fresh line.
function M.newline()
  local b = M.buffer()
  local last = vim.api.nvim_buf_line_count(b)
  local tail = vim.api.nvim_buf_get_lines(b, last - 1, last, false)[1] or ""
  if tail ~= "" then
    M.append("\n")
  end
end

function M.lines()
  return vim.api.nvim_buf_get_lines(M.buffer(), 0, -1, false)
end

function M.clear()
  local b = M.buffer()
  vim.bo[b].modifiable = true
  vim.api.nvim_buf_set_lines(b, 0, -1, false, { "" })
  vim.bo[b].modifiable = false
end

-- Buffer-local keys of the chat window (answering the pending approval etc.).
function M.map(lhs, rhs, desc)
  vim.keymap.set("n", lhs, rhs, { buffer = M.buffer(), nowait = true, silent = true, desc = desc })
end

return M
