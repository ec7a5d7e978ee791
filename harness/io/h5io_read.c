/*
 * h5io_read.c: opening a file read-only (checksum block first, then format_version),
 * h5io_is_complete, listings of groups, datasets and attributes, and the attribute and
 * dataset readers.
 * See h5io.h for the file contract and h5io_internal.h for how the files divide the work.
 */
#include "io/h5io_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------------------------------- */
/* reading */

int h5io_open(H5Out *f, const char *path, Err *err)
{
    const char *fn = "h5io_open";
    memset(f, 0, sizeof *f);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!path || !path[0])
        return err_set(err, "%s: path is empty", fn);
    if (strlen(path) >= H5IO_PATH_MAX)
        return err_set(err, "%s: path has %zu characters, at most %d allowed", fn, strlen(path),
                       H5IO_PATH_MAX - 1);
    snprintf(f->path, sizeof f->path, "%s", path);
    struct stat st;
    if (stat(path, &st) < 0)
        return err_set(err, "%s: %s: %s", fn, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return err_set(err, "%s: %s: not a regular file", fn, path);
    /* the whole file is checked before HDF5 parses any of it: HDF5 1.10 can crash on
     * damaged metadata, and damaged data would be read silently */
    int sum = h5io_sum_check(path);
    if (sum == -2)
        return err_set(err, "%s: %s: %s", fn, path, strerror(errno));
    if (sum == -1)
        return err_set(err, "%s: %s: " CORRUPT_MSG, fn, path);
    f->verified = sum == 1;

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = -1;
    if (fapl >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0)
        file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    /* HDF5 checks the signature, the superblock and the stored end-of-file address against
     * the file size, which catches truncation */
    if (file < 0)
        return err_set(err, "%s: %s: " CORRUPT_MSG, fn, path);
    f->file = file;
    f->open = 1;
    htri_t has = H5Aexists(file, H5IO_FORMAT_ATTR);
    if (has < 0) {
        h5io_close(f);
        return err_set(err, "%s: %s: " CORRUPT_MSG, fn, path);
    }
    if (has > 0 && h5io_read_attr_i64(f, "", H5IO_FORMAT_ATTR, &f->format_version, err)) {
        h5io_close(f);
        return -1;
    }
    return 0;
}

int h5io_is_complete(const char *path, Err *err)
{
    H5Out f;
    if (h5io_open(&f, path, err))
        return -1;
    int64_t v = f.format_version;
    int verified = f.verified;
    h5io_close(&f);
    if (v < 1)
        return err_set(err, "h5io_is_complete: %s: no " H5IO_FORMAT_ATTR
                       " attribute at the root (incomplete or not written by h5io); "
                       "delete it to rerun", path);
    if (!verified)
        return err_set(err, "h5io_is_complete: %s: no checksum block (not written by h5io, "
                       "or its first bytes are damaged); delete it to rerun", path);
    return 0;
}

void h5io_list_free(H5List *l)
{
    if (!l)
        return;
    free(l->e);
    l->e = NULL;
    l->n = 0;
}

/* Shape of a dataspace into e (kind left alone); -1 for a rank over TENSOR_MAX_DIM. */
static int entry_shape(H5Entry *e, hid_t sp)
{
    hsize_t dims[H5S_MAX_RANK];
    int rank = H5Sget_simple_extent_dims(sp, dims, NULL);
    if (rank < 0)
        return -1;
    e->ndim = rank;
    for (int i = 0; i < rank && i < TENSOR_MAX_DIM; i++)
        e->dims[i] = (int64_t)dims[i];
    return rank <= TENSOR_MAX_DIM ? 0 : 1;
}

