# mk/figure5.mk: what is specific to Figure 5 (the GAN on 2-D toy data,
# experiments/figure5_gan.lua), included by the top-level Makefile. Its runs come from
# mk/experiments.mk (`make reproduce-figure5`, `make exp/figure5_gan`).
#
#   make plots-figure5    results/figure5_gan/METRICS.md (metrics over seeds) and
#                         plots/figure5_<scale>.{png,svg} (tools/figure5.lua); also part of
#                         `make plots`
#
# Run defaults: 2 processes of 1 thread (JOBS/THREADS on the command line override them): on 2
# cores that beats one process of 2 threads, the nets' GEMMs being too small to split well.
# Variables: FIGURE5_METHODS (the figure's blocks, default erm,mixup), FIGURE5_SEED (the seed
# drawn, default the smallest one every block has), RESULTS and PLOTS (mk/plots.mk's).
figure5_gan_JOBS    := 2
figure5_gan_THREADS := 1
FIGURE5_METHODS     ?= erm,mixup
FIGURE5_SEED        ?=
RESULTS             ?= results
PLOTS               ?= plots

.PHONY: plots-figure5

plots-figure5: $(EXE)
	@./$(EXE) tools/figure5.lua --results $(RESULTS) --out $(PLOTS) --export $(PLOTS)/data \
	    --scripts plots --methods $(FIGURE5_METHODS) \
	    $(if $(FIGURE5_SEED),--seed $(FIGURE5_SEED))

plots: plots-figure5
