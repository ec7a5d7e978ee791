-- table1_report.lua: Table 1 of the mixup paper (ImageNet-2012 top-1 and top-5 validation
-- error) from the results files of experiments/table1_imagenet.lua
-- (harness/lua/tasks/imagenet_classifier.lua): per scale, net, epochs and method the published
-- numbers beside the reproduced ones, and mixup - ERM on top-1 with its interval and verdict.
--
--   local t1 = require "harness.lua.table1_report"
--   local model = t1.collect{results = "results"}  -- opts.published: rows (default
--                                                   -- experiments/published.lua)
--   local md = t1.render(model)                     -- the report's Table 1 section
--
-- Rows follow the grid (net x epochs x method), each with the published cell of the same
-- model, epochs and method. Four of Table 1's ERM cells are baselines the paper quotes from
-- Goyal et al. 2017 (ResNets, 90 epochs) and Xie et al. 2016 (ResNeXts, 100 epochs), not runs
-- of the mixup authors: an ERM row without a published number of its own shows the quoted one,
-- marked "quoted", with its epochs. The statistic is the classifier's (the median over the last
-- 5 % of epochs: results.median_final), of the top-1 and of the top-5 curves; values are the
-- mean +- sample sd over seeds. mixup - ERM (top-1) pairs runs by seed (harness/lua/stats.lua);
-- its verdict is against the sign of the published difference, the quoted baseline's when the
-- paper ran no ERM of that net and length.
-- Non-goals: the other tables (report.lua appends this section), plots.

local results = require "harness.lua.results"
local stats = require "harness.lua.stats"

local M = {}

M.EXPERIMENT = "table1_imagenet"
M.COMMAND = "make reproduce-table1"
M.SCALE_ORDER = {"paper", "cpu", "smoke"}
M.NETS = {
  {id = "resnet50", model = "ResNet-50"}, {id = "resnet101", model = "ResNet-101"},
  {id = "resnext101_32x4d", model = "ResNeXt-101 32x4d"},
  {id = "resnext101_64x4d", model = "ResNeXt-101 64x4d"},
}
M.EPOCHS = {{id = "e90", epochs = 90}, {id = "e200", epochs = 200}}
M.METHODS = {{id = "erm", label = "ERM"}, {id = "mixup", label = "mixup"}}
M.NOTES = {
  paper = "the published recipe (one seed unless more were run)",
  cpu = "Imagenette's 10 classes at 128 px, nets at width 16: not comparable in magnitude "
        .. "with the paper; only mixup - ERM and its verdict are",
  smoke = "a generated folder and a tiny net: checks the pipeline, not the paper",
}

