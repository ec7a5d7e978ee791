# mk/ablation.mk: what is specific to the ablation table (experiments/ablation_cifar.lua),
# included by the top-level Makefile. Its runs come from mk/experiments.mk (`make
# reproduce-ablation`); its report section from harness/lua/ablation_report.lua (`make report`).
#
#   make plots-ablation   every method's test error at both weight decays beside the paper's
#                         values, per scale (tools/ablation.lua); also part of `make plots`
#
# Run defaults: 2 processes of 1 thread (JOBS/THREADS on the command line override them), as
# Table 2's width-16 nets run best on 2 cores.
ablation_cifar_JOBS    := 2
ablation_cifar_THREADS := 1
RESULTS               ?= results
PLOTS                 ?= plots

.PHONY: plots-ablation

plots-ablation: $(EXE)
	@./$(EXE) tools/ablation.lua --results $(RESULTS) --out $(PLOTS) --export $(PLOTS)/data \
	    --scripts plots

plots: plots-ablation
