-- containers.lua: constructors of network descriptions, the plain tables that
-- engine.nn.build turns into a Net (harness/bind/lua_layers.c lists every kind's options and
-- defaults and validates them strictly; nothing is checked twice here).
--
-- Containers (torch7 nn's Sequential / ConcatTable+CAddTable / Concat):
--   sequential(name, children)       y = c_k(...c_1(x))
--   residual(name, main, shortcut)   y = main(x) + shortcut(x); shortcut nil: identity
--   concat(name, branches)           y = [b_1(x), ..., b_k(x)] along channels
-- Leaves take an options table: conv{name=, in_c=, out_c=, k=, stride=, pad=, groups=, bias=,
-- init=}, bn{channels=, eps=, momentum=, affine=}, linear{in_f=, out_f=, bias=, init=},
-- maxpool{k=, stride=, pad=}, avgpool{...}, dropout{p=}, leaky_relu{slope=}, and relu{},
-- tanh{}, sigmoid{}, global_avgpool{}, flatten{}, identity{}, mix{} (latent mixup: the plan
-- comes from train.mixup with latent = true) (options optional: name).
--
-- Names make module paths ("preact_resnet.layer2.0.conv2"): nil means the position in the
-- parent (1-based), "" adds nothing (a structural container that PyTorch does not have).

local options = require "harness.lua.options"

local M = {}

local function check_name(fn, name)
  if name ~= nil and type(name) ~= "string" then
    error(("%s: name must be a string or nil, got %s"):format(fn, type(name)), 3)
  end
end

local function check_list(fn, what, list)
  if type(list) ~= "table" then
    error(("%s: %s must be a list of layer tables, got %s"):format(fn, what, type(list)), 3)
  end
end

function M.sequential(name, children)
  check_name("sequential", name)
  check_list("sequential", "children", children)
  return {kind = "sequential", name = name, children = children}
end

function M.residual(name, main, shortcut)
  check_name("residual", name)
  return {kind = "residual", name = name, main = main, shortcut = shortcut}
end

function M.concat(name, branches)
  check_name("concat", name)
  check_list("concat", "branches", branches)
  return {kind = "concat", name = name, branches = branches}
end

-- A leaf constructor: copies the options and adds the kind.
local function leaf(kind)
  return function(opts)
    opts = opts or {}
    if type(opts) ~= "table" then
      error(("%s: options must be a table, got %s"):format(kind, type(opts)), 2)
    end
    if opts.kind ~= nil then
      error(("%s: options must not set 'kind'"):format(kind), 2)
    end
    local d = {kind = kind}
    for k, v in pairs(opts) do d[k] = v end
    return d
  end
end

M.conv = leaf "conv"
M.bn = leaf "batchnorm"
M.relu = leaf "relu"
M.leaky_relu = leaf "leaky_relu"
M.tanh = leaf "tanh"
M.sigmoid = leaf "sigmoid"
M.maxpool = leaf "maxpool"
M.avgpool = leaf "avgpool"
M.global_avgpool = leaf "global_avgpool"
M.linear = leaf "linear"
M.dropout = leaf "dropout"
M.flatten = leaf "flatten"
M.identity = leaf "identity"
M.mix = leaf "mix"

-- {==================================================================================
-- Options of the net constructors (nets/<family>.lua)
-- ===================================================================================

-- The keys of t as strings, numbers in numeric order (for messages listing what is known).
function M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) == "number"
  end)
  for i, k in ipairs(keys) do keys[i] = tostring(k) end
  return keys
end

-- Option checks the nets share: each key of keys an integer >= 1, and bn_group an integer >= 0
-- (0: the whole batch; harness/nn/batchnorm.c's groups).
function M.check_counts(net, o, keys)
  for _, k in ipairs(keys) do
    if math.type(o[k]) ~= "integer" or o[k] < 1 then
      options.fail(net, k, o[k], "an integer >= 1")
    end
  end
end

function M.check_bn_group(net, o)
  if math.type(o.bn_group) ~= "integer" or o.bn_group < 0 then
    options.fail(net, "bn_group", o.bn_group, "an integer >= 0 (0: the whole batch)")
  end
end

-- Strict options of net `net`: opts must be a table whose keys all appear in defaults and
-- whose values have the default's type; absent keys take the default. Returns the merged
-- table. Errors are harness/lua/options.lua's: "<net>: unknown option 'x' (known: ...)",
-- "<net>: option 'k' is <got>, expected a <type>".
function M.merge_options(net, opts, defaults)
  if type(opts) ~= "table" then
    error(("%s: options must be a table, got %s"):format(net, type(opts)), 4)
  end
  options.known_keys(net, opts, defaults)
  local o = {}
  for k, v in pairs(defaults) do
    o[k] = opts[k]
    if o[k] == nil then o[k] = v end
    if type(o[k]) ~= type(v) then options.fail(net, k, o[k], "a " .. type(v)) end
  end
  return o
end

-- }==================================================================================

return M
