-- bench_conv.lua [BATCH] [REPS]: every 3x3 stride-1 layer shape of the Table 2 nets (PreAct
-- ResNet-18 at widths 16 and 64, WRN-28-10) that Winograd can run, forward and backward (dx
-- and dW) of one conv layer at batch BATCH (default 128) under each ConvAlgo: direct (the
-- conv_simd kernels), im2col + GEMM and winograd (harness/nn/conv_wino.c). Prints per shape
--   mixup conv c=<C> k=<K> hw=<H> direct_fwd_ms=<f> direct_bwd_ms=<f> im2col_... winograd_...
--   speedup_fwd=<f> speedup_bwd=<f>
-- (milliseconds of a forward (y) and of a backward (dx and dW), each the best of REPS
-- (default 5) after one untimed; speedups: direct over winograd) with the thread count of
-- mixup's --threads. The measurements behind conv.c's wino_pays (CONV_ALGO_DEFAULT's rule)
-- and `make bench`'s conv lines.
local nn = require "engine.nn"
local sys = require "engine.sys"
local tensor = require "engine.tensor"
local train = require "engine.train"

local batch, reps = ...
batch = math.tointeger(tonumber(batch or 128))
reps = math.tointeger(tonumber(reps or 5))
assert(batch and batch >= 1 and reps and reps >= 1, "usage: mixup tools/bench_conv.lua "
       .. "[BATCH] [REPS]")

-- {C, K, H}: the shapes, each once (PreAct w16, w64, WRN-28-10)
local SHAPES = {
  {16, 16, 32}, {32, 32, 16}, {64, 64, 8}, {128, 128, 4},
  {64, 64, 32}, {128, 128, 16}, {256, 256, 8}, {512, 512, 4},
  {16, 160, 32}, {160, 160, 32}, {320, 320, 16}, {640, 640, 8},
}
local ALGOS = {"direct", "im2col", "winograd"}

local function time_algo(c, k, h, algo)
  local desc = {kind = "conv", in_c = c, out_c = k, k = 3, pad = 1, bias = false, algo = algo}
  local net = nn.build(desc, {c = c, h = h, w = h}, {batch = batch})
  net:init(train.rng(1, train.stream.init))
  -- the kernels' time does not depend on the values (no denormals): constants will do
  local x, dy = tensor.new{batch, c, h, h}, tensor.new{batch, k, h, h}
  x:fill(0.5)
  dy:fill(0.25)
  local fwd, bwd = math.huge, math.huge
  for i = 0, reps do
    local t0 = sys.clock()
    net:forward(x, true)
    local t1 = sys.clock()
    net:backward(dy, false)
    local t2 = sys.clock()
    if i > 0 then fwd, bwd = math.min(fwd, t1 - t0), math.min(bwd, t2 - t1) end
  end
  return fwd * 1e3, bwd * 1e3, #net:winograd() > 0
end

for _, s in ipairs(SHAPES) do
  local c, k, h = table.unpack(s)
  local f, b, used = {}, {}, nil
  for _, a in ipairs(ALGOS) do
    local w
    f[a], b[a], w = time_algo(c, k, h, a)
    if a == "winograd" then used = w end
  end
  assert(used, ("conv c=%d k=%d hw=%d: winograd did not run (no AVX-512?)"):format(c, k, h))
  local line = {("mixup conv c=%d k=%d hw=%d"):format(c, k, h)}
  for _, a in ipairs(ALGOS) do
    line[#line + 1] = ("%s_fwd_ms=%.1f %s_bwd_ms=%.1f"):format(a, f[a], a, b[a])
  end
  line[#line + 1] = ("speedup_fwd=%.2f speedup_bwd=%.2f threads=%d batch=%d"):format(
                    f.direct / f.winograd, b.direct / b.winograd, nn.get_threads(), batch)
  print(table.concat(line, " "))
end