-- {==================================================================================
-- Model
-- ===================================================================================

-- The published cell {top1 =, top5 =, quoted = "Goyal et al. 2017" | nil, epochs =} of a
-- model, epochs and method ("ERM" / "mixup"); an ERM without its own row takes the quoted one.
local function published_cell(rows, model, epochs, method)
  local own, quoted = {}, {}
  for _, r in ipairs(rows) do
    if r.tag == "T1" and r.model == model then
      local e = math.tointeger(tonumber(r.setting:match("epochs=(%d+)")))
      local m = r.method:match("^(%a+)")
      local q = r.method:match("^ERM %((.-), quoted baseline%)")
      local key = r.metric == "top1_err_pct" and "top1" or r.metric == "top5_err_pct" and "top5"
      if key and m == method then
        if q then
          quoted[key], quoted.quoted, quoted.epochs = r.value, q, e
        elseif e == epochs then
          own[key], own.epochs = r.value, e
        end
      end
    end
  end
  if own.top1 or own.top5 then return own end
  if method == "ERM" and quoted.top1 then return quoted end
  return nil
end

-- scale, net, method, epochs and seed from a run id "<scale>-<net>-<method>-<epochs>-s<seed>-h".
local function levels_of(id)
  local scale, net, method, epochs, seed = id:match("^(%a+)%-([%w_]+)%-(%a+)%-(e%d+)%-s(%d+)%-")
  return scale, net, method, epochs, math.tointeger(tonumber(seed))
end

local function summary(values)
  local mean, sd, n = stats.mean_sd(values)
  return {mean = mean, sd = sd, n = n}
end

function M.collect(opts)
  local published = opts.published or require "experiments.published"
  local dir = (opts.results or "results") .. "/" .. M.EXPERIMENT
  local runs = results.scan(dir)
  local by = {} -- by[scale][net][epochs][method] = {top1 = {}, top5 = {}, seeds = {}}
  for _, run in ipairs(runs) do
    local scale, net, method, epochs, seed = levels_of(run.run_id or "")
    if scale and run.curves.test_error_top5 then
      local t = by
      for _, k in ipairs{scale, net, epochs} do
        t[k] = t[k] or {}
        t = t[k]
      end
      local cell = t[method] or {top1 = {}, top5 = {}, seeds = {}}
      t[method] = cell
      cell.top1[#cell.top1 + 1] = results.median_final(run.curves)
      cell.top5[#cell.top5 + 1] = results.median_final{test_error = run.curves.test_error_top5}
      cell.seeds[#cell.seeds + 1] = seed
    end
  end
  local model = {sections = {}, runs = #runs}
  for _, scale in ipairs(M.SCALE_ORDER) do
    if by[scale] or (scale == "paper" and #runs == 0) then
      local sec = {scale = scale, rows = {}, ran = by[scale] ~= nil}
      for _, net in ipairs(M.NETS) do
        for _, ep in ipairs(M.EPOCHS) do
          local cells = ((by[scale] or {})[net.id] or {})[ep.id] or {}
          local pubs = {}
          for _, m in ipairs(M.METHODS) do
            pubs[m.id] = published_cell(published, net.model, ep.epochs, m.label)
          end
          local d, verdict = nil, nil
          local e, x = cells.erm, cells.mixup
          local pe, px = pubs.erm, pubs.mixup
          local claim = pe and px and pe.top1 and px.top1 and px.top1 - pe.top1 or nil
          if e and x then
            d = stats.difference({values = x.top1, seeds = x.seeds},
                                 {values = e.top1, seeds = e.seeds})
            verdict = claim and stats.verdict(d, claim > 0 and 1 or claim < 0 and -1 or 0)
          end
          -- a block that ran, and at the paper scale every block the paper has (a cell of its
          -- own, not only a quoted baseline)
          local own = (pe and not pe.quoted) or px
          if (scale == "paper" and own) or cells.erm or cells.mixup then
            for _, m in ipairs(M.METHODS) do
              local c = cells[m.id]
              sec.rows[#sec.rows + 1] = {
                model = net.model, epochs = ep.epochs, method = m.label, published = pubs[m.id],
                top1 = c and summary(c.top1), top5 = c and summary(c.top5),
                claim = m.id == "mixup" and claim or nil, d = m.id == "mixup" and d or nil,
                verdict = m.id == "mixup" and verdict or nil,
              }
            end
          end
        end
      end
      model.sections[#model.sections + 1] = sec
    end
  end
  return model
end

-- {==================================================================================
-- Rendering
-- ===================================================================================

local DASH = "\u{2013}"


local function pub_text(p, key)
  if not p or not p[key] then return DASH end
  if p.quoted then return ("%g (quoted: %s, %d epochs)"):format(p[key], p.quoted, p.epochs) end
  return ("%g"):format(p[key])
end

local function rep_text(s, ran)
  if not s then return ran and "not run" or DASH end
  return s.sd and ("%.2f \u{b1} %.2f"):format(s.mean, s.sd) or ("%.2f"):format(s.mean)
end

local function diff_text(r)
  if r.method ~= "mixup" then return "" end
  local pubd = r.claim and ("%+.1f"):format(r.claim) or DASH
  if not r.d then return pubd .. " / " .. DASH end
  return ("%s / %+.2f"):format(pubd, r.d.mean)
end

local function interval_text(r)
  if not r.d then return r.method == "mixup" and DASH or "" end
  if not r.d.lo then return "no interval (fewer than 2 seeds)" end
  return ("[%+.2f, %+.2f]"):format(r.d.lo, r.d.hi)
end

function M.render(model)
  local out = {"## Table 1: ImageNet-2012 validation error (%), top-1 and top-5", ""}
  if model.runs == 0 then
    out[#out + 1] = ("Not run yet (`make data-imagenet IMAGENET=<ILSVRC-2012 folder>` then "
                     .. "`%s`; `%s SCALE=smoke` runs on a generated folder). The published "
                     .. "numbers:"):format(M.COMMAND, M.COMMAND)
    out[#out + 1] = ""
  end
  out[#out + 1] = "Reproduced: the median over each run's last 5 % of epochs of the top-1 and "
                  .. "top-5 error, mean \u{b1} sample sd over n seeds; mixup \u{2212} ERM on "
                  .. "top-1 paired by seed with its 95 % interval; the verdict against the "
                  .. "sign of the published difference. \"quoted\": a baseline the paper "
                  .. "quotes from another paper, not a run of its authors."
  for _, sec in ipairs(model.sections) do
    out[#out + 1] = ""
    out[#out + 1] = ("### Scale %s%s"):format(sec.scale, sec.ran and "" or " (no runs yet)")
    if M.NOTES[sec.scale] then out[#out + 1] = "" ; out[#out + 1] = M.NOTES[sec.scale] end
    out[#out + 1] = ""
    out[#out + 1] = "| net | epochs | method | published top-1 | published top-5 | "
                    .. "reproduced top-1 | reproduced top-5 | n | mixup \u{2212} ERM top-1 "
                    .. "(published / reproduced) | 95 % interval | verdict |"
    out[#out + 1] = "|---|---|---|---|---|---|---|---|---|---|---|"
    for _, r in ipairs(sec.rows) do
      out[#out + 1] = ("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |"):format(
        r.model, r.epochs, r.method, pub_text(r.published, "top1"),
        pub_text(r.published, "top5"), rep_text(r.top1, sec.ran), rep_text(r.top5, sec.ran),
        r.top1 and tostring(r.top1.n) or "0", diff_text(r), interval_text(r),
        r.method == "mixup" and (r.verdict or DASH) or "")
    end
  end
  out[#out + 1] = ""
  return table.concat(out, "\n")
end


return M
