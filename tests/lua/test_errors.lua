-- test_errors.lua: error paths give the documented messages and never take the process down:
-- strict descriptions (unknown options, wrong types, missing keys, bad values, each naming the
-- layer path), shape errors at build and at forward, misuse of forward/backward, strict
-- globals, and the host itself (exit status, "harness: " + traceback, arguments, threads),
-- run as child processes of this script's own executable.
local tensor = require "engine.tensor"
local nn = require "engine.nn"
local c = require "nets.containers"
local preact = require "nets.preact_resnet"
local check = require "tests.lua.check"

local suite = check.suite(...)
local IN = {c = 3, h = 32, w = 32}

local function build(desc, batch) return nn.build(desc, IN, {batch = batch or 1}) end

-- layer2.0's conv2 in the official description: block 0 of layer2 is
-- sequential(bn1, relu1, residual(sequential(conv1, bn2, relu2, conv2), shortcut))
local function layer2_conv2(desc)
  return desc.children[5].children[1].children[3].main.children[4]
end

suite:test("unknown_option_names_path", function()
  local d = preact{width = 2}
  layer2_conv2(d).strid = 2
  check.raises(function() build(d) end,
               "preact_resnet.layer2.0.conv2: unknown option 'strid' (known: kind, name, " ..
               "in_c, out_c, k, kh, kw, stride, stride_h, stride_w, pad, pad_h, pad_w, " ..
               "groups, bias, init, algo)",
               "typo")
  check.raises(function() build(c.sequential("s", {{kind = "relu", [1] = 2}})) end,
               "s.1: unknown option [1]", "non-string key")
  check.raises(function() nn.build(c.relu{}, IN, {batch = 1, thread = 2}) end,
               "nn.build: options: unknown option 'thread' (known: batch, threads, conv_algo, "
               .. "conv_algos)",
               "build options")
end)

suite:test("wrong_type_and_missing", function()
  local d = preact{width = 2}
  local conv2 = layer2_conv2(d)
  conv2.bias = "no"
  check.raises(function() build(d) end,
               "preact_resnet.layer2.0.conv2: option 'bias' is \"no\", expected a boolean", "bool")
  conv2.bias, conv2.stride = false, 1.5
  check.raises(function() build(d) end,
               "preact_resnet.layer2.0.conv2: option 'stride' is 1.5, expected an integer", "int")
  conv2.stride, conv2.out_c = 1, nil
  check.raises(function() build(d) end,
               "preact_resnet.layer2.0.conv2: missing required option 'out_c'", "missing")
  conv2.out_c, conv2.kind = 4, "convv"
  check.raises(function() build(d) end, "preact_resnet.layer2.0.conv2: option 'kind' is " ..
               "\"convv\", expected one of conv, batchnorm,", "kind")
  check.raises(function() build(c.sequential("s", {{name = "x"}})) end,
               "s.x: missing required option 'kind'", "no kind")
  check.raises(function() build(c.sequential("s", {c.relu{}, 5})) end,
               "s.2: layer description is a number, expected a table", "not a table")
  check.raises(function()
                 build(c.sequential("s", {c.conv{in_c = 3, out_c = 2, k = 3, kh = 2}}))
               end,
               "s.1: option 'k' is 3, expected none with 'kh'/'kw'", "k and kh")
  check.raises(function()
                 build(c.sequential("s", {c.conv{in_c = 3, out_c = 2, kh = 2}}))
               end,
               "s.1: missing required option 'kw' (with 'kh')", "kh without kw")
  check.raises(function() build(c.sequential("s", {c.conv{in_c = 3, out_c = 2}})) end,
               "s.1: missing required option 'k' (or 'kh' and 'kw')", "no kernel")
  check.raises(function() build({kind = "sequential", children = {c.relu{}, x = 1}}) end,
               "(root): option 'children' is a table with key \"x\", expected a list of layer "
               .. "tables", "list")
  check.raises(function() build({kind = "concat", branches = {}}) end,
               "(root): option 'branches' is a list of 0, expected a list of at least 1 layer "
               .. "tables", "empty concat")
  check.raises(function() build(c.bn{channels = 3, eps = "small"}) end,
               "(root): option 'eps' is \"small\", expected a number", "number")
  check.raises(function() build(c.linear{in_f = 3072, out_f = 2, init = 0}) end,
               "(root): option 'init' is 0, expected one of torch_default, he_normal, "
               .. "he_normal_fan_in, zero", "string")
end)

