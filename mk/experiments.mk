# mk/experiments.mk: one entry point per experiment script, generated from the list of scripts
# (no hand-written target per table), included by the top-level Makefile.
#
#   make reproduce                 every experiment at SCALE, one after the other, then
#                                  `make report` and `make plots` (SCALE=smoke: the whole
#                                  pipeline in minutes)
#   make reproduce-<name>          one experiment's runs, then `make report` and `make plots`
#                                  (also when a run diverged or failed: the report shows it;
#                                  the exit status is then the runs' non-zero one)
#   make exp/<script>              the runs only
#
# Every experiments/<script>.lua except run.lua and published.lua is an experiment. <name> is
# the script's name (reproduce-table2_cifar) or its first word before '_' (reproduce-table2,
# reproduce-figure5), the short name being defined when no other script shares that word.
# An experiment whose script reads CIFAR (a line `source = "cifar"` in its data config) depends
# on `make data` (fetched and verified on first use); the others (the toy GAN) need no data.
#
# Variables: SCALE, THREADS and DATA (top-level Makefile); CONV_ALGO=default|direct|im2col|
# winograd (the convolution kernels, harness/nn/conv.h; default: the measured rule);
# FILTER="net=preact_resnet18 seed=1"
# (grid filters, axis=id); FORCE=1 reruns complete runs from scratch; RESULTS=dir (results root,
# default results); JOBS=n runs the grid as n processes of THREADS threads each, process K
# taking runs K, K+n, K+2n, ... (run.lua --part K/n; a run's bits depend only on its thread
# count). Per-experiment defaults <script>_JOBS and <script>_THREADS (e.g. mk/figure5.mk's)
# apply unless JOBS or THREADS is given on the command line. Every command is resumable:
# interrupt it and run it again.

RESULTS ?= results
FILTER  ?=
FORCE   ?= 0
JOBS    ?= 1

EXPERIMENTS := $(sort $(filter-out run published, \
                   $(basename $(notdir $(wildcard experiments/*.lua)))))

# $(call exp_word,script): the script's name up to its first '_'.
exp_word = $(firstword $(subst _, ,$(1)))
# $(call exp_short,script): that word, when no other script starts with it.
exp_short = $(if $(filter 1,$(words $(filter $(call exp_word,$(1)) $(call exp_word,$(1))_%, \
                $(EXPERIMENTS)))),$(call exp_word,$(1)))
# $(call exp_data,script): the data targets the script needs (empty for none): `data` when its
# data config reads CIFAR, plus the experiment's own <script>_DATA (e.g. mk/table1.mk's).
exp_data = $(strip $(if $(shell grep -l 'source *= *"cifar"' experiments/$(1).lua),data) \
               $($(1)_DATA))
# $(call exp_setting,script,VAR): VAR from the command line or environment, else the
# experiment's default <script>_VAR, else VAR's value here.
exp_setting = $(if $(filter command line environment,$(origin $(2))),$($(2)), \
                  $(or $($(1)_$(2)),$($(2))))
# $(call exp_part,script,K): "--part K/<jobs>" when the grid is split, else nothing.
exp_jobs = $(strip $(call exp_setting,$(1),JOBS))
exp_part = $(if $(filter-out 1,$(call exp_jobs,$(1))),--part $(2)/$(call exp_jobs,$(1)))

RUN_FLAGS = --scale $(SCALE) --out $(RESULTS) $(if $(filter 1,$(FORCE)),--force) \
            $(if $(CONV_ALGO),--conv-algo $(CONV_ALGO)) $(FILTER)

# $(call experiment_rules,script): exp/<script>, its part targets and reproduce-<name>.
# JOBS and THREADS are read when the recipe runs, after every mk/*.mk set its defaults.
define experiment_rules
.PHONY: exp/$(1) reproduce-$(1) $(addprefix reproduce-,$(call exp_short,$(1)))
exp/$(1): $(EXE) $(call exp_data,$(1))
	@$$(MAKE) --no-print-directory -j$$(call exp_jobs,$(1)) \
	    $$(addprefix exp/$(1)/part-,$$(shell seq 1 $$(call exp_jobs,$(1))))

exp/$(1)/part-%: $(EXE)
	MIXUP_DATA=$$(DATA) ./$$(EXE) --threads $$(strip $$(call exp_setting,$(1),THREADS)) \
	    $$(strip experiments/run.lua $(1) $$(RUN_FLAGS) $$(call exp_part,$(1),$$*))

reproduce-$(1) $(addprefix reproduce-,$(call exp_short,$(1))): $(EXE) $(call exp_data,$(1))
	@st=0; $$(MAKE) --no-print-directory exp/$(1) || st=$$$$?; \
	    $$(MAKE) --no-print-directory report plots && exit $$$$st
endef
$(foreach e,$(EXPERIMENTS),$(eval $(call experiment_rules,$(e))))

.PHONY: reproduce
reproduce: $(EXE)
	@st=0; for e in $(EXPERIMENTS); do $(MAKE) --no-print-directory exp/$$e || st=$$?; done; \
	    $(MAKE) --no-print-directory report plots && exit $$st

# For `make help`: one line per experiment.
.PHONY: help-experiments
help-experiments:
	@$(foreach e,$(EXPERIMENTS),echo "  make reproduce-$(or $(call exp_short,$(e)),$(e))" \
	    "$(if $(call exp_short,$(e)),(or reproduce-$(e)))  experiments/$(e).lua$(if \
	    $(call exp_data,$(e)), (CIFAR-10: fetched by make data))";)
