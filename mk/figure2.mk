# mk/figure2.mk: what is specific to Figure 2 (between pairs of training images,
# experiments/figure2_interpolation.lua), included by the top-level Makefile. Its runs come from
# mk/experiments.mk (`make reproduce-figure2`): they measure Table 2's models, trained first
# when absent.
#
#   make plots-figure2   plots/figure2_<scale>_{miss,gnorm}.{png,svg} (tools/figure2.lua); also
#                        part of `make plots`
#
# Run defaults: 2 processes of 1 thread (JOBS/THREADS on the command line override them).
figure2_interpolation_JOBS    := 2
figure2_interpolation_THREADS := 1
RESULTS ?= results
PLOTS   ?= plots

.PHONY: plots-figure2

plots-figure2: $(EXE)
	@./$(EXE) tools/figure2.lua --results $(RESULTS) --out $(PLOTS) --export $(PLOTS)/data \
	    --scripts plots

plots: plots-figure2
