-- runlock.lua: the claim of one run by one worker, so that any number of workers, on one host
-- or on several sharing the results folder, can run one grid and train each run once.
--
--   local runlock = require "harness.lua.runlock"
--   local ok, why = runlock.claim(lock_path, run_id, say)
--     -> true (the caller holds the run; runlock.release(lock_path) when it ends),
--        or false and why ("claimed by vm pid 812 since ... (3m ago): left to that worker")
--   (say(fmt, ...) reports a take-over)
--   runlock.duration(seconds) -> "45s", "12m", "2h05m"
--
-- A lock is a file "host=<name>\npid=<n>\nstart=<ISO time>\nepoch=<s>\n" created with
-- engine.sys.create_exclusive, which puts it in place whole and atomically (link of a private
-- file), so a reader never sees it empty or half written. A lock held by a live process, or by
-- a process on another host (whose liveness this host cannot see), is left to its holder and
-- named with its age. A lock whose holder is gone on this host is taken over: the take-over is
-- itself claimed with <lock>.takeover (the same primitive) and removes the lock only while its
-- text is still the one judged stale, so two workers taking over at once never remove the
-- lock that one of them has just made. A take-over guard lives for milliseconds; one whose
-- holder is gone (a worker killed inside that window) is named with the fix, never removed
-- behind another worker's back. An empty or unreadable lock is one written by an older
-- version that died between creating and writing it: it counts as held by a process that is
-- gone.
-- Non-goals: the run itself (lifecycle.lua), leases or heartbeats (a worker on another host
-- that died leaves its lock until a person deletes it, as the message says).

local sys = require "engine.sys"
local provenance = require "harness.lua.provenance"

local M = {}

M.TAKEOVER_EXT = ".takeover"

-- "45s", "12m", "2h05m": a lock's age, and every duration the harness prints
function M.duration(s)
  if s < 60 then return ("%ds"):format(math.floor(s + 0.5)) end
  if s < 3600 then return ("%dm"):format(math.floor(s / 60 + 0.5)) end
  local m = math.floor(s / 60 + 0.5)
  return ("%dh%02dm"):format(m // 60, m % 60)
end

local function lock_text()
  return ("host=%s\npid=%d\nstart=%s\nepoch=%d\n"):format(sys.hostname(), sys.pid(),
         provenance.now(), os.time())
end

-- The text of a lock file and its holder {host, pid, start, epoch} (fields nil when
-- unreadable); nil when there is no file.
local function read_lock(path)
  local f = io.open(path, "r")
  if not f then return nil, {} end
  local text = f:read("a") or ""
  f:close()
  local h = {}
  for k, v in text:gmatch("(%w+)=([^\n]*)") do h[k] = v end
  h.pid = math.tointeger(tonumber(h.pid))
  h.epoch = math.tointeger(tonumber(h.epoch))
  return text, h
end

local function describe(h)
  local age = h.epoch and M.duration(math.max(0, os.time() - h.epoch)) or "unknown"
  return ("%s pid %s since %s (%s ago)"):format(h.host or "?", tostring(h.pid), h.start or "?",
                                                age)
end

local function create(path, run_id)
  local ok, msg, why = sys.create_exclusive(path, lock_text())
  if ok then return true end
  if why ~= "exists" then
    error(("lifecycle: cannot create the lock of %s (%s); check that the results folder is "
           .. "writable"):format(run_id, msg), 0)
  end
  return false
end

-- Removes the lock at path if its text is still stale_text: true when this worker did (or the
-- lock had already gone), false and why when another worker's take-over is under way.
local function take_over(path, stale_text, run_id)
  local guard = path .. M.TAKEOVER_EXT
  if not create(guard, run_id) then
    local _, g = read_lock(guard)
    if g.host == sys.hostname() and g.pid and not sys.pid_alive(g.pid) then
      return false, ("its lock is stale, but the take-over %s by %s was left unfinished by a "
                     .. "worker that is gone: delete %s and %s"):format(guard, describe(g),
                     guard, path)
    end
    return false, "being taken over by another worker: left to it"
  end
  local text = read_lock(path)
  if text == stale_text then os.remove(path) end
  os.remove(guard)
  return true
end

function M.claim(path, run_id, say)
  for _ = 1, 3 do
    if create(path, run_id) then return true end
    local text, h = read_lock(path)
    if text then
      if h.host and h.host ~= sys.hostname() then
        return false, ("claimed by %s on another host: left to it (delete %s if that worker "
                       .. "is gone)"):format(describe(h), path)
      end
      if h.host and h.pid and sys.pid_alive(h.pid) then
        return false, ("claimed by %s: left to that worker"):format(describe(h))
      end
      local took, why = take_over(path, text, run_id)
      if not took then return false, why end
      say("taking over %s: its lock %s is held by %s, a process that is gone", run_id, path,
          h.host and describe(h) or "nobody (it is empty)")
    end
  end
  return false, "claimed by another worker that took the stale lock first"
end

function M.release(path)
  os.remove(path)
end

return M
