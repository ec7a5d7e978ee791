-- figure2_report.lua: Figure 2 of the mixup paper from the evaluations of
-- experiments/figure2_interpolation.lua (harness/lua/tasks/interpolation.lua): per scale, the
-- miss rate and the input-gradient norm of ERM and mixup at every lambda, mean over the model
-- seeds with min and max (the figure's data, for tools/figure2.lua), and the report's section:
-- the values at lambda = 0, 0.5 and 1 beside the paper's read-off values (approximate, read off
-- its plot: PAPER_FACTS.md section 10), with the figure's two claims as verdicts at
-- lambda = 0.5: mixup's miss rate and its gradient norm below ERM's (95 % interval of mixup -
-- ERM over the seeds, paired: both models of a seed share the recipe and the pairs).
--
--   local f2 = require "harness.lua.figure2_report"
--   local model = f2.collect{results = "results"}
--   local md = f2.render(model)
-- model.sections[i] = {scale =, n =, lambdas = {...}, series = {erm_miss = {{mean, min, max,
-- values}, ...}, ...}, claims = {...}}

local stats = require "harness.lua.stats"
local interp = require "harness.lua.tasks.interpolation"

local M = {}

M.EXPERIMENT = "figure2_interpolation"
M.COMMAND = "make reproduce-figure2"
M.SCALE_ORDER = {"paper", "cpu", "smoke", "test"}
M.SERIES = {"erm_miss", "mixup_miss", "erm_gnorm", "mixup_gnorm"}
-- read off the paper's plot (approximate; PAPER_FACTS.md section 10)
M.READ_OFF = {
  miss = {erm = {[0] = "\u{2248} 0\u{2013}1", [0.5] = "\u{2248} 16\u{2013}17",
                 [1] = "\u{2248} 0\u{2013}1"},
          mixup = {[0] = "\u{2248} 0\u{2013}1", [0.5] = "\u{2248} 6", [1] = "\u{2248} 0\u{2013}1"}},
  gnorm = {erm = {[0] = "\u{2248} 0", [0.5] = "\u{2248} 0.17\u{2013}0.18", [1] = "\u{2248} 0"},
           mixup = {[0] = "\u{2248} 0", [0.5] = "\u{2248} 0.035\u{2013}0.04", [1] = "\u{2248} 0"}},
}
M.CLAIM_LAMBDA = 0.5

local function rank(list, v)
  for i, x in ipairs(list) do if x == v then return i end end
  return #list + 1
end

local function key(l) return ("%.6f"):format(l) end

