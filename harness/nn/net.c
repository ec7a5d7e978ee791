/*
 * net.c: the containers (sequential, residual add, channel concat), the shape-only layers
 * (flatten, identity) and the Net: flat parameter/gradient/buffer arrays,
 * workspace, activation memory and whole-network forward and backward passes in C.
 *
 * Memory: every leaf module owns y (N, out) reserved for the Net's batch capacity; sequential
 * containers and alias layers hold views, so nothing is copied between consecutive layers.
 * Input gradients: a leaf, residual or concat directly inside a sequential writes its dx into
 * one of that sequential's two gradient buffers (ping-pong: the one that does not hold the dy
 * it reads), since the next layer down consumes it at once and nothing reads it later; so a
 * chain of k layers holds 2 gradient buffers instead of k. Any other leaf (the root, a
 * residual's or a concat's direct child) owns its dx. A residual or concat reads its
 * children's dx, which live in their own sequentials' buffers, never in the parent's.
 * The pairs of buffers are the Net's (grad_pool), one pair per colour, shared by every
 * sequential of that colour (colour_tree): a sequential's colour differs from its ancestor
 * sequentials' (one of whose buffers may hold the dy it reads); inside a branch of a residual
 * or concat it also avoids the colours the branches' dy may lie in (the other branches, and
 * an identity shortcut, read it after this one) and every colour an earlier branch used
 * (that branch's dx waits to be summed). A dy's colours are followed from where it was
 * written: a sequential's dx is its first child's, so it may escape into the sequential's
 * parent and reach a cousin subtree. Sequentials one after another in a chain may share a
 * colour, since each consumes the dy the one after it left and leaves its own dx for the one
 * before. So a net holds a few pairs instead of one per sequential (PreAct ResNet-18 at width
 * 64: 20 sequentials with buffers in 4 colours, 768 -> 256 MiB at batch 128).
 * A ReLU right after a batch norm, a convolution, a residual or a concat in the same
 * sequential computes in place (module.h: inplace): none of them reads its own output in
 * backward, and max(x, 0) > 0 exactly where x > 0, so the ReLU's backward gives the same bits
 * from its output. A residual sums into its main branch's output when a convolution or batch
 * norm wrote it (module.h: inplace). Parameters are assigned in tree order, which for our nets
 * equals PyTorch's parameters() order of the reference model (module.h).
 */
#include "nn/net.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A non-owning copy of t reshaped to (n, s). */
static Tensor view_as(const Tensor *t, int n, Shape s)
{
    int shape[4] = {n, s.c, s.h, s.w};
    return tensor_view(t->data, 4, shape);
}

static Module *module_alloc(size_t size, const ModuleOps *ops, Err *err)
{
    Module *m = calloc(1, size);
    if (!m) {
        err_set(err, "%s: out of memory", ops->kind);
        return NULL;
    }
    m->ops = ops;
    return m;
}

void module_free(Module *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_child; i++)
        module_free(m->child[i]);
    free(m->child);
    tensor_free(&m->y);
    tensor_free(&m->dx);
    m->ops->destroy(m);
}

static void destroy_plain(Module *m) { free(m); }

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Calls a child's forward and prefixes errors with the child's path (leaves only; containers
 * already prefix their own children). Leaves are timed when profiling. */
static int child_forward(Module *c, const Tensor *x, Ctx *ctx, Err *err)
{
    double t0 = ctx->profile && !c->n_child ? seconds_now() : 0.0;
    if (c->ops->forward(c, x, ctx, err))
        return c->n_child ? -1 : err_prefix(err, c->path);
    if (t0 > 0.0)
        c->seconds_fwd += seconds_now() - t0;
    return 0;
}

static int child_backward(Module *c, const Tensor *x, const Tensor *dy, Ctx *ctx, Err *err)
{
    double t0 = ctx->profile && !c->n_child ? seconds_now() : 0.0;
    if (c->ops->backward(c, x, dy, ctx, err))
        return c->n_child ? -1 : err_prefix(err, c->path);
    if (t0 > 0.0)
        c->seconds_bwd += seconds_now() - t0;
    return 0;
}

static int child_setup(Module *c, Shape in, Err *err)
{
    c->in = in;
    if (c->ops->setup(c, err))
        return c->n_child ? -1 : err_prefix(err, c->path);
    return 0;
}

