# mk/table5.mk: what is specific to Table 5 (adversarial examples,
# experiments/table5_adversarial.lua), included by the top-level Makefile. Its runs come from
# mk/experiments.mk (`make reproduce-table5`): they attack Table 2's models (trained first when
# absent); its report section is harness/lua/table5_report.lua (`make report`).
#
# Run defaults: 2 processes of 1 thread (JOBS/THREADS on the command line override them): the
# attacked nets are Table 2's width-16 ones, which run best that way on 2 cores.
table5_adversarial_JOBS    := 2
table5_adversarial_THREADS := 1