function M.collect(opts)
  opts = opts or {}
  local runs = interp.scan(opts.results or "results")
  local by_scale, scales = {}, {}
  for _, e in ipairs(runs) do
    if e.experiment == M.EXPERIMENT then
      local s = e.provenance.scale
      if not by_scale[s] then by_scale[s], scales[#scales + 1] = {}, s end
      table.insert(by_scale[s], e)
    end
  end
  table.sort(scales, function(a, b) return rank(M.SCALE_ORDER, a) < rank(M.SCALE_ORDER, b) end)
  local model = {sections = {}}
  for _, scale in ipairs(scales) do
    local evals = by_scale[scale]
    table.sort(evals, function(a, b) return a.config.seed < b.config.seed end)
    local lambdas, seen = {}, {}
    for _, e in ipairs(evals) do
      for _, l in ipairs(e.curves.lambda) do
        if not seen[key(l)] then seen[key(l)], lambdas[#lambdas + 1] = true, l end
      end
    end
    table.sort(lambdas)
    local sec = {scale = scale, n = #evals, lambdas = lambdas, series = {}, claims = {},
                 seeds = {}}
    for i, e in ipairs(evals) do sec.seeds[i] = e.config.seed end
    -- values[name][lambda key] = {per seed}
    local values = {}
    for _, name in ipairs(M.SERIES) do
      values[name] = {}
      sec.series[name] = {}
      for li, l in ipairs(lambdas) do
        local v, s = {}, {}
        for _, e in ipairs(evals) do
          for u = 1, #e.curves.lambda do
            if key(e.curves.lambda[u]) == key(l) then
              v[#v + 1] = e.curves[name][u]
              s[#s + 1] = e.config.seed
            end
          end
        end
        local lo, hi = math.huge, -math.huge
        for _, x in ipairs(v) do lo, hi = math.min(lo, x), math.max(hi, x) end
        local mean, sd = stats.mean_sd(v)
        sec.series[name][li] = {lambda = l, mean = mean, sd = sd, min = lo, max = hi,
                                values = v, seeds = s}
        values[name][key(l)] = {values = v, seeds = s}
      end
    end
    local at = key(M.CLAIM_LAMBDA)
    for _, what in ipairs{"miss", "gnorm"} do
      local m, e = values["mixup_" .. what][at], values["erm_" .. what][at]
      local claim = {what = what}
      if m and e and #m.values > 0 then
        claim.d = stats.difference(m, e)
        claim.verdict = stats.verdict(claim.d, -1)
      end
      sec.claims[#sec.claims + 1] = claim
    end
    model.sections[#model.sections + 1] = sec
  end
  return model
end

local function cell(p, digits)
  if not p or not p.mean then return "\u{2013}" end
  local f = "%." .. digits .. "f"
  return (f):format(p.mean) .. (p.sd and (" \u{b1} " .. f):format(p.sd) or "")
end

function M.render(model)
  local out = {"## Figure 2: between pairs of training images", ""}
  if #model.sections == 0 then
    out[#out + 1] = ("Not run yet (`%s`)."):format(M.COMMAND)
    out[#out + 1] = ""
    return table.concat(out, "\n")
  end
  out[#out + 1] = "At x = \u{3bb} x_i + (1 \u{2212} \u{3bb}) x_j for random pairs of training "
                  .. "images: (a) miss, the percentage of pairs predicted as neither y_i nor y_j; "
                  .. "(b) the norm of the loss's input gradient (normalised input units, the "
                  .. "mixed target). Paper: values read off its plot (approximate). Here: mean "
                  .. "\u{b1} sd over the model seeds. Verdicts at \u{3bb} = 0.5: 95 % interval "
                  .. "of mixup \u{2212} ERM over the seeds, paired; the paper's side is below "
                  .. "zero."
  out[#out + 1] = ""
  for _, sec in ipairs(model.sections) do
    out[#out + 1] = ("### Scale `%s` (%d seed%s)"):format(sec.scale, sec.n,
                                                           sec.n == 1 and "" or "s")
    out[#out + 1] = ""
    out[#out + 1] = "| \u{3bb} | miss ERM (paper / here) | miss mixup | gradient norm ERM | "
                    .. "gradient norm mixup |"
    out[#out + 1] = "|---|---|---|---|---|"
    for li, l in ipairs(sec.lambdas) do
      local ro = function(what, m)
        local r = M.READ_OFF[what][m][l == 0 and 0 or l == 1 and 1 or l == 0.5 and 0.5 or -1]
        return r or "\u{2013}"
      end
      if l == 0 or l == 0.5 or l == 1 then
        local s = sec.series
        out[#out + 1] = ("| %g | %s / %s | %s / %s | %s / %s | %s / %s |"):format(l,
          ro("miss", "erm"), cell(s.erm_miss[li], 1), ro("miss", "mixup"),
          cell(s.mixup_miss[li], 1), ro("gnorm", "erm"), cell(s.erm_gnorm[li], 4),
          ro("gnorm", "mixup"), cell(s.mixup_gnorm[li], 4))
      end
    end
    out[#out + 1] = ""
    out[#out + 1] = "| claim at \u{3bb} = 0.5 | mixup \u{2212} ERM (95 % interval) | verdict |"
    out[#out + 1] = "|---|---|---|"
    for _, c in ipairs(sec.claims) do
      out[#out + 1] = ("| mixup's %s below ERM's | %s | %s |"):format(
        c.what == "miss" and "miss rate" or "gradient norm",
        c.d and ("%s (%s, %d seed%s)"):format(stats.format(c.d, c.what == "miss" and 2 or 4),
                                                c.d.method == "paired" and "paired t"
                                                or "Welch", c.d.n_a, c.d.n_a == 1 and "" or "s")
        or "\u{2013}",
        c.verdict or "\u{2013}")
    end
    out[#out + 1] = ""
  end
  return table.concat(out, "\n")
end

return M