static int adopt_children(Module *m, Module **children, int n, Err *err)
{
    if (n > 0) {
        m->child = calloc((size_t)n, sizeof *m->child);
        if (!m->child)
            return err_set(err, "%s: out of memory", m->ops->kind);
        memcpy(m->child, children, (size_t)n * sizeof *m->child);
    }
    m->n_child = n;
    return 0;
}

/* ---- flatten and identity: views, no data movement ----------------------------------- */

static int alias_setup(Module *m, Err *err)
{
    (void)err;
    m->out = m->in;
    if (!strcmp(m->ops->kind, "flatten"))
        m->out = (Shape){(int)shape_size(m->in), 1, 1};
    m->alias = 1;
    return 0;
}

static int alias_forward(Module *m, const Tensor *x, Ctx *ctx, Err *err)
{
    (void)ctx;
    int n;
    if (module_check_input(m, x, &n, err))
        return -1;
    m->y = view_as(x, n, m->out);
    return 0;
}

static int alias_backward(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx, Err *err)
{
    (void)ctx;
    (void)err;
    m->dx = view_as(dy, x->shape[0], m->in);
    return 0;
}

static void no_init(Module *m, Rng *rng)
{
    (void)m;
    (void)rng;
}

static const ModuleOps flatten_ops = {"flatten", alias_setup, no_init, alias_forward,
                                      alias_backward, destroy_plain};
static const ModuleOps identity_ops = {"identity", alias_setup, no_init, alias_forward,
                                       alias_backward, destroy_plain};

Module *flatten_module_new(Err *err) { return module_alloc(sizeof(Module), &flatten_ops, err); }

Module *identity_module_new(Err *err) { return module_alloc(sizeof(Module), &identity_ops, err); }

/* ---- sequential ----------------------------------------------------------------------- */

/* A sequential: its children's y are chained by views; its non-alias leaf children share the
 * two gradient buffers of its colour in the Net's grad_pool (the header's ping-pong), -1 when
 * none of its children shares. */
typedef struct SeqModule {
    Module base;
    int colour;
} SeqModule;

static int seq_setup(Module *m, Err *err)
{
    Shape s = m->in;
    for (int i = 0; i < m->n_child; i++) {
        Module *c = m->child[i];
        if (child_setup(c, s, err))
            return -1;
        /* leaves, and the residual and concat containers (whose dx is their own sum) */
        int sums = !strcmp(c->ops->kind, "residual") || !strcmp(c->ops->kind, "concat");
        c->shared_dx = !c->alias && (!c->n_child || sums);
        if (i > 0 && !strcmp(c->ops->kind, "relu")) {
            /* layers whose backward never reads their own output */
            static const char *const ok[] = {"batchnorm", "conv", "residual", "concat"};
            const Module *p = m->child[i - 1];
            for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++)
                c->inplace |= !strcmp(p->ops->kind, ok[k]);
        }
        s = c->out;
    }
    m->out = s;
    m->alias = 1; /* y and dx are views of the children's */
    return 0;
}

/* Floats of one ping-pong buffer at batch capacity cap_n: the largest input of a sharing
 * child. */
static size_t seq_pp_floats(const Module *m, size_t cap_n)
{
    size_t most = 0;
    for (int i = 0; i < m->n_child; i++)
        if (m->child[i]->shared_dx && shape_size(m->child[i]->in) > most)
            most = shape_size(m->child[i]->in);
    return cap_n * most;
}

/* Whether p lies in buffer t. */
static int in_buffer(const Tensor *t, const float *p)
{
    return t->data && p >= t->data && p < t->data + t->cap;
}

static int seq_forward(Module *m, const Tensor *x, Ctx *ctx, Err *err)
{
    const Tensor *h = x;
    for (int i = 0; i < m->n_child; i++) {
        if (child_forward(m->child[i], h, ctx, err))
            return -1;
        h = &m->child[i]->y;
    }
    m->y = view_as(h, x->shape[0], m->out);
    return 0;
}

