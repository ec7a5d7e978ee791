# mk/gan.mk: Figure 5 of the mixup paper, the GAN on 2-D toy data (experiments/figure5_gan.lua),
# included by the top-level Makefile.
#
#   make reproduce-figure5 [SCALE=cpu|smoke|paper]   trains the grid: the two shapes run side by
#                         side as two processes of GAN_THREADS threads each (make -j2 inside),
#                         which on 2 cores beats one process of 2 threads (the nets' GEMMs are
#                         too small to split well); complete runs are skipped, so rerunning
#                         continues an interrupted grid
#   make plots-figure5    results/figure5_gan/METRICS.md (metrics over seeds) and
#                         plots/figure5_<scale>.{png,svg} (tools/figure5.lua); also part of
#                         `make plots`
#
# Variables: SCALE (Makefile), GAN_THREADS (threads per shape process, default 1; results are
# bit-identical for a given count), GAN_FILTERS (extra grid filters, e.g. method=erm,mixup or
# seed=1), GAN_METHODS (the figure's blocks, default erm,mixup), GAN_SEED (the seed drawn,
# default the smallest one every block has), RESULTS and PLOTS
# (mk/plots.mk's).
GAN_EXP     := figure5_gan
GAN_SHAPES  := grid ring
GAN_THREADS ?= 1
GAN_FILTERS ?=
GAN_METHODS ?= erm,mixup
GAN_SEED    ?=
RESULTS     ?= results
PLOTS       ?= plots

.PHONY: reproduce-figure5 plots-figure5 $(GAN_SHAPES:%=figure5-shape-%)

reproduce-figure5: $(EXE)
	@$(MAKE) --no-print-directory -j$(words $(GAN_SHAPES)) $(GAN_SHAPES:%=figure5-shape-%)

$(GAN_SHAPES:%=figure5-shape-%): figure5-shape-%: $(EXE)
	./$(EXE) --threads $(GAN_THREADS) experiments/run.lua $(GAN_EXP) --scale $(SCALE) \
	    --out $(RESULTS) shape=$* $(GAN_FILTERS)

plots-figure5: $(EXE)
	@./$(EXE) tools/figure5.lua --results $(RESULTS) --out $(PLOTS) --export $(PLOTS)/data \
	    --scripts plots --methods $(GAN_METHODS) \
	    $(if $(GAN_SEED),--seed $(GAN_SEED))

plots: plots-figure5
