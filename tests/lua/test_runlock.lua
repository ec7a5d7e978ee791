-- test_runlock.lua: the run claims (harness/lua/runlock.lua) that let several workers share one
-- grid: a live holder keeps its run, another host's lock is left alone, a dead holder's lock
-- (or an empty one) is taken over, an unfinished take-over is named with its fix, and two
-- processes racing over the same stale locks claim each run exactly once, and a lock is never
-- seen half written.
-- Run as `./mixup tests/lua/test_runlock.lua [filter]`.
local check = require "tests.lua.check"
local runlock = require "harness.lua.runlock"
local sys = require "engine.sys"

local EXE = check.host_exe(arg)
local suite = check.suite(...)

local root = os.tmpname()
os.remove(root)
assert(sys.mkdir_p(root))

local function dead_pid()
  local p = assert(io.popen("sh -c 'echo $$'"))
  local pid = math.tointeger(tonumber(p:read("l")))
  p:close()
  return pid
end

local function plant(path, host, pid, age_s)
  check.spit(path, ("host=%s\npid=%d\nstart=2026-01-01T00:00:00Z\nepoch=%d\n")
             :format(host, pid, os.time() - age_s))
end

-- says into a list, for the checks
local function recorder()
  local lines = {}
  return lines, function(fmt, ...) lines[#lines + 1] = fmt:format(...) end
end

suite:test("claim_hold_release", function()
  local lock = root .. "/a.h5.lock"
  local lines, say = recorder()
  check.eq(runlock.claim(lock, "a", say), true, "claimed")
  local text = check.slurp(lock)
  check.truthy(text:find("host=" .. sys.hostname() .. "\npid=" .. sys.pid() .. "\n", 1, true),
               "holder written: " .. text)
  -- this very process stands for the other live worker
  local ok, why = runlock.claim(lock, "a", say)
  check.eq(ok, false, "a live holder keeps it")
  check.truthy(why:find("claimed by " .. sys.hostname() .. " pid " .. sys.pid(), 1, true)
               and why:find("left to that worker", 1, true), why)
  check.eq(check.slurp(lock), text, "its lock untouched")
  check.eq(#lines, 0, "nothing said")
  runlock.release(lock)
  check.eq(sys.exists(lock), false, "released")
end)

suite:test("other_host_left_alone", function()
  local lock = root .. "/b.h5.lock"
  plant(lock, "elsewhere.invalid", 4242, 7200)
  local ok, why = runlock.claim(lock, "b", function() end)
  check.eq(ok, false, "not taken")
  check.truthy(why:find("elsewhere.invalid pid 4242", 1, true) and why:find("2h00m ago", 1, true)
               and why:find("delete " .. lock, 1, true), why)
  check.truthy(sys.exists(lock), "kept")
end)

suite:test("dead_holder_and_empty_lock_taken_over", function()
  local lock = root .. "/c.h5.lock"
  local pid = dead_pid()
  plant(lock, sys.hostname(), pid, 30)
  local lines, say = recorder()
  check.eq(runlock.claim(lock, "c", say), true, "taken over")
  check.truthy(#lines == 1 and lines[1]:find("taking over c: ", 1, true)
               and lines[1]:find("pid " .. pid, 1, true), table.concat(lines, "\n"))
  check.truthy(check.slurp(lock):find("pid=" .. sys.pid(), 1, true), "now this worker's")
  check.eq(sys.exists(lock .. runlock.TAKEOVER_EXT), false, "no guard left")
  runlock.release(lock)
  check.spit(lock, "")
  lines, say = recorder()
  check.eq(runlock.claim(lock, "c", say), true, "empty lock taken over")
  check.truthy(lines[1] and lines[1]:find("nobody (it is empty)", 1, true),
               table.concat(lines, "\n"))
  runlock.release(lock)
end)

suite:test("unfinished_takeover", function()
  local lock = root .. "/d.h5.lock"
  local guard = lock .. runlock.TAKEOVER_EXT
  plant(lock, sys.hostname(), dead_pid(), 30)
  -- a take-over under way in a live worker (this process stands for it): left to it
  plant(guard, sys.hostname(), sys.pid(), 0)
  local ok, why = runlock.claim(lock, "d", function() end)
  check.eq(ok, false, "left to the live take-over")
  check.truthy(why:find("being taken over by another worker", 1, true), why)
  -- one left by a worker killed inside it: named with the fix, nothing removed
  plant(guard, sys.hostname(), dead_pid(), 60)
  ok, why = runlock.claim(lock, "d", function() end)
  check.eq(ok, false, "not taken")
  check.truthy(why:find("left unfinished", 1, true)
               and why:find("delete " .. guard .. " and " .. lock, 1, true), why)
  check.truthy(sys.exists(lock) and sys.exists(guard), "both kept")
  os.remove(guard)
  check.eq(runlock.claim(lock, "d", function() end), true, "claimed once the guard is gone")
  runlock.release(lock)
end)

-- Two worker processes, started together (each waits for the other to be ready), each try to
-- claim the same N stale locks and hold what they get (as a worker holds a run while it
-- trains, so neither exits before both are done: the locks of one that had exited would be
-- stale); each writes the names it claimed.
local N = 1000
local WORKER = [[
local runlock = require "harness.lua.runlock"
local sys = require "engine.sys"
local dir, out, me, other = arg[1], arg[2], arg[3], arg[4]
assert(io.open(dir .. "/ready" .. me, "w")):close()
while not sys.exists(dir .. "/ready" .. other) do end
local f = assert(io.open(out, "w"))
for i = 1, %d do
  local id = ("r%%04d"):format(i)
  if runlock.claim(("%%s/%%s.h5.lock"):format(dir, id), id, function() end) then
    f:write(id, "\n")
  end
end
f:close()
assert(io.open(dir .. "/done" .. me, "w")):close()
while not sys.exists(dir .. "/done" .. other) do end
]]

local function race(dir)
  local script = root .. "/worker.lua"
  check.spit(script, WORKER:format(N))
  local cmd = ("%s %s %s %s/w%%d.txt %%d %%d"):format(EXE, script, dir, dir)
  local p = assert(io.popen(("(%s) & (%s) & wait; echo end"):format(cmd:format(1, 1, 2),
                                                                     cmd:format(2, 2, 1))))
  check.eq(p:read("a"):match("end"), "end", "both workers ran")
  p:close()
  local count, by = {}, {0, 0}
  for w = 1, 2 do
    for id in check.slurp(("%s/w%d.txt"):format(dir, w)):gmatch("r%d+") do
      count[id] = (count[id] or 0) + 1
      by[w] = by[w] + 1
    end
  end
  for i = 1, N do
    local id = ("r%04d"):format(i)
    check.eq(count[id], 1, id .. " claimed by exactly one worker")
  end
  return by
end

-- A lock is never seen empty or half written: one process creates and removes a lock as fast
-- as it can while this one reads it (an O_EXCL create followed by a write, as before, showed
-- it empty to a reader now and then, and the reader took it for a dead worker's).
local CHURN = [[
local sys = require "engine.sys"
local lock, out = arg[1], arg[2]
local f = assert(io.open(arg[3], "r"))
local text = f:read("a")
f:close()
for _ = 1, 20000 do
  assert(sys.create_exclusive(lock, text))
  os.remove(lock)
end
assert(io.open(out, "w")):close()
]]

suite:test("lock_never_seen_partial", function()
  local dir = root .. "/churn"
  assert(sys.mkdir_p(dir))
  local script, lock, out = dir .. "/churn.lua", dir .. "/x.h5.lock", dir .. "/finished"
  check.spit(script, CHURN)
  local text = ("host=%s\npid=1\nstart=2026-01-01T00:00:00Z\nepoch=0\n"):format(sys.hostname())
  check.spit(dir .. "/text", text)
  local p = assert(io.popen(("%s %s %s %s %s/text"):format(EXE, script, lock, out, dir)))
  local seen, partial = 0, 0
  while not sys.exists(out) do
    local f = io.open(lock, "r")
    if f then
      local got = f:read("a")
      f:close()
      if got == text then seen = seen + 1 else partial = partial + 1 end
    end
  end
  p:close()
  print(("  %d reads saw the whole lock, %d saw it partial"):format(seen, partial))
  check.truthy(seen > 0, "the reader met the writer's locks")
  check.eq(partial, 0, "reads of a partial lock")
end)

suite:test("two_processes_stale_locks", function()
  local dir = root .. "/stale"
  assert(sys.mkdir_p(dir))
  local pid = dead_pid()
  for i = 1, N do plant(("%s/r%04d.h5.lock"):format(dir, i), sys.hostname(), pid, 30) end
  local by = race(dir)
  print(("  stale locks: %d and %d take-overs"):format(by[1], by[2]))
  for _, name in ipairs(sys.listdir(dir)) do
    check.eq(name:find(runlock.TAKEOVER_EXT, 1, true), nil, "no guard left: " .. name)
    check.eq(name:find(".new", 1, true), nil, "no private file left: " .. name)
  end
end)

if os.getenv("KEEP_TMP") ~= "1" then assert(sys.remove_tree(root)) end
suite:finish()