static int seq_backward(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx, Err *err)
{
    SeqModule *sm = (SeqModule *)m;
    if (sm->colour >= 0 && !ctx->grad_pool)
        return err_set(err, "%s: a sequential's backward runs inside a Net (net_backward)",
                       m->path);
    const Tensor *pp = sm->colour >= 0 ? ctx->grad_pool + 2 * sm->colour : NULL;
    const Tensor *g = dy;
    const int no_dx = ctx->no_dx; /* only the first child's input is the sequential's input */
    for (int i = m->n_child - 1; i >= 0; i--) {
        Module *c = m->child[i];
        const Tensor *in = i ? &m->child[i - 1]->y : x;
        ctx->no_dx = i == 0 && no_dx;
        if (c->shared_dx) {
            /* the buffer that does not hold dy; the whole of it, for module_set_dx to shape */
            const Tensor *b = &pp[in_buffer(&pp[0], g->data) ? 1 : 0];
            int rows = (int)(b->cap / shape_size(c->in));
            c->dx = view_as(b, rows, c->in);
        }
        int bad = child_backward(c, in, g, ctx, err);
        ctx->no_dx = no_dx;
        if (bad)
            return -1;
        g = &c->dx;
    }
    m->dx = view_as(g, x->shape[0], m->in);
    return 0;
}

static const ModuleOps seq_ops = {"sequential", seq_setup, no_init, seq_forward, seq_backward,
                                  destroy_plain};

size_t net_module_floats(const Module *m)
{
    return (m->y.owner ? m->y.cap : 0) + (m->dx.owner ? m->dx.cap : 0);
}

size_t net_pool_floats(const Net *net)
{
    size_t total = 0;
    for (int i = 0; i < 2 * net->n_colours; i++)
        total += net->grad_pool[i].cap;
    return total;
}

static void free_array(Module **a, int n)
{
    for (int i = 0; i < n; i++)
        module_free(a[i]);
}

Module *sequential_module_new(Module **children, int n, Err *err)
{
    Module *m = module_alloc(sizeof(SeqModule), &seq_ops, err);
    if (!m || adopt_children(m, children, n, err)) {
        free(m);
        free_array(children, n);
        return NULL;
    }
    return m;
}

/* ---- residual: y = main(x) + shortcut(x) ---------------------------------------------- */

static int res_setup(Module *m, Err *err)
{
    for (int i = 0; i < m->n_child; i++)
        if (child_setup(m->child[i], m->in, err))
            return -1;
    Shape a = m->child[0]->out;
    Shape b = m->n_child > 1 ? m->child[1]->out : m->in;
    if (!shape_eq(a, b))
        return err_set(err, "%s: main branch gives (%d, %d, %d) but the shortcut gives "
                            "(%d, %d, %d); use a projection shortcut",
                       m->path, a.c, a.h, a.w, b.c, b.h, b.w);
    m->out = a;
    /* The sum goes into the main branch's output when the layer that wrote it never reads its
     * output in backward (a convolution or batch norm, not computing in place itself), as
     * torchvision's `out += identity`: one activation less per block. */
    const Module *last = m->child[0];
    while (last->ops == &seq_ops && last->n_child)
        last = last->child[last->n_child - 1];
    m->inplace = !last->n_child && !last->alias && !last->inplace &&
                 (!strcmp(last->ops->kind, "conv") || !strcmp(last->ops->kind, "batchnorm"));
    return 0;
}

static int res_forward(Module *m, const Tensor *x, Ctx *ctx, Err *err)
{
    int n = x->shape[0];
    for (int i = 0; i < m->n_child; i++)
        if (child_forward(m->child[i], x, ctx, err))
            return -1;
    if (m->inplace)
        m->y = view_as(&m->child[0]->y, n, m->out);
    else if (module_set_output(m, n, err))
        return -1;
    const float *a = m->child[0]->y.data;
    const float *b = m->n_child > 1 ? m->child[1]->y.data : x->data;
    float *y = m->y.data;
    size_t total = m->y.size;
#pragma omp parallel for num_threads(ctx->nthreads) schedule(static)
    for (size_t i = 0; i < total; i++)
        y[i] = a[i] + b[i];
    return 0;
}

static int res_backward(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx, Err *err)
{
    int n = x->shape[0];
    for (int i = 0; i < m->n_child; i++) /* at the net's input, both skip dx (no_dx) */
        if (child_backward(m->child[i], x, dy, ctx, err))
            return -1;
    if (ctx->no_dx)
        return 0;
    if (module_set_dx(m, n, err))
        return -1;
    /* d(main + shortcut)/dx: both branches see the same dy; an identity shortcut passes it. */
    const float *a = m->child[0]->dx.data;
    const float *b = m->n_child > 1 ? m->child[1]->dx.data : dy->data;
    float *dx = m->dx.data;
    size_t total = m->dx.size;
#pragma omp parallel for num_threads(ctx->nthreads) schedule(static)
    for (size_t i = 0; i < total; i++)
        dx[i] = a[i] + b[i];
    return 0;
}