suite:test("bad_values_from_constructors", function()
  local d = preact{width = 2}
  layer2_conv2(d).groups = 3
  check.raises(function() build(d) end, "preact_resnet.layer2.0.conv2: conv", "groups")
  check.raises(function() build(c.sequential("s", {c.bn{channels = 3, eps = -1}})) end,
               "s.1: batchnorm", "eps")
  check.raises(function() build(c.sequential("s", {c.dropout{p = 1}})) end, "s.1: dropout",
               "p = 1")
  check.raises(function() build(c.sequential("s", {c.maxpool{k = 3, pad = 2}})) end,
               "s.1: maxpool", "pad")
end)

suite:test("shape_errors_at_build", function()
  local d = preact{width = 2}
  layer2_conv2(d).in_c = 16
  check.raises(function() build(d) end,
               "preact_resnet.layer2.0.conv2: conv: input has 4 channels, weight expects 16",
               "channels")
  check.raises(function() build(c.sequential("s", {c.linear{in_f = 5, out_f = 2}})) end,
               "s.1: linear: input has 3072 features", "features")
  check.raises(function() build(c.residual("r", c.conv{in_c = 3, out_c = 2, k = 1})) end,
               "r: main branch gives (2, 32, 32) but the shortcut gives (3, 32, 32)", "residual")
  check.raises(function() nn.build(c.relu{}, {c = 3, h = 32}, {batch = 1}) end,
               "nn.build: input shape: missing required option 'w'", "input shape")
  check.raises(function() nn.build(c.relu{}, {c = 3, h = 32, w = 0}, {batch = 1}) end,
               "nn.build: input shape: option 'w' is 0, expected an integer >= 1", "zero width")
  check.raises(function() nn.build(c.relu{}, IN, {batch = 0}) end,
               "nn.build: options: option 'batch' is 0, expected an integer >= 1", "batch")
  check.raises(function() nn.build(c.relu{}, IN, {}) end,
               "nn.build: options: missing required option 'batch'", "no batch")
  local s = {kind = "sequential", children = {}}
  s.children[1] = s
  check.raises(function() build(s) end, "nested more than 64 levels deep", "cycle")
end)

suite:test("forward_and_backward_misuse", function()
  local net = build(preact{width = 2}, 4)
  check.raises(function() net:forward(tensor.new{4, 3, 16, 16}, true) end,
               "net_forward: input is (4, 3, 16, 16), expected (N, 3, 32, 32)", "input shape")
  check.raises(function() net:forward(tensor.new{4, 3, 32, 32}, 1) end,
               "bad argument #2 to 'forward' (boolean expected, got number)", "train flag")
  check.raises(function() net:forward(nil, true) end,
               "bad argument #1 to 'forward' (engine.Tensor expected, got nil)", "x type")
  check.raises(function() net:backward(tensor.new{4, 10}) end,
               "net_backward: no successful forward pass to differentiate", "order")
  net:forward(tensor.new{4, 3, 32, 32}, true)
  check.raises(function() net:backward(tensor.new{4, 9}) end,
               "net_backward: dy is (4, 9), expected (4, 10, 1, 1)", "dy shape")
  local drop = nn.build(c.sequential("s", {c.linear{name = "fc", in_f = 3, out_f = 4},
                                           c.dropout{name = "drop", p = 0.5}}),
                        {c = 3, h = 1, w = 1}, {batch = 2})
  check.raises(function() drop:forward(tensor.new{2, 3}, true) end, "s.drop: dropout:",
               "a layer's forward error names its path")
  -- the net still works after all of that
  local y = net:forward(tensor.new{4, 3, 32, 32}, false)
  check.eq(y:size(), 40, "usable after errors")
end)

suite:test("strict_globals", function()
  check.raises(function() return undeclared_name end, "undeclared global 'undeclared_name'",
               "read")
  check.raises(function() new_global = 1 end, "assignment to undeclared global 'new_global'",
               "write")
  check.raises(function() return undeclared_name end, "test_errors.lua:", "position")
  rawset(_ENV, "declared_name", 5)
  check.eq(declared_name, 5, "rawset declares")
  check.eq(type(print), "function", "existing globals readable")
  check.eq(rawget(_G, "declared_name"), nil, "script globals stay out of _G")
end)

