/*
 * dense.h: a DenseNet-BC dense block (Huang et al. 2017) as one module whose memory grows
 * linearly with its depth: one shared, growing feature buffer per block instead of a copy of
 * every concatenation.
 *
 * The block is andreasveit/densenet-pytorch's DenseBlock of BottleneckBlocks: with
 * C_i = in_c + i growth channels entering layer i (i = 0 .. layers - 1),
 *   layer i:  x_{i+1} = [x_i, conv2(relu(bn2(conv1(relu(bn1(x_i))))))]
 * conv1 1x1 (C_i -> bottleneck), conv2 3x3 pad 1 (bottleneck -> growth), no biases; batch
 * norms as torch.nn.BatchNorm2d. Output: x_layers, (N, in_c + layers growth, H, W).
 * It computes exactly what concat(identity, sequential(bn1, relu, conv1, bn2, relu, conv2))
 * layers compute with the generic containers of net.h, with the same kernels in the same
 * order, so results are bit-identical to that composition for a given thread count.
 *
 * Parameters: the block's children are the layers' bn1, conv1, bn2, conv2 modules, in that
 * order per layer (PyTorch's parameters() order), with paths "<block>.layer.<i>.<name>"
 * (DenseBlock.layer is an nn.Sequential). They hold parameters and BN buffers in the Net's
 * flat arrays and initialise them (init scheme of DenseParams for the convs); the block runs
 * their kernels itself and the Net reserves no activations for them.
 *
 * Memory, per example, in H W floats (B = bottleneck, k = growth, C = in_c + layers k):
 *   y (C) and dx (in_c): the module's output and input gradient (Net-reserved);
 *   the gradient of all features (C); four scratch buffers of the widest layer input
 *   (C - k each: gathered input, BN output, ReLU output, their gradient) and three of B or k;
 *   per layer the bottleneck's conv1 output and relu(bn2(.)) (2 B), the only per-layer state.
 * All of it is affine in the depth; the composition above holds about 7 C_i per layer (its
 * concat output, BN and ReLU outputs and gradients), quadratic in the depth. Backward
 * recomputes bn1 and the ReLU from the gathered features instead of storing them
 * (Pleiss et al. 2017, "Memory-Efficient Implementation of DenseNets").
 *
 * Backward overwrites dx and accumulates into the children's dw. Non-goals: dropout inside the
 * block (the reference's p = 1e-7 "hot fix" included), non-bottleneck (DenseNet without B)
 * layers.
 */
#ifndef DENSE_H
#define DENSE_H

#include "nn/batchnorm.h"
#include "nn/module.h"

/* The batch norms' defaults are batchnorm.h's (torch.nn.BatchNorm2d's). */
#define DENSE_DEFAULT_EPS BN_DEFAULT_EPS
#define DENSE_DEFAULT_MOMENTUM BN_DEFAULT_MOMENTUM

typedef struct DenseParams {
    int in_c;        /* channels entering the block */
    int layers;      /* bottleneck layers */
    int growth;      /* k: channels each layer adds */
    int bottleneck;  /* conv1's output channels (4 k in DenseNet-BC) */
    double eps;      /* batch norms' eps (DENSE_DEFAULT_EPS) */
    double momentum; /* batch norms' running-stat momentum (DENSE_DEFAULT_MOMENTUM) */
    InitScheme init; /* the convolutions' initialisation */
} DenseParams;

/* Returns NULL and fills err when the params are invalid (names the value and the rule).
 * Module kind "dense_block". */
Module *dense_module_new(const DenseParams *p, Err *err);

/* Floats of activation memory the block holds for a batch of n examples of h x w maps: its
 * output and input gradient plus its own state, as reserved after a forward at batch n. */
size_t dense_activation_floats(const DenseParams *p, int n, int h, int w);
/* Floats a built dense_block module m holds now: the capacities of y, dx and its state. */
size_t dense_reserved_floats(const Module *m);

#endif