static const ModuleOps res_ops = {"residual", res_setup, no_init, res_forward, res_backward,
                                  destroy_plain};

Module *residual_module_new(Module *main, Module *shortcut, Err *err)
{
    Module *kids[2] = {main, shortcut};
    int n = shortcut ? 2 : 1;
    if (!main) {
        module_free(shortcut);
        err_set(err, "residual: main branch is missing");
        return NULL;
    }
    Module *m = module_alloc(sizeof(Module), &res_ops, err);
    if (!m || adopt_children(m, kids, n, err)) {
        free(m);
        free_array(kids, n);
        return NULL;
    }
    return m;
}

/* ---- concat: y = [b_1(x), ..., b_k(x)] along channels --------------------------------- */

typedef struct ConcatModule {
    Module base;
    Tensor dy_part; /* scratch: one branch's slice of dy, (N, c_i, H, W) */
} ConcatModule;

static int cat_setup(Module *m, Err *err)
{
    int c = 0;
    Shape first = {0, 0, 0};
    for (int i = 0; i < m->n_child; i++) {
        if (child_setup(m->child[i], m->in, err))
            return -1;
        Shape s = m->child[i]->out;
        if (i == 0)
            first = s;
        else if (s.h != first.h || s.w != first.w)
            return err_set(err, "%s: branch %d gives %dx%d maps but branch 1 gives %dx%d",
                           m->path, i + 1, s.h, s.w, first.h, first.w);
        c += s.c;
    }
    if (m->n_child == 0)
        return err_set(err, "%s: concat needs at least one branch", m->path);
    m->out = (Shape){c, first.h, first.w};
    return 0;
}

static int cat_forward(Module *m, const Tensor *x, Ctx *ctx, Err *err)
{
    int n = x->shape[0];
    for (int i = 0; i < m->n_child; i++)
        if (child_forward(m->child[i], x, ctx, err))
            return -1;
    if (module_set_output(m, n, err))
        return -1;
    size_t hw = (size_t)m->out.h * (size_t)m->out.w, out_per = shape_size(m->out);
    size_t off = 0;
    for (int i = 0; i < m->n_child; i++) {
        const Module *b = m->child[i];
        size_t per = shape_size(b->out);
        for (int k = 0; k < n; k++)
            memcpy(m->y.data + (size_t)k * out_per + off, b->y.data + (size_t)k * per,
                   per * sizeof(float));
        off += (size_t)b->out.c * hw;
    }
    return 0;
}

static int cat_backward(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx, Err *err)
{
    ConcatModule *cm = (ConcatModule *)m;
    int n = x->shape[0];
    size_t hw = (size_t)m->out.h * (size_t)m->out.w, out_per = shape_size(m->out);
    size_t off = 0;
    if (module_set_dx(m, n, err))
        return -1;
    for (int i = 0; i < m->n_child; i++) {
        Module *b = m->child[i];
        size_t per = shape_size(b->out);
        if (tensor_set_nchw(&cm->dy_part, n, b->out, err))
            return -1;
        for (int k = 0; k < n; k++)
            memcpy(cm->dy_part.data + (size_t)k * per, dy->data + (size_t)k * out_per + off,
                   per * sizeof(float));
        off += (size_t)b->out.c * hw;
        if (child_backward(b, x, &cm->dy_part, ctx, err)) /* no_dx: as residual's */
            return -1;
        if (ctx->no_dx)
            continue;
        float *dx = m->dx.data;
        const float *g = b->dx.data;
        if (i == 0)
            memcpy(dx, g, m->dx.size * sizeof(float));
        else
            for (size_t j = 0; j < m->dx.size; j++)
                dx[j] += g[j];
    }
    return 0;
}

static void cat_destroy(Module *m)
{
    tensor_free(&((ConcatModule *)m)->dy_part);
    free(m);
}

static const ModuleOps cat_ops = {"concat", cat_setup, no_init, cat_forward, cat_backward,
                                  cat_destroy};

