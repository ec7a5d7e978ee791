/*
 * interp.h: Figure 2 of the mixup paper: a trained classifier between pairs of training
 * examples. For pairs (x_i, y_i), (x_j, y_j) and one lambda, at x~ = lambda x_i + (1 - lambda)
 * x_j (float32, formed as mixup forms it, train/mixup.c):
 *   miss   the prediction (first argmax of the logits, evaluation mode) is neither y_i nor y_j
 *          (Figure 2a's "miss" rate, when counted over pairs);
 *   gnorm  || d L_n / d x~_n ||_2, the input gradient of example n's own cross-entropy against
 *          the target t~ (Figure 2b), in the net's (normalised) input units. The paper does not
 *          say which target (unverified, PAPER_FACTS section 10): INTERP_TARGET_MIXED is
 *          lambda onehot(y_i) + (1 - lambda) onehot(y_j), the mixup target (the default);
 *          INTERP_TARGET_HEAVIER the label of the input with the larger weight.
 * The batch loss is the mean over the N pairs, so the net's dx is (1/N) dL_n/dx~_n per row;
 * gnorm undoes the 1/N. Norms are accumulated in double. The net's parameter gradients are
 * zeroed, then hold this batch's.
 */
#ifndef INTERP_H
#define INTERP_H

#include "core/tensor.h"
#include "nn/net.h"

enum { INTERP_TARGET_MIXED = 0, INTERP_TARGET_HEAVIER = 1 };

/* xi, xj: (N, ...) the two ends; yi, yj: N labels in [0, K); xm: (N, ...) scratch, out (x~);
 * t, dz: (N, K) scratch; miss: N ints out (0/1); gnorm: N doubles out. */
int interp_eval(Net *net, Tensor *xm, Tensor *t, Tensor *dz, int *miss, double *gnorm,
                const Tensor *xi, const Tensor *xj, const int *yi, const int *yj, double lambda,
                int target, Err *err);

#endif
