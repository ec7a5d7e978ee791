/*
 * schedule.c: multistep learning-rate schedule with optional late drops and linear warm-up
 * (see schedule.h for the definitions and their sources).
 *
 * The multistep value is base_lr multiplied by factor once per passed milestone, the same
 * repeated product as torch.optim.lr_scheduler.MultiStepLR, in double; the optimisers round it
 * to float when they use it. Warm-up interpolates per step, Goyal et al. (2017) section 2.2:
 *   lr = from + (target - from) * i / (warmup_epochs * steps_per_epoch),  i = global step,
 * so step 0 runs at warmup_from and the first step after warm-up at the multistep value.
 * schedule_check keeps every milestone at or after the end of the warm-up, so the target is
 * always base_lr. Non-goals: cosine and polynomial schedules, per-step milestones.
 */
#include "train/schedule.h"

#include <math.h>

int schedule_check(const Schedule *s, Err *err)
{
    if (!(s->base_lr > 0.0 && isfinite(s->base_lr)))
        return err_set(err, "schedule: base_lr is %g, expected a finite value > 0", s->base_lr);
    if (!(s->factor > 0.0 && isfinite(s->factor)))
        return err_set(err, "schedule: factor is %g, expected a finite value > 0", s->factor);
    if (s->n_milestones < 0 || s->n_milestones > SCHEDULE_MAX_MILESTONES)
        return err_set(err, "schedule: %d milestones, expected 0..%d", s->n_milestones,
                       SCHEDULE_MAX_MILESTONES);
    for (int i = 0; i < s->n_milestones; i++) {
        if (s->milestones[i] < 1)
            return err_set(err, "schedule: milestone %d is epoch %d, expected >= 1", i + 1,
                           s->milestones[i]);
        if (i > 0 && s->milestones[i] <= s->milestones[i - 1])
            return err_set(err, "schedule: milestone %d is epoch %d, expected > %d (milestones "
                                "must increase)", i + 1, s->milestones[i], s->milestones[i - 1]);
    }
    if (s->late != 0 && s->late != 1)
        return err_set(err, "schedule: late is %d, expected 0 or 1", s->late);
    if (s->warmup_epochs < 0)
        return err_set(err, "schedule: warmup_epochs is %d, expected >= 0", s->warmup_epochs);
    if (s->warmup_epochs > 0) {
        if (!(s->warmup_from >= 0.0 && isfinite(s->warmup_from)))
            return err_set(err, "schedule: warmup_from is %g, expected a finite value >= 0",
                           s->warmup_from);
        if (s->n_milestones > 0 && s->milestones[0] < s->warmup_epochs)
            return err_set(err, "schedule: milestone 1 is epoch %d, inside the %d warm-up "
                                "epochs", s->milestones[0], s->warmup_epochs);
    }
    return 0;
}

double schedule_lr(const Schedule *s, int epoch, int step, int steps_per_epoch)
{
    double lr = s->base_lr;
    for (int i = 0; i < s->n_milestones; i++)
        if (epoch >= s->milestones[i] + s->late)
            lr *= s->factor;
    if (epoch < s->warmup_epochs && steps_per_epoch > 0) {
        double total = (double)s->warmup_epochs * (double)steps_per_epoch;
        double i = (double)epoch * (double)steps_per_epoch + (double)step;
        lr = s->warmup_from + (lr - s->warmup_from) * (i / total);
    }
    return lr;
}
