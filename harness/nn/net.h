/*
 * net.h: containers (sequential, residual add, channel concat), shape-only layers (flatten,
 * identity) and the Net that owns a module tree with its flat parameter, gradient and buffer
 * arrays (llm.c's malloc_and_point_parameters), its workspace and its activation memory.
 *
 * A Net runs a whole forward or backward pass in C. Containers:
 *   sequential(children):        y = c_k(...c_2(c_1(x)))
 *   residual(main, shortcut):    y = main(x) + shortcut(x); shortcut NULL means identity
 *   concat(branches):            y = [b_1(x), ..., b_k(x)] along channels
 * Activation memory: every non-alias module owns y and dx, reserved for the Net's batch
 * capacity; a batch up to that capacity allocates nothing.
 */
#ifndef NET_H
#define NET_H

#include "nn/module.h"

/* Containers take ownership of their children (also on failure: they are destroyed). */
Module *sequential_module_new(Module **children, int n, Err *err);
Module *residual_module_new(Module *main, Module *shortcut, Err *err);
Module *concat_module_new(Module **branches, int n, Err *err);
Module *flatten_module_new(Err *err);
Module *identity_module_new(Err *err);

/* Destroys a module tree (children first). NULL is fine. */
void module_free(Module *m);

typedef struct ParamInfo {
    const char *path;    /* module path, e.g. "layer1.0.conv1" */
    const char *kind;    /* module kind */
    size_t offset, count;
} ParamInfo;

typedef struct Net {
    Module *root;
    Shape in, out;
    size_t n_params, n_buffers;
    float *params, *grads, *buffers;
    float *decay_mask;   /* 1 for params that take decay under exclusion, else 0 */
    float *ws;           /* workspace, nthreads * ws_stride floats */
    size_t ws_stride;
    int nthreads;
    int cap_n;           /* batch capacity reserved for activations */
    int last_n;          /* batch size of the last forward; 0 before any */
    int last_train;      /* mode of the last forward */
    const Tensor *last_x;
    ParamInfo *info;     /* one entry per module with parameters or buffers, tree order */
    int n_info;
    int profile;         /* 1: time every leaf module (Module.seconds_fwd / seconds_bwd) */
    MixPlan mix;         /* the plan of mix modules (net_set_mix); mix.n = 0: none */
    double *mix_lam;     /* mix_cap entries, owned: the plan's copies */
    int *mix_perm;
    int mix_cap;
    int last_mix;        /* 1: the last forward ran with the plan */
    Tensor *grad_pool;   /* 2 n_colours gradient buffers the sequentials share (net.c) */
    int n_colours;
} Net;

/* Builds a Net from a module tree (ownership passes to the Net, also on failure) for
 * per-example input shape `in`, allocating parameters for nthreads threads and batch cap_n.
 * Module paths must already be set. */
int net_build(Net **out, Module *root, Shape in, int nthreads, int cap_n, Err *err);
void net_free(Net *net);

/* Initialises all parameters and buffers in tree order from rng. */
void net_init(Net *net, Rng *rng);
/* Grows activation memory for batch n (explicit; forward refuses n > cap_n). */
int net_reserve(Net *net, int cap_n, Err *err);
/* Changes the thread count (reallocates the workspace). Results depend on it for reductions. */
int net_set_threads(Net *net, int nthreads, Err *err);

/* x: (N, in) with N <= cap_n. *y points at the root's output, valid until the next forward.
 * train selects batch statistics / dropout; rng may be NULL unless a dropout is active. */
int net_forward(Net *net, const Tensor *x, int train, Rng *rng, const Tensor **y, Err *err);
/* dy: (N, out) for the last forward's N; accumulates into grads; *dx (optional) points at
 * dLoss/dx, valid until the next backward. The x of the last forward must be unchanged.
 * dx NULL: the input gradient is not wanted, and the module that reads the net's input (a
 * stem conv or linear, the first of the root's sequential chain) skips it; the parameter
 * gradients are the same bits either way. */
int net_backward(Net *net, const Tensor *dy, const Tensor **dx, Err *err);
void net_zero_grad(Net *net);
/* Activation floats module m itself holds (not its children): its owned y and dx; for memory
 * accounting, with net_pool_floats: the gradient buffers the sequentials share (net.c's
 * header). */
size_t net_module_floats(const Module *m);
size_t net_pool_floats(const Net *net);
/* Latent mixing: copies the plan (lam, perm: n entries) that the mix modules (nn/mix.h) apply
 * in the following training forwards; n = 0 clears it (ERM). It must not change between a
 * forward and its backward. Fails on n < 0 or an allocation failure. */
int net_set_mix(Net *net, const double *lam, const int *perm, int n, Err *err);

#endif
