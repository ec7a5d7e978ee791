-- test_elu.lua: the "elu" entry of the layer registry (harness/bind/lua_layers.c): alpha
-- defaults to ELU_DEFAULT_ALPHA (1.0, torch.nn.ELU's), a given alpha reaches the layer, and
-- the options are strict with lua_opt.c's messages. The kernels are tested in
-- tests/engine/test_elu.c.
local tensor = require "engine.tensor"
local nn = require "engine.nn"
local check = require "tests.lua.check"

local suite = check.suite(...)

local IN = {c = 2, h = 1, w = 3}
local X = {-2, -0.5, 0, 0.25, 1, -7, 3, -1, 0.5, -0.1, 2, -3}
local RTOL = 1e-6 -- float32 expm1f / expf vs Lua's doubles

local function run(desc)
  local net = nn.build(desc, IN, {batch = 2, threads = 1})
  local x = tensor.from_table(X, {2, 2, 1, 3})
  local y = net:forward(x, true)
  local dx = net:backward(tensor.new(2, 2, 1, 3):fill(1))
  return y:to_table(), dx:to_table()
end

local function check_alpha(desc, alpha)
  local y, dx = run(desc)
  for i, v in ipairs(X) do
    local want_y = v > 0 and v or alpha * (math.exp(v) - 1)
    local want_dx = v > 0 and 1 or alpha * math.exp(v)
    check.near(y[i], want_y, RTOL, ("alpha %g: y[%d]"):format(alpha, i))
    check.near(dx[i], want_dx, RTOL, ("alpha %g: dx[%d]"):format(alpha, i))
  end
end

suite:test("default_alpha", function()
  check_alpha({kind = "elu"}, 1.0)
end)

suite:test("given_alpha", function()
  check_alpha({kind = "elu", alpha = 0.5}, 0.5)
  check_alpha({kind = "sequential", children = {{kind = "elu", name = "act", alpha = 2}}}, 2)
end)

suite:test("options", function()
  local function build(desc) return nn.build(desc, IN, {batch = 1}) end
  check.raises(function() build{kind = "elu", alpha = "big"} end,
               "(root): option 'alpha' is \"big\", expected a number", "type")
  check.raises(function() build{kind = "elu", alhpa = 1} end,
               "(root): unknown option 'alhpa' (known: kind, name, alpha)", "typo")
  check.raises(function() build{kind = "elu", alpha = math.huge} end,
               "(root): elu: alpha is inf, expected a finite number", "constructor")
end)

suite:finish()
