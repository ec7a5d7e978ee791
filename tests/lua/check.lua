-- check.lua: the Lua tests' small framework, the same protocol as tests/engine/testlib.c: one
-- "ok name", "FAIL name: reason" or "skip name: reason" line per test, then "N passed, M
-- failed, K skipped", and a non-zero exit status on any failure (tests/run.sh sums the closing
-- lines). A filter that selects no test fails.
--
--   local check = require "tests.lua.check"
--   local suite = check.suite(...)   -- the script's first argument filters tests by name
--   suite:test("name", function() check.eq(1 + 1, 2, "sum") end)
--   suite:finish()
--
-- Assertions raise an error (so a test stops at its first failure). Tensor comparisons are
-- relative, as in testlib: max|got - want| / max(max|want|, REL_FLOOR) <= rtol, and print
-- the first mismatches.

local h5 = require "engine.h5"
local tensor = require "engine.tensor"
local train = require "engine.train"

local M = {}

local REL_FLOOR = 1e-6 -- testlib's floor: an all-zero reference is compared at this scale
local SHOW_MISMATCHES = 5

local Suite = {}
Suite.__index = Suite

function M.suite(filter)
  return setmetatable({passed = 0, failed = 0, skipped = 0, filter = filter}, Suite)
end

-- The error object of M.skip: a test that cannot run here, counted apart from passes.
local Skip = {}

-- Runs fn unless the name filter excludes it.
function Suite:test(name, fn)
  if self.filter and not name:find(self.filter, 1, true) then return end
  local ok, err = xpcall(fn, function(e) return e end)
  if ok then
    self.passed = self.passed + 1
    print("ok " .. name)
  elseif getmetatable(err) == Skip then
    self.skipped = self.skipped + 1
    print("skip " .. name .. ": " .. err.reason)
  else
    self.failed = self.failed + 1
    print("FAIL " .. name .. ": " .. tostring(err))
  end
  io.stdout:flush()
end

-- Ends the running test as skipped (an optional tool or data set absent): reason says what is
-- missing and how to get it. Never a pass.
function M.skip(reason)
  error(setmetatable({reason = reason}, Skip), 0)
end

-- Batch norm in groups of 2 (net `grouped`) against whole-batch batch norm (`plain`, the same
-- net and init otherwise): a training batch of 4 through grouped equals its two halves through
-- plain, bit for bit, or within rtol when given (a net whose convolutions reach 1x1 maps: the
-- GEMM kernels then depend on the batch), and differs from the whole batch through plain.
function M.groups_equal_halves(grouped, plain, rtol)
  local x = tensor.new{4, 3, 32, 32}
  local r = train.rng(9, train.stream.init)
  for i = 1, 4 do for c = 1, 3 do for h = 1, 32, 3 do x:set(r:normal(), i, c, h, 5) end end end
  local y = grouped:forward(x, true):clone()
  local halves = tensor.new(y:shape())
  local per = y:size() // 2
  for k = 0, 1 do
    halves:view(k * per, {per}):copy(plain:forward(x:view(k * 2 * 3 * 32 * 32, {2, 3, 32, 32}),
                                                   true))
  end
  if rtol then
    M.close(y, halves, rtol, "groups of 2 = the halves on their own")
  else
    M.same_bits(y, halves, "groups of 2 = the halves on their own")
  end
  M.truthy(M.rel_err(plain:forward(x, true), y) > 1e-3, "and differ from the whole batch")
end

-- Leaf descriptions of a net description by module path, computed as engine.nn does
-- (harness/bind/lua_layers.c: the name, or the 1-based position when nil; "" adds no
-- component); a dense block's layers as harness/nn/dense.h names them.
local function leaves(desc, parent, pos, out)
  local comp = desc.name == nil and tostring(pos) or desc.name
  local path = parent ~= "" and comp ~= "" and parent .. "." .. comp or parent .. comp
  local kids = desc.children or desc.branches or (desc.main and {desc.main, desc.shortcut})
  if desc.kind == "dense_block" then
    -- layer i holds bn1, conv1 (1x1), bn2, conv2 (3x3)
    for i = 0, desc.layers - 1 do
      local p, ci = path .. ".layer." .. i .. ".", desc.in_c + i * desc.growth
      out[p .. "bn1"] = {kind = "batchnorm", channels = ci}
      out[p .. "conv1"] = {kind = "conv", in_c = ci, out_c = desc.bottleneck, k = 1}
      out[p .. "bn2"] = {kind = "batchnorm", channels = desc.bottleneck}
      out[p .. "conv2"] = {kind = "conv", in_c = desc.bottleneck, out_c = desc.growth, k = 3}
    end
  elseif kids then
    for i, d in pairs(kids) do leaves(d, path, i, out) end
  else
    out[path] = desc
  end
  return out
