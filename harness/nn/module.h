/*
 * module.h: the interface every layer kind implements, so that a network built in Lua runs its
 * whole forward and backward pass in C.
 *
 * A layer kind lives in its own file (conv.c, batchnorm.c, ...) and provides
 *   - plain kernels, <kind>_forward / <kind>_backward, taking raw pointers and a params struct;
 *   - a constructor, <kind>_module_new(params, err), returning a Module whose ops call them.
 * The helpers declared below are in module.c; the containers (sequential, residual, concat)
 * and the flat parameter buffers are in net.c.
 *
 * Life of a module:
 *   1. constructor: validates hyperparameters, sets m->ops, m->kind-specific fields.
 *   2. setup(m): m->in is set by the caller; the module checks it, then sets m->out,
 *      m->n_params, m->n_decay, m->n_buffers and m->ws_floats. No allocation of activations.
 *   3. the Net points m->w, m->dw, m->buf into its flat buffers and reserves m->y, m->dx for a
 *      batch capacity (net.c does this, also for containers).
 *   4. init(m, rng) fills m->w and m->buf (initialisation scheme chosen at construction).
 *   5. forward(m, x, ctx) writes m->y; backward(m, x, dy, ctx) overwrites m->dx (unless
 *      ctx->no_dx, where a kind may leave it unwritten) and accumulates into m->dw. x is the
 *      same tensor that the matching forward saw; forward may save what backward needs in the
 *      kind's own state (sized in setup or on the first forward for the reserved capacity,
 *      never per batch).
 *   6. destroy(m) frees the kind's own state and the module itself (not y, dx, children).
 *
 * Parameter layout within a module follows PyTorch's parameters() order for the same layer
 * (conv: weight then bias; batch norm: weight then bias; linear: weight then bias), so a flat
 * buffer lines up with torch.nn.utils.parameters_to_vector of the reference model. The first
 * n_decay parameters of a module take weight decay when decay exclusion is on (weights); the
 * rest (biases, BN affine) are exempt then. With exclusion off (the official code), all decay.
 *
 * Buffers (BN running mean and variance) are a second flat array, saved in checkpoints but not
 * touched by optimisers.
 */
#ifndef MODULE_H
#define MODULE_H

#include <stddef.h>

#include "core/rng.h"
#include "core/tensor.h"

#define MODULE_PATH_MAX 160

/* Latent mixing (the ablation's "layer k" mixup, nn/mix.h): a mix module's output row i is
 * lam[i] h[i] + (1 - lam[i]) h[perm[i]] for a batch of n. The Net holds one (net_set_mix). */
typedef struct MixPlan {
    int n;
    const double *lam;
    const int *perm;
} MixPlan;

/* Everything a pass needs besides the data: mode, randomness, scratch memory, threads. */
typedef struct Ctx {
    int train;            /* 1: training mode (BN batch statistics, dropout on) */
    Rng *rng;             /* dropout masks; may be NULL when no module draws */
    float *ws;            /* workspace: nthreads slices of ws_stride floats each */
    size_t ws_stride;     /* floats per thread slice, >= every module's ws_floats */
    int nthreads;         /* threads for this pass's parallel loops */
    int profile;          /* 1: leaves add their wall time to seconds_fwd / seconds_bwd */
    const MixPlan *mix;   /* training only: the pairs a mix module applies; NULL: none */
    Tensor *grad_pool;    /* backward: the Net's shared gradient buffers, two per colour of
                             sequential (net.c); NULL outside a Net */
    int no_dx;            /* backward: nobody reads this module's input gradient (the net's
                             input, when net_backward is given no dx): a kind may skip dx
                             (conv, linear, residual and concat do); net.c passes it to a
                             sequential's first child and to every branch of a residual or
                             concat */
} Ctx;

/* Initialisation schemes; recorded by name in the run config. */
typedef enum {
    INIT_TORCH_DEFAULT = 0, /* PyTorch's reset_parameters(): kaiming_uniform(a=sqrt 5) etc. */
    INIT_HE_NORMAL,         /* N(0, sqrt(2 / (kh kw K))), fan_out, as official ResNet/DenseNet */
    INIT_HE_NORMAL_FAN_IN,  /* N(0, sqrt(2 / (kh kw C))) */
    INIT_ZERO,              /* all zeros (tests) */
    INIT_NORMAL_001         /* N(0, 0.01), bias 0: Goyal et al.'s final FC (linear only) */
} InitScheme;

/* Parses "torch_default" | "he_normal" | "he_normal_fan_in" | "zero" | "normal_0.01".
 * Returns -1 if unknown. */
int init_scheme_parse(const char *name, InitScheme *out);
const char *init_scheme_name(InitScheme s);

typedef struct Module Module;

typedef struct ModuleOps {
    const char *kind; /* "conv", "batchnorm", ... also the Lua-visible kind name */
    int (*setup)(Module *m, Err *err);
    void (*init)(Module *m, Rng *rng);
    int (*forward)(Module *m, const Tensor *x, Ctx *ctx, Err *err);
    int (*backward)(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx, Err *err);
    void (*destroy)(Module *m);
} ModuleOps;

struct Module {
    const ModuleOps *ops;
    char path[MODULE_PATH_MAX]; /* "preact_resnet.layer2.block1.conv2", set by the builder */
    Shape in, out;              /* per-example shapes, after setup */
    size_t n_params;            /* trainable floats */
    size_t n_decay;             /* leading params that take weight decay under exclusion */
    size_t n_buffers;           /* non-trainable floats (BN running stats) */
    size_t ws_floats;           /* per-thread scratch this module needs */
    float *w, *dw, *buf;        /* views into the Net's flat buffers (NULL when count is 0) */
    Tensor y;                   /* output (N, out): owned, or a view for alias modules */
    Tensor dx;                  /* input gradient (N, in): owned, or a view */
    int alias;                  /* 1: y is a view of x and dx of dy (flatten, identity) */
    int shared_dx;              /* 1: dx is a view of its sequential parent's gradient buffers,
                                 * set before each backward (net.c: seq_backward) */
    int inplace;                /* 1: y is x's memory (a ReLU right after a layer that never
                                 * reads its own output in backward: net.c seq_setup, act.c);
                                 * a residual's y is its main branch's output (net.c) */
    Module **child;             /* containers only */
    int n_child;
    double seconds_fwd, seconds_bwd; /* accumulated wall time when profiling (leaves only) */
};

/* Convenience for kernels: checks that x is (N, m->in) with N >= 1; fills *n. */
int module_check_input(const Module *m, const Tensor *x, int *n, Err *err);
/* Sets m->y to (n, m->out) within its capacity. */
int module_set_output(Module *m, int n, Err *err);
/* Sets m->dx to (n, m->in) within its capacity. */
int module_set_dx(Module *m, int n, Err *err);

/* Elementwise layers (activations, dropout): the output has the input's shape, there are no
 * parameters, buffers or workspace. module_check_elementwise checks x as module_check_input
 * does and dy (optional, NULL in forward) for x's size, naming m->ops->kind in its message;
 * module_setup_elementwise and module_init_none are their ModuleOps setup and init. */
int module_check_elementwise(const Module *m, const Tensor *x, const Tensor *dy, int *n,
                             Err *err);
int module_setup_elementwise(Module *m, Err *err);
void module_init_none(Module *m, Rng *rng);

#endif
