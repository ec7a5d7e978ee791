/*
 * module.c: the helpers module.h declares for every layer kind: the initialisation scheme
 * names and the input-check and output/dx sizing calls that each kind's forward and backward
 * start with. The containers and the Net are in net.c.
 */
#include "nn/module.h"

#include <string.h>

static const char *const init_names[] = {"torch_default", "he_normal", "he_normal_fan_in",
                                         "zero", "normal_0.01"};

int init_scheme_parse(const char *name, InitScheme *out)
{
    for (int i = 0; i < (int)(sizeof init_names / sizeof init_names[0]); i++) {
        if (!strcmp(name, init_names[i])) {
            *out = (InitScheme)i;
            return 0;
        }
    }
    return -1;
}

const char *init_scheme_name(InitScheme s) { return init_names[s]; }

int module_check_input(const Module *m, const Tensor *x, int *n, Err *err)
{
    char buf[64];
    Shape s = tensor_example_shape(x);
    if (x->ndim < 2 || x->shape[0] < 1 || !shape_eq(s, m->in) ||
        (x->ndim != 4 && !(m->in.h == 1 && m->in.w == 1)))
        return err_set(err, "%s: input is %s, expected (N, %d, %d, %d)", m->ops->kind,
                       tensor_shape_str(x, buf, sizeof buf), m->in.c, m->in.h, m->in.w);
    *n = x->shape[0];
    return 0;
}

int module_set_output(Module *m, int n, Err *err) { return tensor_set_nchw(&m->y, n, m->out, err); }

int module_set_dx(Module *m, int n, Err *err) { return tensor_set_nchw(&m->dx, n, m->in, err); }

int module_check_elementwise(const Module *m, const Tensor *x, const Tensor *dy, int *n,
                             Err *err)
{
    char buf[64];
    if (module_check_input(m, x, n, err))
        return -1;
    if (dy && dy->size != x->size)
        return err_set(err, "%s: dy is %s with %zu elements, expected %zu like the input",
                       m->ops->kind, tensor_shape_str(dy, buf, sizeof buf), dy->size, x->size);
    return 0;
}

int module_setup_elementwise(Module *m, Err *err)
{
    (void)err;
    m->out = m->in;
    m->n_params = 0;
    m->n_decay = 0;
    m->n_buffers = 0;
    m->ws_floats = 0;
    return 0;
}

void module_init_none(Module *m, Rng *rng)
{
    (void)m;
    (void)rng;
}