end

function M.leaves(desc) return leaves(desc, "", 1, {}) end

-- Whether process pid runs (exists and is not a zombie), from /proc.
function M.proc_alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if not f then return false end
  local s = f:read("a")
  f:close()
  return s:match("^%d+ %b() (%a)") ~= "Z"
end

-- mpirun for n ranks as the tests start it (root needs OpenMPI's allow-root variables; more
-- ranks than free cores is fine here), and whether it can run: true, or false and why (the
-- test then skips, counted). Under `make test-asan` the ranks run without LeakSanitizer:
-- OpenMPI's and OpenBLAS's allocations at MPI_Init are never freed, in frames of components
-- unloaded at exit that no suppression can name; the engine's own leaks are checked by every
-- single-process test.
function M.mpirun(n)
  return "ASAN_OPTIONS=detect_leaks=0 OMPI_ALLOW_RUN_AS_ROOT=1 "
         .. "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 mpirun -np " .. n
end

function M.mpi_usable()
  if not require("engine.mpi").built() then
    return false, "this mixup was built without MPI (make MPI=1)"
  end
  if not os.execute("command -v mpirun > /dev/null 2>&1") then
    return false, "mpirun not found (make setup installs openmpi-bin)"
  end
  return true
end

-- The host running the test script (./mixup, or ./mixup-asan under make test-asan): the lowest
-- index of the script's `arg`, as lua.c numbers the host's own arguments. Child processes of
-- the tests run this same host.
function M.host_exe(script_arg)
  local lo = 0
  while script_arg[lo - 1] ~= nil do lo = lo - 1 end
  return script_arg[lo]
end

function Suite:finish()
  if self.filter and self.passed + self.failed + self.skipped == 0 then
    print(("FAIL filter '%s': it selects no test"):format(self.filter))
    self.failed = self.failed + 1
  end
  print(("%d passed, %d failed, %d skipped"):format(self.passed, self.failed, self.skipped))
  io.stdout:flush()
  if self.failed > 0 then os.exit(1, true) end
end

local function fail(msg) error(msg, 3) end

function M.eq(got, want, what)
  if got ~= want then
    fail(("%s: got %s, want %s"):format(what, tostring(got), tostring(want)))
  end
end

function M.truthy(v, what)
  if not v then fail(what) end
end

-- fn must raise an error whose message contains `needle` (plain text). Returns the message.
function M.raises(fn, needle, what)
  local ok, err = pcall(fn)
  if ok then fail(("%s: no error raised (wanted one containing %q)"):format(what, needle)) end
  err = tostring(err)
  if not err:find(needle, 1, true) then
    fail(("%s: error %q does not contain %q"):format(what, err, needle))
  end
  return err
end

-- Numbers: |got - want| <= rtol * max(|want|, REL_FLOOR).
function M.near(got, want, rtol, what)
  local scale = math.max(math.abs(want), REL_FLOOR)
  if not (math.abs(got - want) <= rtol * scale) then
    fail(("%s: got %.9g, want %.9g (relative error %.3g > %.3g)"):format(what, got, want,
         math.abs(got - want) / scale, rtol))
  end
end

local function max_abs(t)
  return t:max_abs_diff(tensor.new(t:shape()))
end
M.max_abs = max_abs

-- Relative error of tensor got against want (same element count).
function M.rel_err(got, want)
  return got:max_abs_diff(want) / math.max(max_abs(want), REL_FLOOR)
end

