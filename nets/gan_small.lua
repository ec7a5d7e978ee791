-- gan_small.lua: the fully connected discriminator and generator of the mixup paper's GAN
-- experiment (Figure 5; /work/shared/paper/PAPER_FACTS.md section 8), as
-- hongyi-zhang/mixup gan/example_gan.py builds them with its Perceptron class:
--   discriminator: 2 -> 512 -> 512 -> 512 -> 1, ReLU between layers, the output a logit;
--   generator:     n_latent -> 512 -> 512 -> 512 -> 2, ReLU between layers, linear output.
-- Layer names follow the PyTorch module (self.net = Sequential(Linear, ReLU, ...)), so paths
-- read "gan_d.net.0" and the flat parameter vector lines up with parameters():
-- net.0.weight, net.0.bias, net.2.weight, ... Initialisation: the demo keeps PyTorch's
-- defaults, hence init = "torch_default" (U(-1/sqrt(in), 1/sqrt(in)) for weights and biases).
--
-- Usage: require("nets.gan_small"){role = "discriminator" | "generator", n_latent = 2,
-- hidden = 512, layers = 3, init = "torch_default"} returns a description for engine.nn.build
-- with input {c = 2, h = 1, w = 1} (discriminator) or {c = n_latent, h = 1, w = 1}
-- (generator). n_latent is the generator's input size (the demo tries 2, 5 and 10; the paper
-- uses 2) and is ignored by the discriminator. Every option has the paper's value as default.

local c = require "nets.containers"
local options = require "harness.lua.options"

local DATA_DIM = 2 -- points in the plane
local DEFAULTS = {role = "discriminator", n_latent = 2, hidden = 512, layers = 3,
                  init = "torch_default"}
local ROLES = {discriminator = {name = "gan_d", out = 1}, generator = {name = "gan_g",
               out = DATA_DIM}}

local function check_options(opts)
  local o = c.merge_options("gan_small", opts, DEFAULTS)
  if not ROLES[o.role] then
    options.fail("gan_small", "role", o.role, "one of discriminator, generator")
  end
  for _, k in ipairs{"n_latent", "hidden", "layers"} do
    if math.type(o[k]) ~= "integer" or o[k] < 1 then
      options.fail("gan_small", k, o[k], "an integer >= 1")
    end
  end
  return o
end

return function(opts)
  local o = check_options(opts or {})
  local role = ROLES[o.role]
  local sizes = {o.role == "generator" and o.n_latent or DATA_DIM}
  for _ = 1, o.layers do sizes[#sizes + 1] = o.hidden end
  sizes[#sizes + 1] = role.out
  local layers = {}
  for i = 1, #sizes - 1 do
    -- PyTorch's Sequential numbers every module, the ReLUs included
    layers[#layers + 1] = c.linear{name = tostring(#layers), in_f = sizes[i],
                                   out_f = sizes[i + 1], init = o.init}
    if i < #sizes - 1 then layers[#layers + 1] = c.relu{name = tostring(#layers)} end
  end
  return c.sequential(role.name, {c.sequential("net", layers)})
end
