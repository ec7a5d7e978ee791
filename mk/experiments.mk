# mk/experiments.mk: the paper's experiments, included by the top-level Makefile.
#
#   make reproduce-table2   Table 2 (CIFAR): builds ./mixup, fetches CIFAR-10 (make data), runs
#                           the grid at SCALE (cpu by default; smoke | paper), then `make report`
#                           and `make plots`
#   make exp/table2_cifar   the runs only
#
# Variables: SCALE, THREADS and DATA (top-level Makefile); FILTER="net=preact_resnet18 seed=1"
# (grid filters, axis=id); FORCE=1 reruns complete runs from scratch; RESULTS=dir (results root,
# default results). Every command is resumable: interrupt it and run it again.

RESULTS ?= results
FILTER  ?=
FORCE   ?= 0

RUN_FLAGS = --scale $(SCALE) --out $(RESULTS) $(if $(filter 1,$(FORCE)),--force) $(FILTER)
RUN       = MIXUP_DATA=$(DATA) ./$(EXE) --threads $(THREADS) experiments/run.lua

.PHONY: reproduce-table2 exp/table2_cifar

exp/table2_cifar: $(EXE) data
	$(RUN) table2_cifar $(RUN_FLAGS)

reproduce-table2: exp/table2_cifar
	@$(MAKE) --no-print-directory report plots
