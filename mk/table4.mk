# mk/table4.mk: what is specific to Table 4 (CIFAR-10 with corrupted labels,
# experiments/table4_noisy.lua), included by the top-level Makefile. Its runs come from
# mk/experiments.mk (`make reproduce-table4`); its report section from harness/lua/report.lua
# (`make report`).
#
#   make plots-table4   test error and training error on the corrupted labels per epoch, per
#                       scale and noise level (tools/table4.lua); also part of `make plots`
#
# Run defaults: 2 processes of 1 thread (JOBS/THREADS on the command line override them), as
# Table 2's width-16 nets run best on 2 cores.
table4_noisy_JOBS    := 2
table4_noisy_THREADS := 1
RESULTS             ?= results
PLOTS               ?= plots

.PHONY: plots-table4

plots-table4: $(EXE)
	@./$(EXE) tools/table4.lua --results $(RESULTS) --out $(PLOTS) --export $(PLOTS)/data \
	    --scripts plots

plots: plots-table4
