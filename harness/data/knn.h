/*
 * knn.h: the k nearest neighbours of every training image, for the ablation's nearest-
 * neighbour mixup (AC + KNN; SC + KNN, with single labels SMOTE, Chawla et al. 2002; the
 * mixup paper's ICLR ablation uses k = 200 on CIFAR-10, PAPER_FACTS.md section 9).
 *
 * Metric: squared Euclidean distance between the raw images (3072 pixel bytes, i.e. the
 * un-augmented, un-normalised pixels; the same order as on byte / 255). It is computed
 * exactly (integers below 2^53 in double precision), so ties are real ties and are broken by
 * the lower index: the table depends only on the images, never on threads, BLAS or machine.
 * Candidates of example i: every other example (same_class = 0), or every other example with
 * the same training label (s->noisy: what the net is trained on). Neighbours are listed
 * nearest first.
 */
#ifndef KNN_H
#define KNN_H

#include "data/data_cifar.h"

/* nbr: s->n * k ints out, row i the k nearest candidates of example i. Fails (naming the class
 * and its size) when some example has fewer than k candidates, or on k < 1 or no memory.
 * nthreads: threads for the selection (BLAS uses its own setting). Memory: the images as
 * doubles (n * 3072 * 8 bytes: 1.2 GB for 50,000) and a block of 256 x n distances. */
int data_knn(int *nbr, const CifarSet *s, int k, int same_class, int nthreads, Err *err);

#endif
