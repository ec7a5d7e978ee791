/*
 * dropout.h: inverted dropout: in training, each element is zeroed with probability p and the
 * survivors are scaled by 1 / (1 - p); in evaluation it is the identity. The mask comes from
 * ctx->rng (the run's dropout stream) and is saved for backward.
 */
#ifndef DROPOUT_H
#define DROPOUT_H

#include "module.h"

Module *dropout_module_new(double p, Err *err);

#endif