Module *concat_module_new(Module **branches, int n, Err *err)
{
    Module *m = module_alloc(sizeof(ConcatModule), &cat_ops, err);
    if (!m || adopt_children(m, branches, n, err)) {
        free(m);
        free_array(branches, n);
        return NULL;
    }
    return m;
}

/* ---- the Net -------------------------------------------------------------------------- */

typedef struct Walk {
    Net *net;
    size_t p_off, b_off, ws_max;
    int n_info;
    int count_only;
} Walk;

/* Tree order walk: assigns parameter/buffer views and collects workspace needs. */
static void walk_assign(Module *m, Walk *w)
{
    if (m->n_params || m->n_buffers) {
        if (!w->count_only) {
            Net *net = w->net;
            if (m->n_params) {
                m->w = net->params + w->p_off;
                m->dw = net->grads + w->p_off;
                for (size_t i = 0; i < m->n_params; i++)
                    net->decay_mask[w->p_off + i] = i < m->n_decay ? 1.0f : 0.0f;
            }
            if (m->n_buffers)
                m->buf = net->buffers + w->b_off;
            net->info[w->n_info] = (ParamInfo){m->path, m->ops->kind, w->p_off, m->n_params};
        }
        w->n_info++;
    }
    w->p_off += m->n_params;
    w->b_off += m->n_buffers;
    if (m->ws_floats > w->ws_max)
        w->ws_max = m->ws_floats;
    for (int i = 0; i < m->n_child; i++)
        walk_assign(m->child[i], w);
}

#define NET_MAX_COLOURS 64

/* Colours the sequentials whose children share gradient buffers (the header's rule). dy: the
 * colours m's dy may lie in; forbidden: the colours m's subtree must not write (its ancestor
 * sequentials', and inside a residual or concat branch, the dy the other branches still read
 * and the earlier branches' dx). Sets *dx to the colours m's dx may lie in (a sequential's is
 * its first child's; an alias layer's is its dy; a sharing child's is its parent's colour,
 * set by the parent) and returns the colours used in m's subtree; *bad when a net needs more
 * than NET_MAX_COLOURS. Children are visited last to first, as backward runs. */
static uint64_t colour_tree(Module *m, uint64_t forbidden, uint64_t dy, uint64_t *dx,
                            int *n_colours, int *bad)
{
    uint64_t used = 0;
    *dx = m->alias && !m->n_child ? dy : 0;
    if (m->ops == &seq_ops) {
        SeqModule *sm = (SeqModule *)m;
        uint64_t mine = 0;
        sm->colour = -1;
        if (seq_pp_floats(m, 1)) {
            int c = 0;
            while (c < NET_MAX_COLOURS && (forbidden >> c & 1))
                c++;
            if (c == NET_MAX_COLOURS) {
                *bad = 1;
                return 0;
            }
            sm->colour = c;
            mine = (uint64_t)1 << c;
            used |= mine;
            if (c + 1 > *n_colours)
                *n_colours = c + 1;
        }
        uint64_t g = dy;
        for (int i = m->n_child - 1; i >= 0; i--) {
            Module *k = m->child[i];
            uint64_t kdx;
            used |= colour_tree(k, forbidden | mine, g, &kdx, n_colours, bad);
            g = k->shared_dx ? mine : kdx;
        }
        *dx = g;
        return used;
    }
    int branches = m->ops == &res_ops || m->ops == &cat_ops;
    uint64_t earlier = 0;
    for (int i = 0; i < m->n_child; i++) {
        uint64_t kdx;
        uint64_t u = colour_tree(m->child[i], forbidden | (branches ? dy | earlier : 0), dy,
                                 &kdx, n_colours, bad);
        if (branches)
            earlier |= u | kdx;
        used |= u;
    }
    return used;
}

/* need[c]: the floats of one buffer of colour c, the most any sequential of it needs. */
static void pool_need(const Module *m, size_t cap, size_t *need)
{
    if (m->ops == &seq_ops && ((const SeqModule *)m)->colour >= 0) {
        int c = ((const SeqModule *)m)->colour;
        size_t f = seq_pp_floats(m, cap);
        if (f > need[c])
            need[c] = f;
    }
    for (int i = 0; i < m->n_child; i++)
        pool_need(m->child[i], cap, need);
}

