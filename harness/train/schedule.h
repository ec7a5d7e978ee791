/*
 * schedule.h: learning-rate schedules, evaluated for a step given as (epoch, step in epoch).
 *
 * multistep: lr = base * factor^(number of milestones m with epoch >= m + late)
 *   The drop for milestone m takes effect at the START of epoch m (0-based), i.e. after m
 *   epochs completed, as in the paper ("divide by 10 after epochs 100 and 150") and
 *   hongyi-zhang/mixup. late = 1 reproduces facebookresearch/mixup-cifar10, which steps its
 *   schedule after each epoch's training and so trains epoch m at the old rate.
 * warm-up: for epoch < warmup_epochs, lr rises linearly per step from warmup_from to the
 *   multistep value (Goyal et al. 2017: 0.1 -> 0.4 over 5 epochs), step-granular.
 */
#ifndef SCHEDULE_H
#define SCHEDULE_H

#include "core/tensor.h"

#define SCHEDULE_MAX_MILESTONES 16

typedef struct Schedule {
    double base_lr;
    double factor;                              /* e.g. 0.1 */
    int milestones[SCHEDULE_MAX_MILESTONES];    /* increasing epochs */
    int n_milestones;
    int late;                                   /* 0: drop at epoch m; 1: at m + 1 */
    int warmup_epochs;                          /* 0: none */
    double warmup_from;                         /* lr at step 0 of the warm-up */
} Schedule;

/* Validates (increasing milestones, positive lr, 0 < factor, ...). */
int schedule_check(const Schedule *s, Err *err);
/* lr for step `step` (0-based) of epoch `epoch` (0-based) with steps_per_epoch steps;
 * s passed schedule_check, epoch >= 0, steps_per_epoch >= 1, 0 <= step < steps_per_epoch. */
double schedule_lr(const Schedule *s, int epoch, int step, int steps_per_epoch);

#endif
