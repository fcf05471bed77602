-- Differences between Neovim 0.7 and 0.10+ in one place.

local M = {}

M.has_011 = vim.fn.has("nvim-0.11") == 1
M.has_010 = vim.fn.has("nvim-0.10") == 1

function M.value(v)
  if v == vim.NIL then
    return nil
  end
  return v
end

-- client:request (0.11+, method style; client.request is gone in 0.13) or client.request (0.7-0.10).
function M.request(client, method, params, handler)
  if M.has_011 then
    return client:request(method, params, handler)
  end
  return client.request(method, params, handler)
end

function M.notify_server(client, method, params)
  if M.has_011 then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

function M.is_stopped(client)
  if M.has_011 then
    return client:is_stopped()
  end
  return client.is_stopped()
end

function M.stop(client, force)
  if M.has_011 then
    return client:stop(force)
  end
  return client.stop(force)
end

-- Start the client without attaching any buffer: vim.lsp.start{attach=false} on 0.11+,
-- vim.lsp.start_client before (0.10's vim.lsp.start would attach the current buffer).
function M.start_client(config)
  if M.has_011 then
    return vim.lsp.start(config, {
      attach = false,
      reuse_client = function()
        return false -- the plugin keeps its own client id and restarts a dead one itself
      end,
    })
  end
  return vim.lsp.start_client(config)
end

-- Server->client requests: on 0.10+ the rpc layer runs the handler inside a coroutine, so the
-- handler may yield and be resumed by a callback (an asynchronous answer; the editor loop keeps
-- running). 0.7 calls handlers outside any coroutine and needs the answer on return: there we
-- wait with vim.wait, bounded by timeout_ms.
--
-- start(done) begins the work and calls done(result, err) once, now or later.
-- Returns result, err for the rpc layer.
function M.await(start, timeout_ms)
  local co = coroutine.running()
  local finished, result, err = false, nil, nil
  local waiting = false
  local function done(r, e)
    if finished then
      return
    end
    finished, result, err = true, r, e
    if waiting then
      vim.schedule(function()
        coroutine.resume(co)
      end)
    end
  end
  local ok, problem = pcall(start, done)
  if not ok then
    done(nil, { code = -32603, message = tostring(problem) })
  end
  if finished then
    return result, err
  end
  if M.has_010 and co and coroutine.isyieldable() then
    waiting = true
    local timer = vim.defer_fn(function()
      done(nil, { code = -32603, message = "no answer within " .. timeout_ms .. " ms" })
    end, timeout_ms)
    coroutine.yield()
    pcall(function()
      timer:stop()
      timer:close()
    end)
    return result, err
  end
  vim.wait(timeout_ms, function()
    return finished
  end, 10)
  if not finished then
    return nil, { code = -32603, message = "no answer within " .. timeout_ms .. " ms" }
  end
  return result, err
end

-- Keys the user typed that have not been read yet (typeahead). Taking them out before a prompt
-- and putting them back after it means only keys pressed once the prompt is up can answer it.
function M.take_typeahead()
  local keys = {}
  while vim.fn.getchar(1) ~= 0 do
    local c = vim.fn.getcharstr()
    table.insert(keys, c)
  end
  return table.concat(keys)
end

function M.give_back_typeahead(keys)
  if keys and keys ~= "" then
    vim.api.nvim_feedkeys(keys, "nt", false)
  end
end

function M.open_url(url)
  if vim.ui and vim.ui.open then
    pcall(vim.ui.open, url)
  end
end

return M