int h5io_list(H5Out *f, const char *group, H5List *out, Err *err)
{
    const char *fn = "h5io_list";
    memset(out, 0, sizeof *out);
    if (h5io_check_open(f, 0, fn, err))
        return -1;
    const char *p = h5io_obj_path(group);
    H5G_info_t info;
    hid_t g = H5Gopen2(f->file, p, H5P_DEFAULT);
    if (g < 0)
        return h5io_fail(err, fn, f, "no group '%s'", p);
    if (H5Gget_info(g, &info) < 0) {
        h5io_fail(err, fn, f, "cannot read group '%s'", p);
        H5Gclose(g);
        return -1;
    }
    out->e = calloc(info.nlinks ? info.nlinks : 1, sizeof *out->e);
    if (!out->e) {
        H5Gclose(g);
        return err_set(err, "%s: %s: out of memory listing '%s'", fn, f->path, p);
    }
    for (hsize_t i = 0; i < info.nlinks; i++) {
        H5Entry *e = &out->e[out->n];
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, e->name,
                                         sizeof e->name, H5P_DEFAULT);
        if (len < 0 || (size_t)len >= sizeof e->name) {
            if (len < 0)
                h5io_fail(err, fn, f, "cannot read entry %llu of group '%s'",
                        (unsigned long long)i, p);
            else
                err_set(err, "%s: %s: a name in '%s' has %zd characters, at most %d allowed",
                        fn, f->path, p, len, H5IO_NAME_MAX - 1);
            goto fail;
        }
        hid_t o = H5Oopen(g, e->name, H5P_DEFAULT);
        if (o < 0) {
            h5io_fail(err, fn, f, "cannot open '%s' in group '%s'", e->name, p);
            goto fail;
        }
        H5I_type_t type = H5Iget_type(o);
        e->kind = H5IO_OTHER;
        if (type == H5I_GROUP) {
            e->kind = H5IO_GROUP;
        } else if (type == H5I_DATASET) {
            hid_t t = H5Dget_type(o), sp = H5Dget_space(o);
            int shape = sp >= 0 ? entry_shape(e, sp) : -1;
            if (t < 0 || shape < 0) {
                h5io_fail(err, fn, f, "cannot read dataset '%s' in group '%s'", e->name, p);
                if (t >= 0) H5Tclose(t);
                if (sp >= 0) H5Sclose(sp);
                H5Oclose(o);
                goto fail;
            }
            H5Kind k = h5io_classify(t);
            if (shape == 0 && (k == H5IO_F32 ? e->ndim >= 1
                                              : (k == H5IO_F64 || k == H5IO_I64 ||
                                                 k == H5IO_BYTES) && e->ndim == 1))
                e->kind = k;
            H5Tclose(t);
            H5Sclose(sp);
        }
        H5Oclose(o);
        out->n++;
    }
    H5Gclose(g);
    return 0;
fail:
    H5Gclose(g);
    h5io_list_free(out);
    return -1;
}

typedef struct AttrNames {
    H5List *l;
    int cap;
    int too_long, oom;
} AttrNames;

static herr_t attr_name_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    AttrNames *a = data;
    (void)loc;
    (void)info;
    if (strlen(name) >= H5IO_NAME_MAX) {
        a->too_long = 1;
        return 1;
    }
    if (a->l->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 16;
        H5Entry *e = realloc(a->l->e, (size_t)cap * sizeof *e);
        if (!e) {
            a->oom = 1;
            return 1;
        }
        a->l->e = e;
        a->cap = cap;
    }
    H5Entry *e = &a->l->e[a->l->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    return 0;
}

int h5io_list_attrs(H5Out *f, const char *obj, H5List *out, Err *err)
{
    const char *fn = "h5io_list_attrs";
    memset(out, 0, sizeof *out);
    if (h5io_check_open(f, 0, fn, err))
        return -1;
    const char *p = h5io_obj_path(obj);
    hid_t o = H5Oopen(f->file, p, H5P_DEFAULT);
    if (o < 0)
        return h5io_fail(err, fn, f, "no object '%s'", p);
    AttrNames names = {out, 0, 0, 0};
    hsize_t idx = 0;
    herr_t rc = H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_name_cb, &names);
    if (rc < 0 || names.too_long || names.oom) {
        if (rc < 0)
            h5io_fail(err, fn, f, "cannot list the attributes of '%s'", p);
        else
            err_set(err, "%s: %s: '%s': %s", fn, f->path, p,
                    names.oom ? "out of memory" : "an attribute name is too long");
        goto fail;
    }
    for (int i = 0; i < out->n; i++) {
        H5Entry *e = &out->e[i];
        hid_t a = H5Aopen(o, e->name, H5P_DEFAULT);
        hid_t t = a >= 0 ? H5Aget_type(a) : -1, sp = a >= 0 ? H5Aget_space(a) : -1;
        int shape = sp >= 0 ? entry_shape(e, sp) : -1;
        if (shape < 0 || t < 0) {
            h5io_fail(err, fn, f, "cannot read attribute '%s' of '%s'", e->name, p);
            if (t >= 0) H5Tclose(t);
            if (sp >= 0) H5Sclose(sp);
            if (a >= 0) H5Aclose(a);
            goto fail;
        }
        H5Kind k = h5io_attr_kind(h5io_classify(t));
        e->kind = (e->ndim <= 1) ? k : H5IO_OTHER;
        H5Tclose(t);
        H5Sclose(sp);
        H5Aclose(a);
    }
    H5Oclose(o);
    return 0;
