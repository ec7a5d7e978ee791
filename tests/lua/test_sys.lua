-- test_sys.lua: engine.sys (harness/bind/lua_sys.c), the filesystem and clock services the Lua
-- side uses instead of os.execute. Run as `./mixup tests/lua/test_sys.lua [filter]`.
local sys = require "engine.sys"
local check = require "tests.lua.check"

local suite = check.suite(...)
local root = ("/tmp/test_sys.%d"):format(sys.pid())
assert(sys.remove_tree(root))

suite:test("md5", function()
  -- RFC 1321 appendix A.5
  check.eq(sys.md5(""), "d41d8cd98f00b204e9800998ecf8427e", "empty")
  check.eq(sys.md5("message digest"), "f96b697d7cb7938d525a2f31aaf161d0", "message digest")
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  local s = ("0123456789abcdef"):rep(10000) .. "tail" -- several 64 KiB reads
  f:write(s)
  f:close()
  check.eq(sys.md5_file(path), sys.md5(s), "a file as its bytes")
  os.remove(path)
  local h, why = sys.md5_file(path)
  check.eq(h, nil, "missing file")
  check.truthy(why:find("md5_file: " .. path .. ": No such file", 1, true), tostring(why))
end)

suite:test("mkdir_p", function()
  local deep = root .. "/a/b/c"
  check.eq(sys.exists(deep), false, "absent before")
  check.eq(sys.mkdir_p(deep), true, "created")
  check.eq(sys.isdir(deep), true, "is a folder")
  check.eq(sys.mkdir_p(deep), true, "again: already there is success")
  check.eq(sys.mkdir_p(root .. "/a/b/c/"), true, "trailing slash")
end)

suite:test("mkdir_p_under_a_file", function()
  check.spit(root .. "/file", "x")
  local ok, msg = sys.mkdir_p(root .. "/file/sub")
  check.eq(ok, nil, "fails")
  check.truthy(msg:find("mkdir_p: " .. root .. "/file", 1, true), "names the path: " .. msg)
  check.truthy(msg:find("Not a directory", 1, true), "gives the reason: " .. msg)
  check.eq(sys.isdir(root .. "/file"), false, "a file is no folder")
  check.eq(sys.exists(root .. "/file"), true, "but exists")
end)

suite:test("listdir_sorted", function()
  local d = root .. "/list"
  assert(sys.mkdir_p(d))
  for _, n in ipairs {"b.h5", "a.h5", "c", "B"} do check.spit(d .. "/" .. n, "") end
  local names = sys.listdir(d)
  check.eq(table.concat(names, ","), "B,a.h5,b.h5,c", "byte order")
  check.eq(#sys.listdir(root .. "/a/b/c"), 0, "empty folder")
  local none, msg = sys.listdir(root .. "/nope")
  check.eq(none, nil, "missing folder")
  check.truthy(msg:find("No such file", 1, true), msg)
end)

suite:test("remove_tree", function()
  check.eq(sys.remove_tree(root), true, "removed")
  check.eq(sys.exists(root), false, "gone")
  check.eq(sys.remove_tree(root), true, "removing nothing is success")
  check.raises(function() sys.remove_tree("/") end, "refusing", "root refused")
end)

suite:test("clock_and_process", function()
  local t0 = sys.clock()
  local t1 = sys.clock()
  check.truthy(t1 >= t0 and t0 > 0, "monotonic")
  check.truthy(math.type(sys.pid()) == "integer" and sys.pid() > 0, "pid")
  check.truthy(#sys.hostname() > 0, "hostname")
  check.eq(type(sys.isatty(1)), "boolean", "isatty")
  local info = sys.build_info()
  check.truthy(info.compiler:match("^gcc ") or info.compiler:match("^clang "), info.compiler)
  check.truthy(info.blas:find("OpenBLAS", 1, true), info.blas)
end)

suite:test("create_exclusive", function()
  assert(sys.mkdir_p(root))
  local p = root .. "/run.lock"
  check.eq(sys.create_exclusive(p, "host=a\npid=1\n"), true, "first claim")
  check.eq(check.slurp(p), "host=a\npid=1\n", "text written")
  local ok, msg, why = sys.create_exclusive(p, "host=b\n")
  check.eq(ok, nil, "second claim refused")
  check.eq(why, "exists", "because it exists")
  check.truthy(msg:find("create_exclusive: " .. p, 1, true), "names the path: " .. msg)
  check.eq(check.slurp(p), "host=a\npid=1\n", "the holder's text kept")
  check.eq(table.concat(sys.listdir(root), " "), "run.lock", "no private file left behind")
  ok, msg, why = sys.create_exclusive(root .. "/nope/run.lock", "x")
  check.eq(why, "error", "missing folder: another reason")
  check.truthy(msg:find("No such file", 1, true), msg)
end)

suite:test("pid_alive", function()
  check.eq(sys.pid_alive(sys.pid()), true, "this process")
  check.eq(sys.pid_alive(1), true, "init")
  -- a child that has exited and been reaped: its pid is free (until reused, unlikely here)
  local p = assert(io.popen("sh -c 'echo $$'"))
  local child = math.tointeger(tonumber(p:read("l")))
  p:close()
  check.eq(sys.pid_alive(child), false, "a reaped child " .. tostring(child))
  check.raises(function() sys.pid_alive(0) end, "not a process id", "pid 0")
end)

suite:finish()
