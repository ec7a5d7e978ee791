/*
 * loss.h: losses on logits. Not modules: they end the graph and start backward.
 *
 * Soft-target softmax cross-entropy (mixup's loss; one-hot targets give ordinary CE):
 *   loss = -(1/N) sum_n sum_k t[n,k] log softmax(z[n])[k]
 *   dz[n,k] = (softmax(z[n])[k] * sum_k' t[n,k'] - t[n,k]) / N
 * Binary cross-entropy with logits (torch.nn.BCEWithLogitsLoss, mean over all elements):
 *   loss = mean(max(z, 0) - z t + log(1 + exp(-|z|)));  dz = (sigmoid(z) - t) / numel
 * Sums are accumulated in double. Both return the loss through *loss.
 *
 * A non-finite loss is an error naming the example (0-based row of z), e.g.
 *   "loss_softmax_xent: loss is nan at example 3 (logits not finite); lower the learning rate
 *    or check the input"
 * dz, when its size differs from z's, is reshaped to z's shape within its capacity (so one
 * buffer reserved for the largest batch serves a smaller last batch).
 */
#ifndef LOSS_H
#define LOSS_H

#include "core/tensor.h"

/* z: (N, K) logits (or (N, K, 1, 1)); t: same size soft targets; dz: same size, overwritten
 * (may be NULL for evaluation). Fails on size mismatch or non-finite loss. */
int loss_softmax_xent(double *loss, Tensor *dz, const Tensor *z, const Tensor *t, Err *err);
/* Counts rows whose argmax of z differs from label[n]; labels in [0, K). The argmax is the
 * first maximum (torch.argmax); a row with a NaN logit counts as an error. */
int loss_count_errors(int *errors, const Tensor *z, const int *label, Err *err);
/* Top-k errors: rows where k or more logits are strictly above the label's (ImageNet's top-5
 * with k = 5), or where any logit is NaN. k = 1 differs from loss_count_errors only on ties
 * (a tie above the label is not an error here). k >= 1. */
int loss_count_topk_errors(int *errors, const Tensor *z, const int *label, int k_top,
                           Err *err);
/* z, t, dz: same size (any shape, first axis the batch); dz may be NULL. */
int loss_bce_logits(double *loss, Tensor *dz, const Tensor *z, const Tensor *t, Err *err);

#endif