static int reserve_tree(Module *m, int cap_n, Err *err)
{
    size_t cap = (size_t)cap_n;
    if (!m->alias &&
        ((!m->inplace && tensor_reserve(&m->y, cap * shape_size(m->out), err)) ||
         (!m->shared_dx && tensor_reserve(&m->dx, cap * shape_size(m->in), err))))
        return err_prefix(err, m->path);
    if (m->ops == &cat_ops) {
        size_t most = 0;
        for (int i = 0; i < m->n_child; i++)
            if (shape_size(m->child[i]->out) > most)
                most = shape_size(m->child[i]->out);
        if (tensor_reserve(&((ConcatModule *)m)->dy_part, cap * most, err))
            return err_prefix(err, m->path);
    }
    for (int i = 0; i < m->n_child; i++)
        if (reserve_tree(m->child[i], cap_n, err))
            return -1;
    return 0;
}

int net_reserve(Net *net, int cap_n, Err *err)
{
    if (cap_n < 1)
        return err_set(err, "net_reserve: batch capacity is %d, expected >= 1", cap_n);
    /* Growing may move activations: alias layers' views of the last pass would dangle, so a
     * backward now needs a new forward. */
    net->last_x = NULL;
    if (reserve_tree(net->root, cap_n, err))
        return -1;
    size_t need[NET_MAX_COLOURS] = {0};
    pool_need(net->root, (size_t)cap_n, need);
    for (int c = 0; c < net->n_colours; c++)
        if (tensor_reserve(&net->grad_pool[2 * c], need[c], err) ||
            tensor_reserve(&net->grad_pool[2 * c + 1], need[c], err))
            return err_prefix(err, "net gradient buffers");
    net->cap_n = cap_n;
    return 0;
}

int net_set_threads(Net *net, int nthreads, Err *err)
{
    if (nthreads < 1)
        return err_set(err, "net_set_threads: %d threads, expected >= 1", nthreads);
    size_t total = (size_t)nthreads * net->ws_stride;
    float *ws = tensor_alloc_floats(total ? total : 1);
    if (!ws)
        return err_set(err, "net_set_threads: out of memory for a %zu-float workspace", total);
    free(net->ws);
    net->ws = ws;
    net->nthreads = nthreads;
    return 0;
}

int net_build(Net **out, Module *root, Shape in, int nthreads, int cap_n, Err *err)
{
    *out = NULL;
    Net *net = calloc(1, sizeof *net);
    if (!net) {
        module_free(root);
        return err_set(err, "net_build: out of memory");
    }
    net->root = root;
    net->in = in;
    if (in.c < 1 || in.h < 1 || in.w < 1) {
        err_set(err, "net_build: input shape (%d, %d, %d) must be positive", in.c, in.h, in.w);
        goto fail;
    }
    if (child_setup(root, in, err))
        goto fail;
    net->out = root->out;
    int deep = 0;
    uint64_t root_dx;
    colour_tree(root, 0, 0, &root_dx, &net->n_colours, &deep);
    if (deep) {
        err_set(err, "net_build: sequentials nest more than %d deep", NET_MAX_COLOURS);
        goto fail;
    }
    net->grad_pool = calloc((size_t)(2 * net->n_colours + 1), sizeof *net->grad_pool);
    if (!net->grad_pool) {
        err_set(err, "net_build: out of memory");
        goto fail;
    }

    Walk w = {net, 0, 0, 0, 0, 1};
    walk_assign(root, &w);
    net->n_params = w.p_off;
    net->n_buffers = w.b_off;
    net->ws_stride = (w.ws_max + 15) / 16 * 16; /* keep each thread's slice 64-byte aligned */
    net->params = tensor_alloc_floats(net->n_params);
    net->grads = tensor_alloc_floats(net->n_params);
    net->decay_mask = tensor_alloc_floats(net->n_params);
    net->buffers = tensor_alloc_floats(net->n_buffers);
    net->info = calloc((size_t)w.n_info + 1, sizeof *net->info);
    if (!net->params || !net->grads || !net->decay_mask || !net->buffers || !net->info) {
        err_set(err, "net_build: out of memory for %zu parameters", net->n_params);
        goto fail;
    }
    w = (Walk){net, 0, 0, 0, 0, 0};
    walk_assign(root, &w);
    net->n_info = w.n_info;
    if (net_set_threads(net, nthreads, err) || net_reserve(net, cap_n, err))
        goto fail;
    *out = net;
    return 0;
fail:
    net_free(net);
    return -1;
}

