-- test_cli.lua: the command-line parser of the Lua tools (harness/lua/cli.lua): a normal parse,
-- each kind of usage error (one line naming the tool, then the usage line), --help, and the
-- tools' use of it through the host (no traceback, non-zero exit status).
-- Run as `./mixup tests/lua/test_cli.lua [filter]`.
local sys = require "engine.sys"
local cli = require "harness.lua.cli"
local check = require "tests.lua.check"

local suite = check.suite(...)
local HOST = arg and arg[-1] or "./mixup"
local root = ("/tmp/test_cli.%d"):format(sys.pid())
assert(sys.remove_tree(root))
assert(sys.mkdir_p(root))

local function even(s)
  local n = math.tointeger(tonumber(s))
  if n and n % 2 == 0 then return n end
  return nil
end

local SPEC = {
  tool = "demo.lua",
  command = "mixup demo.lua",
  positional = {{"name", "NAME", pattern = "^%a+$", expect = "letters"},
                {"extra", "EXTRA", required = false}},
  options = {
    {"scale", "S", required = true},
    {"threads", "N", type = "integer", min = 1},
    {"out", "DIR", default = "results"},
    {"pair", "K", type = even, expect = "an even integer"},
    {"no-draw"},
  },
  filters = "axis=id",
}
local USAGE = "usage: mixup demo.lua NAME [EXTRA] --scale S [--threads N] [--out DIR] "
              .. "[--pair K] [--no-draw] [axis=id ...]"

-- args must raise a usage error whose text is exactly "demo.lua: <want>\n<usage line>".
local function rejects(args, want)
  local ok, err = pcall(cli.parse, SPEC, args)
  check.eq(ok, false, table.concat(args, " ") .. ": raises")
  check.truthy(cli.is_usage_error(err), "a usage error object: " .. tostring(err))
  check.eq(tostring(err), "demo.lua: " .. want .. "\n" .. USAGE, "message")
end

suite:test("usage_line", function()
  check.eq(cli.usage(SPEC), USAGE, "usage")
end)

