/*
 * test_schedule.c: the learning-rate schedule (harness/train/schedule.c).
 *   paper:   0.1, divided by 10 after epochs 100 and 150 (Zhang et al. 2018, section 3.2)
 *   late:    facebookresearch/mixup-cifar10 drops one epoch later
 *   warm-up: Goyal et al. (2017), 0.1 -> 0.4 linearly per step over 5 epochs
 *   invalid schedules are rejected with messages naming the bad field.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train/schedule.h"
#include "testlib.h"

/* Rates are products and ratios of doubles (0.1 * 0.1 is not 0.01 exactly): a few ulps. */
#define SCHED_RTOL 1e-12

static int expect_lr(const Schedule *s, int epoch, int step, int spe, double want)
{
    double got = schedule_lr(s, epoch, step, spe);
    if (!(fabs(got - want) <= SCHED_RTOL * fabs(want)))
        return tl_fail("epoch %d step %d/%d: lr %.17g, expected %.17g", epoch, step, spe, got,
                       want);
    return 0;
}

static Schedule paper(int late)
{
    Schedule s;
    memset(&s, 0, sizeof s);
    s.base_lr = 0.1;
    s.factor = 0.1;
    s.milestones[0] = 100;
    s.milestones[1] = 150;
    s.n_milestones = 2;
    s.late = late;
    return s;
}

static int test_paper(void)
{
    Schedule s = paper(0);
    Err err;
    if (schedule_check(&s, &err))
        return tl_fail("%s", err.msg);
    return expect_lr(&s, 0, 0, 391, 0.1) || expect_lr(&s, 99, 390, 391, 0.1) ||
           expect_lr(&s, 100, 0, 391, 0.01) || expect_lr(&s, 149, 390, 391, 0.01) ||
           expect_lr(&s, 150, 0, 391, 0.001) || expect_lr(&s, 199, 390, 391, 0.001);
}

static int test_late(void)
{
    Schedule s = paper(1);
    Err err;
    if (schedule_check(&s, &err))
        return tl_fail("%s", err.msg);
    return expect_lr(&s, 99, 0, 391, 0.1) || expect_lr(&s, 100, 0, 391, 0.1) ||
           expect_lr(&s, 100, 390, 391, 0.1) || expect_lr(&s, 101, 0, 391, 0.01) ||
           expect_lr(&s, 150, 0, 391, 0.01) || expect_lr(&s, 151, 0, 391, 0.001);
}

static int test_warmup(void)
{
    enum { SPE = 100 };
    Schedule s;
    memset(&s, 0, sizeof s);
    s.base_lr = 0.4;
    s.factor = 0.1;
    s.milestones[0] = 30;
    s.milestones[1] = 60;
    s.milestones[2] = 80;
    s.n_milestones = 3;
    s.warmup_epochs = 5;
    s.warmup_from = 0.1;
    Err err;
    if (schedule_check(&s, &err))
        return tl_fail("%s", err.msg);
    if (expect_lr(&s, 0, 0, SPE, 0.1) || expect_lr(&s, 0, 1, SPE, 0.1 + 0.3 / 500.0) ||
        expect_lr(&s, 2, 50, SPE, 0.25) || expect_lr(&s, 4, 99, SPE, 0.1 + 0.3 * 499.0 / 500.0) ||
        expect_lr(&s, 5, 0, SPE, 0.4) || expect_lr(&s, 29, 99, SPE, 0.4) ||
        expect_lr(&s, 30, 0, SPE, 0.04) || expect_lr(&s, 80, 0, SPE, 0.0004))
        return 1;
    /* Linear per step: equal increments across an epoch boundary, strictly increasing. */
    double prev = schedule_lr(&s, 0, 0, SPE);
    for (int i = 1; i < 5 * SPE; i++) {
        double lr = schedule_lr(&s, i / SPE, i % SPE, SPE);
        if (!(fabs((lr - prev) - 0.3 / 500.0) <= 1e-9))
            return tl_fail("warm-up step %d: increment %.17g, expected %.17g", i, lr - prev,
                           0.3 / 500.0);
        prev = lr;
    }
    return 0;
}

static int test_no_milestones(void)
{
    Schedule s;
    memset(&s, 0, sizeof s);
    s.base_lr = 0.05;
    s.factor = 0.5;
    Err err;
    if (schedule_check(&s, &err))
        return tl_fail("%s", err.msg);
    return expect_lr(&s, 0, 0, 1, 0.05) || expect_lr(&s, 1000, 0, 1, 0.05);
}

static int expect_reject(const Schedule *s, const char *want)
{
    Err err;
    return tl_expect_error("schedule_check", schedule_check(s, &err) != 0, &err, want);
}

static int test_invalid(void)
{
    Schedule s = paper(0);
    s.base_lr = 0.0;
    if (expect_reject(&s, "schedule: base_lr is 0, expected a finite value > 0"))
        return 1;
    s = paper(0);
    s.factor = -0.1;
    if (expect_reject(&s, "schedule: factor is -0.1, expected a finite value > 0"))
        return 1;
    s = paper(0);
    s.milestones[1] = 100;
    if (expect_reject(&s, "schedule: milestone 2 is epoch 100, expected > 100 (milestones must "
                          "increase)"))
        return 1;
    s = paper(0);
    s.milestones[0] = 0;
    if (expect_reject(&s, "schedule: milestone 1 is epoch 0, expected >= 1"))
        return 1;
    s = paper(0);
    s.late = 2;
    if (expect_reject(&s, "schedule: late is 2, expected 0 or 1"))
        return 1;
    s = paper(0);
    s.n_milestones = SCHEDULE_MAX_MILESTONES + 1;
    if (expect_reject(&s, "schedule: 17 milestones, expected 0..16"))
        return 1;
    s = paper(0);
    s.warmup_epochs = -1;
    if (expect_reject(&s, "schedule: warmup_epochs is -1, expected >= 0"))
        return 1;
    s = paper(0);
    s.warmup_epochs = 5;
    s.warmup_from = NAN;
    if (expect_reject(&s, "schedule: warmup_from is nan, expected a finite value >= 0"))
        return 1;
    s = paper(0);
    s.warmup_epochs = 120;
    s.warmup_from = 0.01;
    return expect_reject(&s, "schedule: milestone 1 is epoch 100, inside the 120 warm-up epochs");
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"paper", test_paper},
        {"late", test_late},
        {"warmup", test_warmup},
        {"no_milestones", test_no_milestones},
        {"invalid", test_invalid},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