void net_free(Net *net)
{
    if (!net)
        return;
    module_free(net->root);
    free(net->params);
    free(net->grads);
    free(net->decay_mask);
    free(net->buffers);
    free(net->ws);
    free(net->info);
    free(net->mix_lam);
    free(net->mix_perm);
    for (int i = 0; net->grad_pool && i < 2 * net->n_colours; i++)
        tensor_free(&net->grad_pool[i]);
    free(net->grad_pool);
    free(net);
}

static void init_tree(Module *m, Rng *rng)
{
    m->ops->init(m, rng);
    for (int i = 0; i < m->n_child; i++)
        init_tree(m->child[i], rng);
}

void net_init(Net *net, Rng *rng) { init_tree(net->root, rng); }

void net_zero_grad(Net *net) { memset(net->grads, 0, net->n_params * sizeof(float)); }

static Ctx net_ctx(Net *net, int train, Rng *rng, int mix)
{
    return (Ctx){train, rng, net->ws, net->ws_stride, net->nthreads, net->profile,
                 mix ? &net->mix : NULL, net->grad_pool, 0};
}

int net_set_mix(Net *net, const double *lam, const int *perm, int n, Err *err)
{
    if (n < 0)
        return err_set(err, "net_set_mix: n is %d, expected >= 0", n);
    if (n > net->mix_cap) {
        int cap = n > net->cap_n ? n : net->cap_n;
        double *l = malloc((size_t)cap * sizeof *l);
        int *p = malloc((size_t)cap * sizeof *p);
        if (!l || !p) {
            free(l);
            free(p);
            return err_set(err, "net_set_mix: out of memory for a plan of %d", n);
        }
        free(net->mix_lam);
        free(net->mix_perm);
        net->mix_lam = l;
        net->mix_perm = p;
        net->mix_cap = cap;
    }
    if (n > 0) {
        memcpy(net->mix_lam, lam, (size_t)n * sizeof *lam);
        memcpy(net->mix_perm, perm, (size_t)n * sizeof *perm);
    }
    net->mix = (MixPlan){n, net->mix_lam, net->mix_perm};
    return 0;
}

int net_forward(Net *net, const Tensor *x, int train, Rng *rng, const Tensor **y, Err *err)
{
    char buf[64];
    Shape s = tensor_example_shape(x);
    if (x->ndim < 2 || !shape_eq(s, net->in) || x->shape[0] < 1)
        return err_set(err, "net_forward: input is %s, expected (N, %d, %d, %d)",
                       tensor_shape_str(x, buf, sizeof buf), net->in.c, net->in.h, net->in.w);
    if (x->shape[0] > net->cap_n)
        return err_set(err, "net_forward: batch %d exceeds the reserved capacity %d "
                            "(call reserve first)", x->shape[0], net->cap_n);
    int mix = train && net->mix.n > 0;
    Ctx ctx = net_ctx(net, train, rng, mix);
    net->last_x = NULL;
    if (child_forward(net->root, x, &ctx, err))
        return -1;
    net->last_x = x;
    net->last_n = x->shape[0];
    net->last_train = train;
    net->last_mix = mix;
    if (y)
        *y = &net->root->y;
    return 0;
}

int net_backward(Net *net, const Tensor *dy, const Tensor **dx, Err *err)
{
    char buf[64];
    if (!net->last_x)
        return err_set(err, "net_backward: no successful forward pass to differentiate");
    Shape s = tensor_example_shape(dy);
    if (dy->size != (size_t)net->last_n * shape_size(net->out) || !shape_eq(s, net->out))
        return err_set(err, "net_backward: dy is %s, expected (%d, %d, %d, %d)",
                       tensor_shape_str(dy, buf, sizeof buf), net->last_n, net->out.c,
                       net->out.h, net->out.w);
    Tensor dyv = view_as(dy, net->last_n, net->out);
    Ctx ctx = net_ctx(net, net->last_train, NULL, net->last_mix);
    ctx.no_dx = !dx; /* the stem's input gradient only for a caller that reads it */
    if (child_backward(net->root, net->last_x, &dyv, &ctx, err))
        return -1;
    if (dx)
        *dx = &net->root->dx;
    return 0;
}
