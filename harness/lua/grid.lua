-- grid.lua: an experiment's grid of runs: the product of its axes at one scale, command-line
-- filters, and stable run ids (STYLE.md section 7; fb.resnet's opts + darknet's cfg, minus
-- the hidden defaults).
--
-- An experiment script (experiments/<name>.lua) returns a declarative table:
--   {
--     name = "table2_cifar",
--     schema = "image_classification",      -- a task's schema name (harness/lua/tasks.lua)
--     base = {...},                         -- the published recipe, every key given
--     axes = {                              -- outermost first; the seed axis is added last
--       {name = "dataset", levels = {{id = "cifar10", set = {...}}, ...}},
--       {name = "method", levels = {{id = "erm", set = {mixup = {alpha = 0}}}, ...}},
--     },
--     scales = {                            -- one recipe per scale
--       cpu = {seeds = {1, 2}, set = {...}, per_level = {["net=preact_resnet18"] = {...}}},
--       cpu = {..., only = {{noise = "n20", method = {"erm", "mixup_a8"}}, ...}},
--     },
--   }
-- A run's config is base, then scale.set, then each axis level's `set` in axis order, then
-- the scale's per_level overrides of the chosen levels (in axis order), then seed and scale
-- (config.merge: records merge key by key, lists and scalars are replaced). The result is
-- validated against the task's schema (config.validate), so a typo in any layer is an error
-- naming the key. The experiment table's own keys are checked by harness/lua/options.lua.
--
-- A scale's `only` (optional) keeps part of the product: a run is in the grid when some entry
-- matches it, an entry matching when, for every axis it names, the run's level is the id or
-- one of the ids given (Table 4 runs each noise level with its own published dropout p and
-- alpha at the reduced scales, the whole product at `paper`).
--
-- Run id: "<scale>-<level ids in axis order>-s<seed>-<hash>", e.g.
-- "cpu-cifar10-preact_resnet18-mixup_a1-s1-3fa9c2d1", where hash is the low 32 bits of the
-- FNV-1a 64 hash of the full resolved config as results.serialize writes it (the config.lua
-- attribute of its results file, so the hash can be recomputed from the file). The same grid
-- values under a changed recipe get a new id, so an old result is never taken for a new one,
-- and an unchanged recipe always finds its results again.
--
-- Filters (command line): "axis=id" or "axis=id1,id2", e.g. net=preact_resnet18 seed=1;
-- runs must match every filter. An unknown axis or level is an error listing the valid ones.

local config = require "harness.lua.config"
local options = require "harness.lua.options"
local results = require "harness.lua.results"
local tasks = require "harness.lua.tasks"

local M = {}

local SEED_AXIS = "seed"
local SEED_TAG = "s%d"
local EXPERIMENT_KEYS = {name = true, schema = true, base = true, axes = true, scales = true}
local SCALE_KEYS = {seeds = true, set = true, per_level = true, note = true, only = true}

local FNV64_OFFSET = -3750763034362895579 -- 0xcbf29ce484222325 as a signed 64-bit integer
local FNV64_PRIME = 1099511628211          -- 0x100000001b3
local HASH_MASK = 0xffffffff               -- 8 hex digits: collisions need ~65k recipes

-- FNV-1a over the bytes of s, in 64-bit wrapping integer arithmetic.
function M.fnv1a64(s)
  local h = FNV64_OFFSET
  for i = 1, #s do h = (h ~ s:byte(i)) * FNV64_PRIME end
  return h
end

-- The short hash of a resolved config that ends its run id.
function M.config_hash(cfg)
  return ("%08x"):format(M.fnv1a64(results.serialize(cfg)) & HASH_MASK)
end

