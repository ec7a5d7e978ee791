-- test_stats.lua: harness/lua/stats.lua, the intervals and verdicts of the report, against
-- printed Student's t tables and intervals worked by hand. Run as
-- `./mixup tests/lua/test_stats.lua [filter]`.
local stats = require "harness.lua.stats"
local check = require "tests.lua.check"

local suite = check.suite(...)

-- Printed two-sided critical values (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2), 4 decimals.
local T_TABLE = {
  {0.975, 1, 12.7062}, {0.975, 2, 4.3027}, {0.975, 3, 3.1824}, {0.975, 4, 2.7764},
  {0.975, 5, 2.5706}, {0.975, 9, 2.2622}, {0.975, 10, 2.2281}, {0.975, 30, 2.0423},
  {0.975, 100, 1.9840}, {0.95, 5, 2.0150}, {0.995, 3, 5.8409}, {0.90, 1, 3.0777},
}
local TABLE_TOL = 5e-5 -- the tables round to 4 decimals

suite:test("t_quantile_table", function()
  for _, r in ipairs(T_TABLE) do
    local q = stats.t_quantile(r[1], r[2])
    check.truthy(math.abs(q - r[3]) <= TABLE_TOL,
                 ("t_%.3f(%d) = %.6f, table %.4f"):format(r[1], r[2], q, r[3]))
    check.near(stats.t_quantile(1 - r[1], r[2]), -q, 1e-9, "symmetry")
  end
  -- large df tends to the normal quantile 1.959964
  check.truthy(math.abs(stats.t_quantile(0.975, 1e6) - 1.959964) < 1e-5, "normal limit")
end)

suite:test("t_quantile_fractional_df", function()
  -- Welch's df are not integers: the quantile must lie between its integer neighbours
  local q2, q25, q3 = stats.t_quantile(0.975, 2), stats.t_quantile(0.975, 2.5),
                      stats.t_quantile(0.975, 3)
  check.truthy(q2 > q25 and q25 > q3, ("monotone in df: %g %g %g"):format(q2, q25, q3))
  check.near(stats.t_cdf(q25, 2.5), 0.975, 1e-10, "cdf inverts the quantile")
end)

suite:test("welch_by_hand", function()
  -- a = {1, 2, 3}, b = {4, 6, 8}: mean -4, se^2 = 1/3 + 4/3 = 5/3, df = (5/3)^2 / ((1/9 + 16/9)/2)
  -- = 50/17
  local d = stats.difference({values = {1, 2, 3}}, {values = {4, 6, 8}})
  check.eq(d.method, "welch", "no seeds: unpaired")
  check.near(d.mean, -4, 1e-12, "mean")
  check.near(d.se, math.sqrt(5 / 3), 1e-12, "se")
  check.near(d.df, 50 / 17, 1e-12, "Welch-Satterthwaite df")
  local half = stats.t_quantile(0.975, 50 / 17) * math.sqrt(5 / 3)
  check.near(d.lo, -4 - half, 1e-12, "lo")
  check.near(d.hi, -4 + half, 1e-12, "hi")
  check.truthy(half > 3.1824 * math.sqrt(5 / 3) and half < 4.3027 * math.sqrt(5 / 3),
               "half-width between the df = 2 and df = 3 ones")
end)

suite:test("paired_by_hand", function()
  -- seeds in another order on one side: d = {1, 2, 3}, mean 2, sd 1, se 1/sqrt(3), df 2
  local d = stats.difference({values = {1, 2, 4}, seeds = {1, 2, 3}},
                             {values = {1, 0, 0}, seeds = {3, 1, 2}})
  check.eq(d.method, "paired", "same seeds: paired")
  check.near(d.mean, 2, 1e-12, "mean")
  check.eq(d.df, 2, "df")
  check.truthy(math.abs(d.lo - (2 - 4.3027 / math.sqrt(3))) < 1e-4, "lo " .. d.lo)
  check.truthy(math.abs(d.hi - (2 + 4.3027 / math.sqrt(3))) < 1e-4, "hi " .. d.hi)
  -- a seed missing on one side: Welch
  local w = stats.difference({values = {1, 2, 4}, seeds = {1, 2, 3}},
                             {values = {1, 0, 0}, seeds = {3, 1, 4}})
  check.eq(w.method, "welch", "different seeds: unpaired")
end)

suite:test("no_interval", function()
  local one = stats.difference({values = {5}, seeds = {1}}, {values = {6}, seeds = {1}})
  check.eq(one.lo, nil, "one seed: no interval")
  check.near(one.mean, -1, 1e-12, "but a mean")
  check.eq(stats.verdict(one, -1), "inconclusive", "one seed is never a reproduction")
  -- identical per-seed differences: sd 0 claims certainty it does not have
  local flat = stats.difference({values = {2, 3}, seeds = {1, 2}},
                                {values = {3, 4}, seeds = {1, 2}})
  check.eq(flat.lo, nil, "zero spread: no interval")
  check.eq(stats.verdict(flat, -1), "inconclusive", "zero spread")
  check.eq(stats.format(one), "-1.00 (no interval)", "format")
end)

suite:test("verdicts", function()
  local function d(lo, hi) return {mean = (lo + hi) / 2, lo = lo, hi = hi} end
  check.eq(stats.verdict(d(-3, -1), -1), "reproduced", "below zero, paper below")
  check.eq(stats.verdict(d(1, 3), -1), "contradicted", "above zero, paper below")
  check.eq(stats.verdict(d(-1, 1), -1), "inconclusive", "straddles zero")
  check.eq(stats.verdict(d(1, 3), 1), "reproduced", "paper above")
  check.eq(stats.verdict(d(0, 3), 1), "inconclusive", "touching zero is not excluding it")
  check.eq(stats.verdict(d(1, 3), 0), "inconclusive", "no published direction")
  check.eq(stats.format(d(-3, -1)), "-2.00 [-3.00, -1.00]", "format")
  -- the issue's example: a 0.9-point difference over 2 seeds with a 0.4 spread is no verdict
  local ex = stats.difference({values = {34.0, 34.4}, seeds = {1, 2}},
                              {values = {33.3, 33.3}, seeds = {1, 2}})
  check.eq(stats.verdict(ex, 1), "inconclusive", "2 seeds, +0.9 +- 0.28: " .. stats.format(ex))
end)

suite:finish()