suite:test("normal_parse", function()
  local o = cli.parse(SPEC, {"net=a", "abc", "--scale", "smoke", "--threads", "3", "seed=1,2",
                             "--no-draw", "--pair", "4", "more"})
  check.eq(o.name, "abc", "positional")
  check.eq(o.extra, "more", "second positional")
  check.eq(o.scale, "smoke", "string option")
  check.eq(o.threads, 3, "integer option")
  check.eq(math.type(o.threads), "integer", "an integer, not a string")
  check.eq(o.pair, 4, "custom type")
  check.eq(o.no_draw, true, "flag, '-' as '_'")
  check.eq(o.out, "results", "default")
  check.eq(#o.filters, 2, "filters")
  check.eq(o.filters[1], "net=a", "filters in order")
  check.eq(o.filters[2], "seed=1,2", "filters in order")
end)

suite:test("defaults_when_absent", function()
  local o = cli.parse(SPEC, {"abc", "--scale", "x"})
  check.eq(o.no_draw, false, "absent flag is false")
  check.eq(o.threads, nil, "absent option without default")
  check.eq(o.extra, nil, "optional positional")
  check.eq(#o.filters, 0, "no filters")
end)

suite:test("unknown_option", function()
  rejects({"abc", "--scale", "x", "--bogus"}, "unknown option '--bogus'")
  rejects({"abc", "--scale", "x", "-v"}, "unknown option '-v'")
  rejects({"abc", "--scale=x"}, "unknown option '--scale=x'")
end)

suite:test("missing_value", function()
  rejects({"abc", "--scale"}, "option --scale needs a value (S)")
  rejects({"abc", "--out", "--scale", "x"}, "option --out needs a value (DIR)")
end)

suite:test("bad_integer", function()
  rejects({"abc", "--scale", "x", "--threads", "two"}, "--threads is 'two', expected an "
          .. "integer >= 1")
  rejects({"abc", "--scale", "x", "--threads", "0"}, "--threads is '0', expected an integer >= 1")
  rejects({"abc", "--scale", "x", "--threads", "1.5"}, "--threads is '1.5', expected an "
          .. "integer >= 1")
end)

suite:test("bad_custom_value", function()
  rejects({"abc", "--scale", "x", "--pair", "3"}, "--pair is '3', expected an even integer")
end)

suite:test("required_missing", function()
  rejects({"abc"}, "--scale is required")
  rejects({"--scale", "x"}, "no NAME given")
end)

suite:test("bad_positional", function()
  rejects({"a1", "--scale", "x"}, "NAME is 'a1', expected letters")
  rejects({"abc", "def", "ghi", "--scale", "x"}, "unexpected argument 'ghi'")
end)

suite:test("given_twice", function()
  rejects({"abc", "--scale", "x", "--scale", "y"}, "option --scale given twice")
end)

suite:test("filters_only_where_declared", function()
  local spec = {tool = "t", command = "t", options = {}}
  local ok, err = pcall(cli.parse, spec, {"a=b"})
  check.eq(ok, false, "a filter where none is declared raises")
  check.eq(tostring(err), "t: unexpected argument 'a=b'\nusage: t", "message")
end)

suite:test("help", function()
  check.eq(cli.parse(SPEC, {"--help"}), nil, "--help returns nil")
  check.eq(cli.parse(SPEC, {"abc", "-h"}), nil, "-h returns nil")
end)

-- Through the host: the tools print the error line and usage, no traceback, and exit non-zero.
local function host(args)
  local log = root .. "/out.log"
  local ok = os.execute(("%s %s > %s 2>&1"):format(HOST, args, log))
  return ok == true, check.slurp(log)
end

suite:test("tools_report_usage_errors", function()
  local cases = {
    {"experiments/run.lua table2_cifar --scale smoke --part 3/2",
     "harness: run.lua: --part is '3/2', expected K/N with 1 <= K <= N\nusage: mixup "
     .. "experiments/run.lua EXPERIMENT"},
    {"tools/report.lua --bogus", "harness: report.lua: unknown option '--bogus'\nusage: mixup "
     .. "tools/report.lua [--results DIR]"},
    {"tools/plots.lua --out", "harness: plots.lua: option --out needs a value (DIR)"},
    {"tools/figure5.lua --seed x", "harness: figure5.lua: --seed is 'x', expected an integer >= 0"},
  }
  for _, c in ipairs(cases) do
    local ok, out = host(c[1])
    check.eq(ok, false, c[1] .. ": exits non-zero")
    check.truthy(out:find(c[2], 1, true), c[1] .. ": message:\n" .. out)
    check.truthy(not out:find("traceback", 1, true), c[1] .. ": no traceback:\n" .. out)
  end
  local ok, out = host("tools/report.lua --help")
  check.eq(ok, true, "--help exits 0")
  check.truthy(out:find("^usage: mixup tools/report.lua"), "--help prints usage: " .. out)
end)

suite:test("run_part_splits_grid", function()
  local function ids(extra)
    local ok, out = host("experiments/run.lua figure5_gan --scale smoke --list " .. extra)
    check.eq(ok, true, "--list " .. extra .. ":\n" .. out)
    local t = {}
    for id in out:gmatch("[^\n]+") do t[#t + 1] = id end
    return t
  end
  local all, p1, p2 = ids(""), ids("--part 1/2"), ids("--part 2/2")
  check.truthy(#all >= 2, "grid has runs")
  check.eq(#p1 + #p2, #all, "the parts cover the grid")
  for i, id in ipairs(all) do
    check.eq((i % 2 == 1 and p1 or p2)[(i + 1) // 2], id, "run " .. i .. " in its part")
  end
end)

sys.remove_tree(root)
suite:finish()