-- ---- the host, as child processes -------------------------------------------------------

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local exe = arg[-1]
if exe:sub(1, 1) ~= "/" then
  local pwd = assert(io.popen("pwd"))
  exe = pwd:read("l") .. "/" .. exe
  pwd:close()
end

-- Runs `env exe opts script args` with script text `src`; returns output, exit code.
local function host(src, opts)
  opts = opts or {}
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
  local cmd = ("%s %s %s %s %s 2>&1"):format(opts.env or "", shell_quote(exe),
    opts.flags or "", shell_quote(path), opts.args or "")
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local _, _, code = p:close()
  os.remove(path)
  return out, code
end

suite:test("host_error_exit", function()
  local out, code = host("local function f() error('boom') end\nf()\n")
  check.eq(code, 1, "exit status")
  check.eq(out:match("^harness: [^\n]*:1: boom %(%-%-debug or MIXUP_DEBUG=1 shows the "
                     .. "traceback%)\n$") ~= nil, true, "one line with the hint: " .. out)
  out, code = host("error('config: option x is 2, expected a string', 0)\n")
  check.eq(code, 1, "user error exit status")
  check.eq(out, "harness: config: option x is 2, expected a string\n", "a user error: one line")
  for _, how in ipairs{{flags = "--debug"}, {env = "MIXUP_DEBUG=1"}} do
    out, code = host("local function f() error('boom') end\nf()\n", how)
    check.eq(code, 1, "exit status with " .. (how.flags or how.env))
    check.truthy(out:find("^harness: [^\n]*:1: boom\nstack traceback:"),
                 (how.flags or how.env) .. ": traceback: " .. out)
  end
  out, code = host("print(undeclared)\n")
  check.eq(code, 1, "strict read exits 1")
  check.truthy(out:find("harness: [^\n]*:1: undeclared global 'undeclared'"), out)
  out, code = host("error({})\n")
  check.truthy(out:find("harness: %(error object is a table value%)"), out)
  out, code = host("print('fine')\n")
  check.eq(code, 0, "success exits 0")
  check.eq(out, "fine\n", "stdout")
end)

suite:test("host_arguments", function()
  local out = host("print(select('#', ...), table.concat({...}, '|'), arg[0] ~= nil, arg[1], " ..
                   "arg[2], arg[-1] ~= nil)\n", {args = "a 'b c'"})
  check.eq(out, "2\ta|b c\ttrue\ta\tb c\ttrue\n", "... and arg")
  out = host("print(rawget(_G, 'arg'))\n")
  check.eq(out, "nil\n", "arg is not a global")
end)

suite:test("host_threads", function()
  local src = "print(require('engine.nn').get_threads())\n"
  check.eq(host(src, {env = "MIXUP_THREADS=3"}), "3\n", "env")
  check.eq(host(src, {env = "MIXUP_THREADS=3", flags = "--threads 1"}), "1\n", "flag wins")
  local out, code = host(src, {env = "MIXUP_THREADS=zero"})
  check.eq(code, 2, "bad env exit status")
  check.truthy(out:find("harness: MIXUP_THREADS is 'zero', expected an integer 1 to 1024", 1,
               true), out)
  out, code = host(src, {flags = "--threads 0"})
  check.eq(code, 2, "bad flag exit status")
  out, code = host(src, {flags = "--bogus"})
  check.truthy(code == 2 and out:find("unknown option '--bogus'", 1, true), out)
end)

suite:test("host_strict_modules", function()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. shell_quote(dir)))
  local f = assert(io.open(dir .. "/sloppy.lua", "w"))
  f:write("return missing_name\n")
  f:close()
  local out, code = host(("package.path = %q .. '/?.lua;' .. package.path\n" ..
                          "require 'sloppy'\n"):format(dir))
  os.remove(dir .. "/sloppy.lua")
  os.remove(dir)
  check.eq(code, 1, "exit status")
  check.truthy(out:find("sloppy.lua:1: undeclared global 'missing_name'", 1, true), out)
end)

suite:test("host_finds_nets_from_elsewhere", function()
  -- package.path holds the executable's directory: the repository root for ./mixup
  local root = exe:match("^(.*)/[^/]*$") or "."
  local f = io.open(root .. "/nets/containers.lua")
  if not f then check.skip(exe .. " is not in the repository root") end
  f:close()
  local out = host("print(type(require('nets.preact_resnet')))\n", {env = "cd / &&"})
  check.eq(out, "function\n", "require from /")
end)

suite:finish()