fail:
    H5Oclose(o);
    h5io_list_free(out);
    return -1;
}

/* Reads n strings of attribute a (stored type t) into v->str as malloc'ed copies. */
static int read_strings(hid_t a, hid_t t, H5Value *v)
{
    H5T_cset_t cset = H5Tget_cset(t);
    int rc = -1;
    if (H5Tis_variable_str(t) > 0) {
        hid_t mt = h5io_vlen_str_type(cset);
        char **tmp = calloc(v->n, sizeof *tmp);
        if (mt >= 0 && tmp && H5Aread(a, mt, tmp) >= 0) {
            rc = 0;
            for (size_t i = 0; i < v->n; i++) {
                v->str[i] = strdup(tmp[i] ? tmp[i] : "");
                if (!v->str[i])
                    rc = -1;
                if (tmp[i])
                    H5free_memory(tmp[i]);
            }
        }
        free(tmp);
        if (mt >= 0)
            H5Tclose(mt);
        return rc;
    }
    /* fixed-length strings (h5py's numpy.bytes_): read NUL-terminated, one byte longer */
    size_t size = H5Tget_size(t) + 1;
    hid_t mt = H5Tcopy(H5T_C_S1);
    char *buf = malloc(v->n * size);
    if (mt >= 0 && buf && H5Tset_size(mt, size) >= 0 && H5Tset_cset(mt, cset) >= 0 &&
        H5Tset_strpad(mt, H5T_STR_NULLTERM) >= 0 && H5Aread(a, mt, buf) >= 0) {
        rc = 0;
        for (size_t i = 0; i < v->n; i++)
            if (!(v->str[i] = strndup(buf + i * size, size)))
                rc = -1;
    }
    free(buf);
    if (mt >= 0)
        H5Tclose(mt);
    return rc;
}

int h5io_read_attr(H5Out *f, const char *obj, const char *name, H5Value *v, Err *err)
{
    const char *fn = "h5io_read_attr";
    memset(v, 0, sizeof *v);
    if (h5io_check_open(f, 0, fn, err))
        return -1;
    const char *p = h5io_obj_path(obj);
    int rc = -1;
    hid_t o = -1, a = -1, t = -1, sp = -1, mt = -1;
    if ((o = H5Oopen(f->file, p, H5P_DEFAULT)) < 0) {
        h5io_fail(err, fn, f, "no object '%s'", p);
        goto done;
    }
    if ((a = H5Aopen(o, name, H5P_DEFAULT)) < 0) {
        h5io_fail(err, fn, f, "no attribute '%s' on '%s'", name, p);
        goto done;
    }
    if ((t = H5Aget_type(a)) < 0 || (sp = H5Aget_space(a)) < 0) {
        h5io_fail(err, fn, f, "cannot read attribute '%s' of '%s'", name, p);
        goto done;
    }
    int rank = H5Sget_simple_extent_ndims(sp);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    H5Kind k = h5io_attr_kind(h5io_classify(t));
    if (rank < 0 || rank > 1 || n < 0 || k == H5IO_OTHER) {
        err_set(err, "%s: %s: attribute '%s' of '%s' is not a scalar or 1-D int, float, "
                "string or bool", fn, f->path, name, p);
        goto done;
    }
    /* a null dataspace (rank 0, no points) reads as an empty array */
    if (h5io_value_alloc(v, k, (size_t)n, rank == 1 || n == 0)) {
        err_set(err, "%s: %s: out of memory for attribute '%s' of '%s'", fn, f->path, name, p);
        goto done;
    }
    int bad;
    if (n == 0) {
        bad = 0;
    } else if (k == H5IO_STR) {
        bad = read_strings(a, t, v);
    } else {
        bad = (mt = h5io_mem_type(k)) < 0 || H5Aread(a, mt, (void *)h5io_value_data(v)) < 0;
    }
    if (bad) {
        h5io_fail(err, fn, f, "cannot read attribute '%s' of '%s'", name, p);
        goto done;
    }
    rc = 0;
done:
    if (rc)
        h5io_value_free(v);
    if (mt >= 0) H5Tclose(mt);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    if (o >= 0) H5Oclose(o);
    return rc;
}

int h5io_read_attr_i64(H5Out *f, const char *obj, const char *name, int64_t *v, Err *err)
{
    H5Value x;
    if (h5io_read_attr(f, obj, name, &x, err))
        return -1;
    int ok = x.kind == H5IO_I64 && !x.is_array;
    if (ok)
        *v = x.i64[0];
    h5io_value_free(&x);
    if (!ok)
        return err_set(err, "h5io_read_attr_i64: %s: attribute '%s' of '%s' is not a scalar "
                       "integer", f->path, name, h5io_obj_path(obj));
    return 0;
}