local function keys_of(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = tostring(k) end
  table.sort(ks)
  return table.concat(ks, ", ")
end

-- Checks the experiment table's own structure (not the configs, which validate() checks);
-- errors in the option grammar (harness/lua/options.lua) under "experiment <name>".
function M.check_experiment(exp)
  if type(exp) ~= "table" then
    error("grid: an experiment script must return a table, got " .. type(exp), 0)
  end
  local where = "experiment " .. tostring(exp.name)
  local fail = options.fail
  options.known_keys(where, exp, EXPERIMENT_KEYS)
  for _, k in ipairs{"name", "schema", "base", "axes", "scales"} do
    if exp[k] == nil then options.missing(where, k) end
  end
  if type(exp.name) ~= "string" or not exp.name:match("^[%w_]+$") then
    fail(where, "name", exp.name, "a string of letters, digits and _")
  end
  if not tasks.MODULES[exp.schema] then
    fail(where, "schema", exp.schema, "one of " .. table.concat(tasks.names(), ", "))
  end
  for _, k in ipairs{"base", "axes", "scales"} do
    if type(exp[k]) ~= "table" then fail(where, k, exp[k], "a table") end
  end
  local seen = {}
  local level_keys = {} -- "axis=id" of every level, for per_level
  local level_ids = {}  -- axis name -> {id = true}, for only
  for i, axis in ipairs(exp.axes) do
    local aw = ("%s: axis %d"):format(where, i)
    options.known_keys(aw, axis, {"levels", "name"})
    if type(axis.name) ~= "string" or axis.name == SEED_AXIS or seen[axis.name] then
      fail(aw, "name", axis.name, ("a unique string other than '%s'"):format(SEED_AXIS))
    end
    seen[axis.name] = true
    if type(axis.levels) ~= "table" or #axis.levels == 0 then
      fail(aw, "levels", axis.levels, "a non-empty list")
    end
    local ids = {}
    for j, level in ipairs(axis.levels) do
      local lw = ("%s (%s) level %d"):format(aw, axis.name, j)
      options.known_keys(lw, level, {"id", "set"})
      if type(level.id) ~= "string" or not level.id:match("^[%w_]+$") or ids[level.id] then
        fail(lw, "id", level.id, "a unique string of letters, digits and _")
      end
      ids[level.id] = true
      level_ids[axis.name] = ids
      level_keys[#level_keys + 1] = axis.name .. "=" .. level.id
      if type(level.set) ~= "table" then fail(lw, "set", level.set, "a table") end
    end
  end
  for scale, recipe in pairs(exp.scales) do
    local sw = ("%s: scale '%s'"):format(where, tostring(scale))
    options.known_keys(sw, recipe, SCALE_KEYS)
    if type(recipe.seeds) ~= "table" or #recipe.seeds == 0 then
      fail(sw, "seeds", recipe.seeds, "a non-empty list of integers >= 0")
    end
    for i, s in ipairs(recipe.seeds) do
      if math.type(s) ~= "integer" or s < 0 then
        fail(sw, ("seeds[%d]"):format(i), s, "an integer >= 0")
      end
    end
    -- per_level keys name axis levels ("axis=id")
    options.known_keys(sw .. ": per_level", recipe.per_level or {}, level_keys)
    if recipe.only ~= nil and (type(recipe.only) ~= "table" or #recipe.only == 0) then
      fail(sw, "only", recipe.only, "a non-empty list of {axis = id or {ids}} tables")
    end
    for i, entry in ipairs(recipe.only or {}) do
      local ew = ("%s: only[%d]"):format(sw, i)
      if type(entry) ~= "table" then fail(sw, ("only[%d]"):format(i), entry, "a table") end
      options.known_keys(ew, entry, level_ids)
      for axis, v in pairs(entry) do
        local list = type(v) == "table" and v or {v}
        for _, id in ipairs(list) do
          if not level_ids[axis][id] then
            fail(ew, axis, id, "a level id of axis '" .. axis .. "'")
          end
        end
      end
    end
  end
end

-- The axes of exp at one scale, the seed axis included (last).
function M.axes(exp, scale)
  local recipe = exp.scales[scale]
  local axes = {}
  for i, a in ipairs(exp.axes) do axes[i] = a end
  local seeds = {}
  for i, s in ipairs(recipe.seeds) do
    seeds[i] = {id = tostring(s), tag = SEED_TAG:format(s), set = {seed = s}}
  end
  axes[#axes + 1] = {name = SEED_AXIS, levels = seeds}
  return axes
end

-- {"net=preact_resnet18", "seed=1,2"} -> {net = {preact_resnet18 = true}, seed = {...}},
-- checked against the axes of exp at this scale.
function M.parse_filters(list, exp, scale)
  local axes = M.axes(exp, scale)
  local filters = {}
  for _, f in ipairs(list) do
    local name, values = tostring(f):match("^([%w_]+)=([%w_,]+)$")
    if not name then
      error(("grid: filter '%s' is not axis=id or axis=id1,id2"):format(tostring(f)), 0)
    end
    local axis
    for _, a in ipairs(axes) do if a.name == name then axis = a end end
    if not axis then
      local names = {}
      for i, a in ipairs(axes) do names[i] = a.name end
      error(("grid: filter '%s': no axis '%s' (axes: %s)"):format(f, name,
            table.concat(names, ", ")), 0)
    end
    filters[name] = filters[name] or {}
    for v in values:gmatch("[^,]+") do
      local ok = false
      local ids = {}
      for i, level in ipairs(axis.levels) do
        ok = ok or level.id == v
        ids[i] = level.id
      end
      if not ok then
        error(("grid: filter '%s': axis '%s' has no level '%s' at scale %s (levels: %s)")
              :format(f, name, v, scale, table.concat(ids, ", ")), 0)
      end
      filters[name][v] = true
    end
  end
  return filters
end

-- Whether the levels {axis = id} of a run are kept by a scale's `only` list (nil keeps all).
local function kept(only, levels)
  if not only then return true end
  for _, entry in ipairs(only) do
    local all = true
    for axis, v in pairs(entry) do
      local hit = false
      for _, id in ipairs(type(v) == "table" and v or {v}) do hit = hit or levels[axis] == id end
      all = all and hit
    end
    if all then return true end
  end
  return false
end

-- The runs of exp at one scale, in grid order (first axis outermost), filtered:
-- {{id =, levels = {axis = id, ...}, config = <validated>}, ...}.
function M.expand(exp, scale, filters)
  M.check_experiment(exp)
  if not exp.scales[scale] then
    error(("%s: no scale '%s' (scales: %s)"):format(exp.name, tostring(scale),
          keys_of(exp.scales)), 0)
  end
  local recipe = exp.scales[scale]
  local schema = tasks.get(exp.schema).schema
  local axes = M.axes(exp, scale)
  filters = filters or {}
  local runs = {}
  local chosen = {}
  local function visit(i)
    if i > #axes then
      local cfg = config.merge(exp.base, recipe.set)
      local tags, levels = {scale}, {}
      for _, pick in ipairs(chosen) do
        cfg = config.merge(cfg, pick.level.set)
        tags[#tags + 1] = pick.level.tag or pick.level.id
        levels[pick.axis] = pick.level.id
      end
      if not kept(recipe.only, levels) then return end
      for _, pick in ipairs(chosen) do
        local over = (recipe.per_level or {})[pick.axis .. "=" .. pick.level.id]
        if over then cfg = config.merge(cfg, over) end
      end
      cfg.scale = scale
      local ok, resolved = pcall(config.validate, cfg, schema)
      if not ok then
        error(("%s (%s): %s"):format(exp.name, table.concat(tags, "-"), resolved), 0)
      end
      tags[#tags + 1] = M.config_hash(resolved)
      runs[#runs + 1] = {id = table.concat(tags, "-"), levels = levels, config = resolved}
      return
    end
    local axis = axes[i]
    for _, level in ipairs(axis.levels) do
      local f = filters[axis.name]
      if not f or f[level.id] then
        chosen[i] = {axis = axis.name, level = level}
        visit(i + 1)
      end
    end
    chosen[i] = nil
  end
  visit(1)
  return runs
end

-- For reports: the experiment script experiments/<name>.lua, or nil when it cannot be loaded.
function M.load_experiment(name)
  local ok, e = pcall(require, "experiments." .. name)
  return ok and type(e) == "table" and e or nil
end

-- For reports: {[key_of(config)] = true} over the runs an experiment's grid has at a scale
-- (key_of may return nil to leave a run out), or nil when the experiment is absent or cannot
-- be expanded there (a report then cannot say "not in the grid").
function M.keys_at(exp, scale, key_of)
  if type(exp) ~= "table" or type(exp.scales) ~= "table" or not exp.scales[scale] then
    return nil
  end
  local ok, runs = pcall(M.expand, exp, scale)
  if not ok then return nil end
  local set = {}
  for _, r in ipairs(runs) do
    local k = key_of(r.config)
    if k then set[k] = true end
  end
  return set
end

-- Sorts a list of scale names in place: those of `order` first, in its order, then the rest
-- alphabetically (the reports' section order).
function M.sort_scales(scales, order)
  local rank = {}
  for i, s in ipairs(order) do rank[s] = i end
  table.sort(scales, function(a, b)
    local ra, rb = rank[a] or #order + 1, rank[b] or #order + 1
    if ra ~= rb then return ra < rb end
    return a < b
  end)
  return scales
end

return M