-- Tensors: relative max error within rtol; on failure prints the first mismatches.
function M.close(got, want, rtol, what)
  if got:size() ~= want:size() then
    fail(("%s: %d elements, want %d"):format(what, got:size(), want:size()))
  end
  local scale = math.max(max_abs(want), REL_FLOOR)
  local err = got:max_abs_diff(want) / scale
  if not (err <= rtol) then
    local g = got:view(0, {got:size()})
    local w = want:view(0, {want:size()})
    local shown = 0
    for i = 1, g:size() do
      local a, b = g:get(i), w:get(i)
      if not (math.abs(a - b) <= rtol * scale) then
        print(("  %s[%d]: got %.9g, want %.9g"):format(what, i, a, b))
        shown = shown + 1
        if shown == SHOW_MISMATCHES then break end
      end
    end
    fail(("%s: relative error %.3g > %.3g"):format(what, err, rtol))
  end
  return err
end

-- {==================================================================================
-- PyTorch fixtures (tests/fixtures/<name>.h5, written by gen_*.py through fixture.py)
-- ===================================================================================

local FIXTURE_DIR = "tests/fixtures/"
local FIXTURE_FORMAT_VERSION = 1 -- fixture.py's FORMAT_VERSION, testlib.h's too
local FIXTURE_FIX = "regenerate with `make fixtures`"

-- The fixture's tensors by name, and the names in the generator's order (the root attribute
-- "entries"). A missing or malformed file raises one line naming the file and the fix.
function M.fixture(name)
  local path = FIXTURE_DIR .. name .. ".h5"
  local function bad(why)
    error(("fixture %s: %s; %s"):format(path, why, FIXTURE_FIX), 0)
  end
  local f, why = io.open(path, "rb") -- why: "<path>: No such file or directory", as testlib's
  if not f then
    error(("fixture %s (run the tests from the repository root; %s)"):format(why, FIXTURE_FIX), 0)
  end
  f:close()
  local ok, tree = pcall(h5.read, path)
  if not ok then bad(tostring(tree)) end
  local names, n = tree.attrs.entries, 0
  for _ in pairs(tree.datasets) do n = n + 1 end
  if tree.attrs.format_version ~= FIXTURE_FORMAT_VERSION then
    bad(("format_version %s, expected %d"):format(tree.attrs.format_version,
                                                  FIXTURE_FORMAT_VERSION))
  elseif type(names) ~= "table" then
    bad("no attribute 'entries' (the entry names in order)")
  elseif #names ~= n then
    bad(("attribute 'entries' names %d entries, the file holds %d datasets"):format(#names, n))
  end
  for i, key in ipairs(names) do
    if not tree.datasets[key] then bad(("entry %d (%s) has no dataset"):format(i, key)) end
  end
  return tree.datasets, names
end

-- The net's parameter layout equals PyTorch's parameters() order: the fixture stores each
-- reference parameter's shape as "param.<module>.<name>" in that order; consecutive entries
-- of one module form one group, which must match net:param_info()'s path (root .. module),
-- count and offset, and the totals must agree with the fixture's flat params0.
function M.param_order(net, fx, names, root)
  local groups = {}
  for _, key in ipairs(names) do
    local module = key:match("^param%.(.+)%.[^.]+$")
    if module then
      local numel = 1
      for _, d in ipairs(fx[key]:to_table()) do numel = numel * math.tointeger(d) end
      local last = groups[#groups]
      if last and last.module == module then
        last.count = last.count + numel
      else
        groups[#groups + 1] = {module = module, count = numel}
      end
    end
  end
  local info = net:param_info()
  M.eq(#info, #groups, "modules with parameters")
  local offset = 0
  for i, g in ipairs(groups) do
    M.eq(info[i].path, root .. g.module, "module " .. i)
    M.eq(info[i].count, g.count, info[i].path .. " count")
    M.eq(info[i].offset, offset, info[i].path .. " offset")
    offset = offset + g.count
  end
  M.eq(net:num_params(), fx.params0:size(), "total")
end

-- }==================================================================================

-- Bit-identical tensors.
function M.same_bits(a, b, what)
  if a:data_string() ~= b:data_string() then
    fail(("%s: not bit-identical (max abs diff %.3g)"):format(what, a:max_abs_diff(b)))
  end
end

-- Files: whether path can be opened, its bytes (an error when it cannot be read), and
-- writing bytes to it (an error when it cannot be written).
function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

function M.slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.spit(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

return M
