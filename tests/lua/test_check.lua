-- test_check.lua: the test frameworks count honestly: a skip is reported with its reason and
-- counted apart from passes, and a name filter that selects no test fails (tests/lua/check.lua
-- and tests/engine/testlib.c, through child processes). Run as `./mixup tests/lua/test_check.lua`.
local check = require "tests.lua.check"
local sys = require "engine.sys"

local suite = check.suite(...)

local EXE = check.host_exe(arg)
local dir = ("/tmp/test_check.%d"):format(sys.pid())
assert(sys.mkdir_p(dir))

-- Runs cmd; returns its output and whether it exited 0.
local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok == true
end

local SCRIPT = [[
local check = require "tests.lua.check"
local suite = check.suite(...)
suite:test("passes", function() check.eq(1, 1, "one") end)
suite:test("cannot_run_here", function()
  check.skip("the frob tool is absent (apt-get install frob)")
end)
suite:finish()
]]

suite:test("lua_skip_counted_apart", function()
  check.spit(dir .. "/t.lua", SCRIPT)
  local out, ok = run(("%s %s/t.lua"):format(EXE, dir))
  check.truthy(ok, "a skip is no failure:\n" .. out)
  check.truthy(out:find("skip cannot_run_here: the frob tool is absent (apt-get install frob)", 1,
               true), "the reason:\n" .. out)
  check.truthy(out:find("\n1 passed, 0 failed, 1 skipped\n", 1, true), "the counts:\n" .. out)
end)

suite:test("lua_filter_selecting_nothing_fails", function()
  local out, ok = run(("%s %s/t.lua nosuchtest"):format(EXE, dir))
  check.eq(ok, false, "non-zero exit status")
  check.truthy(out:find("FAIL filter 'nosuchtest': it selects no test", 1, true), out)
  check.truthy(out:find("0 passed, 1 failed, 0 skipped", 1, true), out)
end)

suite:test("c_filter_selecting_nothing_fails", function()
  local bin = "build/tests/test_rng"
  if not sys.exists(bin) then check.skip(bin .. " not built; run `make test`") end
  local out, ok = run(bin .. " nosuchtest")
  check.eq(ok, false, "non-zero exit status")
  check.truthy(out:find("FAIL filter 'nosuchtest': it selects no test", 1, true), out)
  out, ok = run(bin)
  check.truthy(ok and out:find(" passed, 0 failed, 0 skipped\n", 1, true), "closing line: " .. out)
end)

assert(sys.remove_tree(dir))
suite:finish()