/* Opens dataset `path`, classifies it and reads its shape into e. */
static hid_t open_dataset(H5Out *f, const char *fn, const char *p, H5Entry *e, Err *err)
{
    memset(e, 0, sizeof *e);
    hid_t d = H5Dopen2(f->file, p, H5P_DEFAULT);
    if (d < 0) {
        h5io_fail(err, fn, f, "no dataset '%s'", p);
        return -1;
    }
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    int shape = sp >= 0 ? entry_shape(e, sp) : -1;
    if (t < 0 || shape < 0)
        h5io_fail(err, fn, f, "cannot read dataset '%s'", p);
    e->kind = (t >= 0 && shape == 0) ? h5io_classify(t) : H5IO_OTHER;
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (t < 0 || shape < 0) {
        H5Dclose(d);
        return -1;
    }
    return d;
}

int h5io_read_tensor(H5Out *f, const char *path, Tensor *t, Err *err)
{
    const char *fn = "h5io_read_tensor";
    if (h5io_check_open(f, 0, fn, err))
        return -1;
    const char *p = h5io_obj_path(path);
    H5Entry e;
    hid_t d = open_dataset(f, fn, p, &e, err);
    if (d < 0)
        return -1;
    int rc = -1, allocated = 0;
    int shape[TENSOR_MAX_DIM];
    if (e.kind != H5IO_F32 || e.ndim < 1) {
        err_set(err, "%s: %s: dataset '%s' is %s of rank %d, expected f32 of rank 1..%d", fn,
                f->path, p, h5io_kind_name(e.kind), e.ndim, TENSOR_MAX_DIM);
        goto done;
    }
    for (int i = 0; i < e.ndim; i++) {
        if (e.dims[i] > INT32_MAX) {
            err_set(err, "%s: %s: dataset '%s' dimension %d is %lld, too large", fn, f->path,
                    p, i + 1, (long long)e.dims[i]);
            goto done;
        }
        shape[i] = (int)e.dims[i];
    }
    if (!t->data && !t->cap && t->ndim == 0) {
        if (tensor_alloc(t, e.ndim, shape, err)) {
            err_prefix(err, fn);
            goto done;
        }
        allocated = 1;
    } else {
        int same = t->ndim == e.ndim;
        for (int i = 0; same && i < e.ndim; i++)
            same = t->shape[i] == shape[i];
        if (!same) {
            char want[64];
            Tensor s = tensor_view(NULL, e.ndim, shape);
            char got[64];
            err_set(err, "%s: %s: dataset '%s' has shape %s, tensor has %s", fn, f->path, p,
                    tensor_shape_str(&s, want, sizeof want),
                    tensor_shape_str(t, got, sizeof got));
            goto done;
        }
    }
    if (t->size && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0) {
        h5io_fail(err, fn, f, "cannot read dataset '%s' (corrupt file?)", p);
        goto done;
    }
    rc = 0;
done:
    if (rc && allocated)
        tensor_free(t);
    H5Dclose(d);
    return rc;
}

int h5io_read_array(H5Out *f, const char *path, H5Value *v, Err *err)
{
    const char *fn = "h5io_read_array";
    memset(v, 0, sizeof *v);
    if (h5io_check_open(f, 0, fn, err))
        return -1;
    const char *p = h5io_obj_path(path);
    H5Entry e;
    hid_t d = open_dataset(f, fn, p, &e, err);
    if (d < 0)
        return -1;
    int rc = -1;
    hid_t mt = -1;
    if ((e.kind != H5IO_F64 && e.kind != H5IO_I64 && e.kind != H5IO_BYTES) || e.ndim != 1) {
        err_set(err, "%s: %s: dataset '%s' is %s of rank %d, expected 1-D f64, i64 or bytes",
                fn, f->path, p, h5io_kind_name(e.kind), e.ndim);
        goto done;
    }
    if (h5io_value_alloc(v, e.kind, (size_t)e.dims[0], 1)) {
        err_set(err, "%s: %s: out of memory for dataset '%s'", fn, f->path, p);
        goto done;
    }
    if (v->n && ((mt = h5io_mem_type(e.kind)) < 0 ||
                 H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, (void *)h5io_value_data(v)) < 0)) {
        h5io_fail(err, fn, f, "cannot read dataset '%s' (corrupt file?)", p);
        goto done;
    }
    rc = 0;
done:
    if (rc)
        h5io_value_free(v);
    if (mt >= 0)
        H5Tclose(mt);
    H5Dclose(d);
    return rc;
}
