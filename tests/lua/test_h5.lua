-- test_h5.lua: the engine.h5 Lua module (harness/bind/lua_h5.c).
-- Run as `./mixup tests/lua/test_h5.lua`.
-- Round trip of every kind (compared exactly: storage is lossless), atomic writes (a failed
-- write leaves neither the file nor its .tmp), truncated / bit-flipped / garbage / missing
-- files, header-only reads, and the documented error messages. Checkpoints: SGD (momentum) and
-- Adam state (optim:state()) round-trips through a file as float32 datasets and training
-- continued from it is bit-identical to uninterrupted training; a truncated or garbled state
-- and a checkpoint of the old schema are refused with their messages. Prints "ok x" /
-- "FAIL x: why", then "N passed, M failed", and exits non-zero on any failure.
local h5 = require "engine.h5"
local tensor = require "engine.tensor"
local train = require "engine.train"
local check = require "tests.lua.check"
local results = require "harness.lua.results"
local checkpoint = require "harness.lua.checkpoint"

local SEED = 20171025 -- arXiv v1 date, as in tests/engine/testlib.c
local CORRUPT = "not a valid HDF5 file (truncated or corrupt); delete it to rerun"

math.randomseed(SEED)
local base = os.tmpname() -- a fresh file; our files are base .. "_name.h5"
local made = {}
local function tmp(name)
  local p = base .. "_" .. name
  made[#made + 1] = p
  made[#made + 1] = p .. ".tmp"
  return p
end

local exists, slurp, spit = check.exists, check.slurp, check.spit

local function random_tensor(shape)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  local v = {}
  for i = 1, n do v[i] = math.random() * 6 - 3 end
  return tensor.from_table(v, shape)
end

-- Deep, exact comparison: number subtypes must match, tensors by shape and bytes.
local function same(got, want, where)
  where = where or "tree"
  if type(got) ~= type(want) then
    error(string.format("%s: got a %s, want a %s", where, type(got), type(want)), 0)
  end
  if type(want) == "number" then
    if math.type(got) ~= math.type(want) then
      error(string.format("%s: got %s %s, want %s %s", where, math.type(got), got,
                          math.type(want), want), 0)
    end
    if got ~= want and not (got ~= got and want ~= want) then
      error(string.format("%s: got %.17g, want %.17g", where, got, want), 0)
    end
  elseif type(want) == "userdata" then
    same(got:shape(), want:shape(), where .. ":shape()")
    if got:data_string() ~= want:data_string() then
      error(where .. ": tensor data differs", 0)
    end
  elseif type(want) == "table" then
    for k, v in pairs(want) do same(got[k], v, where .. "." .. tostring(k)) end
    for k in pairs(got) do
      if want[k] == nil then error(where .. ": unexpected key " .. tostring(k), 0) end
    end
  elseif got ~= want then
    error(string.format("%s: got %q, want %q", where, tostring(got), tostring(want)), 0)
  end
end

-- Runs fn, which must raise an error containing want (plain text).
local function raises(want, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error("succeeded, expected an error containing: " .. want, 2) end
  if not tostring(err):find(want, 1, true) then
    error(string.format("error %q lacks %q", tostring(err), want), 2)
  end
  return err
end

local passed, failed = 0, 0
local function test(name, fn)
  local ok, err = pcall(fn)
  if ok then
    passed = passed + 1
    print("ok " .. name)
  else
    failed = failed + 1
    print("FAIL " .. name .. ": " .. tostring(err))
  end
end

-- ---------------------------------------------------------------------------------------------

test("round_trip_every_kind", function()
  local path = tmp("all.h5")
  local t1, t2, t3, t4 = random_tensor{7}, random_tensor{3, 5}, random_tensor{2, 3, 5},
                         random_tensor{2, 3, 5, 7}
  local bytes = "\0\1\2\255 rng state \0"
  local tree = {
    attrs = {format_version = 2, seed = math.maxinteger, lr = 0.1, tiny = 1e-310,
             one = 1.0, net = "preact_resnet18", utf8 = "\u{3bb} = 0.5", empty = "",
             mixup = true, nesterov = false, milestones = {100, 150},
             alphas = {0.2, 1, 4}, names = {"erm", "mixup"}, flags = {true, false},
             none = {}},
    datasets = {
      t1 = t1, t2 = t2, t3 = t3,
      t4 = {kind = "f32", value = t4, deflate = 9},
      f64 = {kind = "f64", values = {0.1, -1e300, 3, math.pi}},
      i64 = {kind = "i64", values = {math.mininteger, 0, 3.0, math.maxinteger}},
      rng = {kind = "bytes", value = bytes},
      plain_bytes = "abc",
      plain_ints = {1, 2, 3},
      plain_floats = {0.5, 2},
    },
    groups = {
      config = {attrs = {epochs = 200, dataset = "cifar10"},
                groups = {optim = {attrs = {momentum = 0.9}, groups = {deep = {}}}}},
      empty = {},
    },
  }
  h5.write(path, tree)
  assert(exists(path) and not exists(path .. ".tmp"), "the .tmp was not renamed")
  local want = {
    attrs = {format_version = 2, seed = math.maxinteger, lr = 0.1, tiny = 1e-310, one = 1.0,
             net = "preact_resnet18", utf8 = "\u{3bb} = 0.5", empty = "", mixup = true,
             nesterov = false, milestones = {100, 150}, alphas = {0.2, 1.0, 4.0},
             names = {"erm", "mixup"}, flags = {true, false}, none = {}},
    datasets = {t1 = t1, t2 = t2, t3 = t3, t4 = t4,
                f64 = {0.1, -1e300, 3.0, math.pi},
                i64 = {math.mininteger, 0, 3, math.maxinteger},
                rng = bytes, plain_bytes = "abc", plain_ints = {1, 2, 3},
                plain_floats = {0.5, 2.0}},
    groups = {
      config = {attrs = {epochs = 200, dataset = "cifar10"}, datasets = {},
                groups = {optim = {attrs = {momentum = 0.9}, datasets = {},
                                   groups = {deep = {attrs = {}, datasets = {}, groups = {}}}}}},
      empty = {attrs = {}, datasets = {}, groups = {}},
    },
  }
  local got = h5.read(path)
  same(got, want)
  -- what was read writes back to the same thing
  local path2 = tmp("again.h5")
  h5.write(path2, got)
  same(h5.read(path2), want)
end)

test("read_attrs_and_list", function()
  local path = tmp("header.h5")
  h5.write(path, {attrs = {format_version = 1, run = "a"},
                  datasets = {w = random_tensor{4, 3, 3, 3}, loss = {0.5, 0.25}},
                  groups = {config = {attrs = {alpha = 1.0}}}})
  same(h5.read_attrs(path), {format_version = 1, run = "a"})
  same(h5.read_attrs(path, "config"), {alpha = 1.0})
  same(h5.list(path), {{name = "config", kind = "group"},
                       {name = "loss", kind = "f64", shape = {2}},
                       {name = "w", kind = "f32", shape = {4, 3, 3, 3}}})
  raises("no group 'nope'", h5.list, path, "nope")
  raises("no object 'nope'", h5.read_attrs, path, "nope")
end)

test("large_tensor_is_compressed", function()
  local path = tmp("big.h5")
  local n = 300
  assert(n * n >= h5.AUTO_MIN_FLOATS, "the tensor must be over the automatic threshold")
  local v = {}
  for i = 1, n * n do v[i] = (math.random(0, 255) - 128) / 1024 end -- few significant bits
  local w = tensor.from_table(v, {n, n})
  h5.write(path, {attrs = {format_version = 1}, datasets = {w = w}})
  local size = #slurp(path)
  assert(size < n * n * 4 // 2, string.format("file is %d bytes for %d raw", size, n * n * 4))
  same(h5.read(path).datasets.w, w)
end)

test("same_tree_same_bytes", function()
  -- the same content built in two insertion orders (Lua's pairs order differs) and written by
  -- two calls gives the same bytes: names are written sorted, and no timestamps are stored
  local function build(from, to, step)
    local tree = {attrs = {format_version = 1}, datasets = {}, groups = {}}
    for i = from, to, step do
      tree.attrs["a" .. i] = i
      tree.datasets["d" .. i] = {i, i + 0.5}
      tree.groups["g" .. i] = {attrs = {x = i}}
    end
    return tree
  end
  local a, b = tmp("same_a.h5"), tmp("same_b.h5")
  h5.write(a, build(1, 40, 1))
  h5.write(b, build(40, 1, -1))
  assert(slurp(a) == slurp(b), "two writes of the same tree differ")
end)

test("failed_write_leaves_nothing", function()
  local path = tmp("failed.h5")
  raises("attribute 'bad' of 'config/inner' is a function",
         h5.write, path, {attrs = {format_version = 1},
                          datasets = {w = random_tensor{64, 64}},
                          groups = {config = {groups = {inner = {attrs = {bad = print}}}}}})
  assert(not exists(path), "a failed write left the final file")
  assert(not exists(path .. ".tmp"), "a failed write left the .tmp")
  -- a failed rewrite leaves the committed file as it was
  h5.write(path, {attrs = {format_version = 1, which = "first"}})
  raises("unknown option 'extra'", h5.write, path,
         {attrs = {format_version = 1, which = "second"}, extra = 1})
  same(h5.read_attrs(path), {format_version = 1, which = "first"})
  assert(not exists(path .. ".tmp"), "a failed rewrite left the .tmp")
end)

test("truncated_garbage_missing", function()
  local path = tmp("cut.h5")
  h5.write(path, {attrs = {format_version = 1}, datasets = {w = random_tensor{100, 100}}})
  local ok, why = h5.is_complete(path)
  assert(ok == true and why == nil, "a complete file: " .. tostring(why))
  local full = slurp(path)
  for _, cut in ipairs{0, 7, 100, #full // 2, #full - 1} do
    spit(path, full:sub(1, cut))
    ok, why = h5.is_complete(path)
    assert(ok == false and why:find(path .. ": " .. CORRUPT, 1, true),
           string.format("cut at %d: %s", cut, tostring(why)))
    raises(path .. ": " .. CORRUPT, h5.read, path)
  end
  -- one damaged byte in the data: caught by the checksum block, not read silently
  local mid = #full // 2
  spit(path, full:sub(1, mid - 1) .. string.char(full:byte(mid) ~ 1) .. full:sub(mid + 1))
  ok, why = h5.is_complete(path)
  assert(not ok and why:find(CORRUPT, 1, true), "flipped byte: " .. tostring(why))
  raises(path .. ": " .. CORRUPT, h5.read, path)
  local junk = {}
  for i = 1, 4096 do junk[i] = string.char(math.random(0, 255)) end
  spit(path, table.concat(junk))
  ok, why = h5.is_complete(path)
  assert(not ok and why:find(CORRUPT, 1, true), "garbage: " .. tostring(why))
  raises(CORRUPT, h5.read_attrs, path)
  local missing = tmp("missing.h5")
  ok, why = h5.is_complete(missing)
  assert(not ok and why:find("No such file or directory", 1, true), "missing: " .. tostring(why))
  raises("missing.h5: No such file or directory", h5.read, missing)
end)

test("error_messages", function()
  local path = tmp("errors.h5")
  local function w(tree) return h5.write(path, tree) end
  raises("tree.attrs.format_version is nil, expected an integer >= 1", w, {})
  raises("tree.attrs.format_version is 1.5, expected an integer >= 1",
         w, {attrs = {format_version = 1.5}})
  raises("tree at '/': unknown option 'dataset' (known: attrs, datasets, groups)",
         w, {attrs = {format_version = 1}, dataset = {}})
  raises("attribute 'cfg' of '/' is a table with 1 keys, not a sequence (use a group",
         w, {attrs = {format_version = 1, cfg = {lr = 0.1}}})
  raises("attribute 'mix' of '/' holds mixed types",
         w, {attrs = {format_version = 1, mix = {1, "a"}}})
  raises("attribute 'z' of '/' has a zero byte", w, {attrs = {format_version = 1, z = "a\0b"}})
  raises("bad name 'a/b'", w, {attrs = {format_version = 1}, datasets = {["a/b"] = "x"}})
  raises("dataset 'g/x': option 'kind' is \"f16\", expected one of f32, f64, i64, bytes",
         w, {attrs = {format_version = 1}, groups = {g = {datasets = {x = {kind = "f16"}}}}})
  raises("dataset 'x' holds a number that is not an integer",
         w, {attrs = {format_version = 1}, datasets = {x = {kind = "i64", values = {1, 2.5}}}})
  raises("dataset 'x': unknown option 'value' (known: kind, values)",
         w, {attrs = {format_version = 1}, datasets = {x = {kind = "f64", value = {1}}}})
  raises("dataset 'x': option 'deflate' is 11, expected an integer in 0..9",
         w, {attrs = {format_version = 1},
             datasets = {x = {kind = "f32", value = random_tensor{2}, deflate = 11}}})
  raises("dataset 'x': option 'value' is 3, expected an engine.Tensor",
         w, {attrs = {format_version = 1}, datasets = {x = {kind = "f32", value = 3}}})
  raises("dataset 'x': missing required option 'values'",
         w, {attrs = {format_version = 1}, datasets = {x = {kind = "f64"}}})
  raises("dataset 'x': option 'value' is 3, expected a string",
         w, {attrs = {format_version = 1}, datasets = {x = {kind = "bytes", value = 3}}})
  local tree = {attrs = {format_version = 1}}
  tree.groups = {again = tree}
  raises("groups nested deeper than 64", w, tree)
  raises("(table expected, got no value)", h5.write, path)
  assert(not exists(path) and not exists(path .. ".tmp"), "an error left a file behind")
end)

-- {==========================================================================================
-- Optimiser state in checkpoint files

local OPT_N, OPT_STEPS, OPT_CUT = 31, 7, 3 -- odd length; cut mid-run
local OPTIMS = {
  {kind = "sgd", lr = 0.1, datasets = {"momentum_buffer"},
   make = function(w, g)
     return train.sgd{params = w, grads = g, momentum = 0.9, weight_decay = 5e-4}
   end},
  -- beta2 0.99 so that v (not only m) changes the weights within a few steps
  {kind = "adam", lr = 1e-2, datasets = {"m", "v"},
   make = function(w, g) return train.adam{params = w, grads = g, beta1 = 0.5, beta2 = 0.99} end},
}

local function steps(o, g, grads, from, to, lr)
  for t = from, to do
    g:copy(grads[t])
    o:step(lr)
  end
end

test("optim_state_checkpoint", function()
  local w0 = random_tensor{OPT_N}
  local grads = {}
  for t = 1, OPT_STEPS do grads[t] = random_tensor{OPT_N} end
  for _, k in ipairs(OPTIMS) do
    local w1, g1 = w0:clone(), tensor.new(OPT_N)
    steps(k.make(w1, g1), g1, grads, 1, OPT_STEPS, k.lr)
    local w2, g2 = w0:clone(), tensor.new(OPT_N)
    local o2 = k.make(w2, g2)
    steps(o2, g2, grads, 1, OPT_CUT, k.lr)
    local path = tmp("optim_" .. k.kind .. ".h5")
    h5.write(path, {attrs = {format_version = 1}, groups = {optim = o2:state()}})
    -- portable storage: float32 datasets of the flat length and an integer step
    local kinds = {}
    for _, e in ipairs(h5.list(path, "optim")) do kinds[e.name] = e end
    for _, name in ipairs(k.datasets) do
      assert(kinds[name] and kinds[name].kind == "f32" and kinds[name].shape[1] == OPT_N,
             k.kind .. ": dataset " .. name .. " is not f32 of " .. OPT_N)
    end
    local a = h5.read_attrs(path, "optim")
    same(a, {kind = k.kind, step = OPT_CUT}, k.kind .. " attrs")
    local w3, g3 = w2:clone(), tensor.new(OPT_N)
    local o3 = k.make(w3, g3)
    o3:load_state(h5.read(path).groups.optim)
    assert(o3:steps() == OPT_CUT, k.kind .. ": restored step count " .. o3:steps())
    steps(o3, g3, grads, OPT_CUT + 1, OPT_STEPS, k.lr)
    assert(w3:data_string() == w1:data_string(),
           k.kind .. ": training resumed from the file differs from uninterrupted training")
  end
end)

test("optim_state_refused", function()
  local function fresh(kind)
    local k = kind == "sgd" and OPTIMS[1] or OPTIMS[2]
    local w, g = random_tensor{OPT_N}, tensor.new(OPT_N)
    local o = k.make(w, g)
    g:copy(random_tensor{OPT_N})
    o:step(k.lr)
    return o, k
  end
  local function state(kind, edit)
    local o = fresh(kind)
    local path = tmp("refused.h5")
    local s = o:state()
    edit(s)
    h5.write(path, {attrs = {format_version = 1}, groups = {optim = s}})
    return h5.read(path).groups.optim
  end
  local cases = {
    {"adam", function(s) s.datasets.v = random_tensor{OPT_N - 1} end,
     "optim:load_state: adam_state_set: m has 31 floats and v 30, expected 31 each (truncated, "
     .. "or saved for another net)"},
    {"sgd", function(s) s.datasets.momentum_buffer = random_tensor{OPT_N + 2} end,
     "optim:load_state: sgd_state_set: momentum buffer has 33 floats, expected 31 (truncated, "
     .. "or saved for another net)"},
    {"adam", function(s) s.datasets.m = "\0\0\0\0" end,
     "optim:load_state: dataset 'm' is string, expected a float32 tensor (garbled, or saved by "
     .. "another version)"},
    {"sgd", function(s) s.datasets.momentum_buffer = nil end,
     "optim:load_state: dataset 'momentum_buffer' is nil, expected a float32 tensor"},
    {"adam", function(s) s.datasets.v = tensor.from_table((function()
       local v = {}
       for i = 1, OPT_N do v[i] = 1 - i end
       return v
     end)(), {OPT_N}) end,
     "optim:load_state: adam_state_set: v[1] is -1, expected >= 0 (a garbled state)"},
    {"sgd", function(s) s.attrs.kind = "adam" end,
     "optim:load_state: state is of kind adam, this optimiser is sgd"},
    {"adam", function(s) s.attrs.step = -1 end,
     "optim:load_state: step is -1, expected an integer >= 0"},
    {"sgd", function(s) s.attrs.step = 1.5 end,
     "optim:load_state: step is 1.5, expected an integer >= 0"},
    {"sgd", function(s) s.attrs.step = nil end,
     "optim:load_state: step is nil, expected an integer >= 0"},
  }
  for i, c in ipairs(cases) do
    local tree = state(c[1], c[2])
    local o = fresh(c[1])
    local before = o:state()
    local ok, err = pcall(o.load_state, o, tree)
    assert(not ok, "case " .. i .. ": a garbled state was accepted")
    assert(tostring(err):find(c[3], 1, true),
           ("case %d: error %q lacks %q"):format(i, tostring(err), c[3]))
    same(o:state(), before, "case " .. i .. ": state after a refused load")
  end
  local o = fresh("sgd")
  raises("(table expected, got string)", o.load_state, o, "SGD1\0\0\0\0")
end)

test("checkpoint_schema_refused", function()
  -- a checkpoint as schema 1 wrote it: the optimiser state as a host-byte-order blob
  local path = tmp("old.ckpt.h5")
  h5.write(path, {attrs = {format_version = 1, schema = results.SCHEMA_CHECKPOINT, run_id = "r",
                           epochs_done = 1},
                  datasets = {optim_state = "SGD1\0\0\0\0", rng_init = string.rep("\1", 32)}})
  local want = path .. ": checkpoint schema 1, this build reads 2: delete it or rerun with --force"
  assert(results.CHECKPOINT_VERSION == 2, "CHECKPOINT_VERSION is " .. results.CHECKPOINT_VERSION)
  local ok, err = pcall(checkpoint.read, path)
  assert(not ok and err == want, "old checkpoint: " .. tostring(err))
  ok, err = pcall(results.check_checkpoint_version, path,
                  {format_version = results.CHECKPOINT_VERSION})
  assert(ok, "the current version refused: " .. tostring(err))
  -- a results file (format_version 1) given as a checkpoint is named by its schema
  local run_path = tmp("run.h5")
  h5.write(run_path, {attrs = {format_version = 1, schema = results.SCHEMA_RUN}})
  local got, why = checkpoint.read(run_path)
  assert(not got and why:find('expected "mixup-repro/checkpoint"', 1, true), tostring(why))
end)

-- }==========================================================================================

for _, p in ipairs(made) do os.remove(p) end
os.remove(base)
print(string.format("%d passed, %d failed", passed, failed))
if failed > 0 then os.exit(1) end
