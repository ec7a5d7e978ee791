# mk/table2.mk: what is specific to Table 2 (CIFAR, experiments/table2_cifar.lua), included by
# the top-level Makefile. Its runs come from mk/experiments.mk (`make reproduce-table2`).
#
# Run defaults: 2 processes of 1 thread (JOBS/THREADS on the command line override them): on 2
# cores that beats one process of 2 threads for the cpu scale's width-16 nets: the PreAct cells
# of seed 1 took 996 s as 2 x 1 and 1,084 s as 1 x 2 (2026-12-05, idle; README "Table 2").
table2_cifar_JOBS    := 2
table2_cifar_THREADS := 1
