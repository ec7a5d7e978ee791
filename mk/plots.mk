# mk/plots.mk: the comparison report and the figures, included by the top-level Makefile.
#
#   make report   results/REPORT.md: every cell of every reproduced table beside its published
#                 value (harness/lua/report.lua); printed as well
#   make plots    plain-text tables in plots/data/ exported from the HDF5 results, then PNG and
#                 SVG figures in plots/ drawn by gnuplot from plots/*.gp (tools/plots.lua)
#
# Variables: RESULTS (the results directory, read only), PLOTS (the figures' directory), DATA
# (Makefile: the data directory, for the report's "data absent" reasons).
RESULTS ?= results
PLOTS   ?= plots

.PHONY: report plots

report: $(EXE)
	@./$(EXE) tools/report.lua --results $(RESULTS) --data $(DATA) --out $(RESULTS)/REPORT.md

plots: $(EXE)
	@./$(EXE) tools/plots.lua --results $(RESULTS) --data $(DATA) --out $(PLOTS) \
	    --export $(PLOTS)/data --scripts plots
