-- gan_run.lua EXPERIMENT --scale paper|cpu|smoke [--threads N] [--force] [--out DIR] [--list]
--             [axis=id[,id...] ...]
-- Runs a GAN grid (schema gan_toy, e.g. experiments/figure5_gan.lua) through
-- harness/lua/gan.lua, as experiments/run.lua does for the image-classification grids: runs
-- in grid order, complete ones skipped, results in DIR/<experiment>/<run-id>.h5 (default DIR
-- "results"). `make reproduce-figure5` runs this.
local gan = require "harness.lua.gan"
local provenance = require "harness.lua.provenance"

gan.main({...}, provenance.command_line(arg))
