/*
 * h5io_commit.c: making a written file final: the checksum block in HDF5's user block
 * (FNV-1a 64 of every byte after it), fsync, the atomic rename of <path>.tmp to <path> and the
 * fsync of its directory; h5io_close, which deletes an uncommitted .tmp; and the checksum
 * check that h5io_open runs before HDF5 parses anything.
 * See h5io.h for the file contract and h5io_internal.h for how the files divide the work.
 */
#include "io/h5io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------- */
/* checksum block */

#define SUM_MAGIC "h5io checksum v1\n"
#define FNV_OFFSET 0xcbf29ce484222325ULL /* FNV-1a 64 (Fowler, Noll, Vo; draft-eastlake-fnv) */
#define FNV_PRIME 0x100000001b3ULL
#define SUM_READ_BYTES ((size_t)1 << 20)

/* FNV-1a 64 of fd's bytes from H5IO_SUM_BLOCK to the end. 0, or -1 with errno. */
static int sum_fd(int fd, uint64_t *sum)
{
    unsigned char *buf = malloc(SUM_READ_BYTES);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    uint64_t h = FNV_OFFSET;
    off_t off = H5IO_SUM_BLOCK;
    for (;;) {
        ssize_t n = pread(fd, buf, SUM_READ_BYTES, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            if (n == 0)
                *sum = h;
            return n == 0 ? 0 : -1;
        }
        for (ssize_t i = 0; i < n; i++) {
            h ^= buf[i];
            h *= FNV_PRIME;
        }
        off += n;
    }
}

/* Writes the checksum block of a closed HDF5 file and fsyncs it. */
static int sum_write(const char *path, const char *fn, Err *err)
{
    char block[H5IO_SUM_BLOCK];
    struct stat st;
    uint64_t h;
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return err_set(err, "%s: %s: %s", fn, path, strerror(errno));
    if (fstat(fd, &st) < 0 || sum_fd(fd, &h) < 0) {
        err_set(err, "%s: %s: reading back for the checksum: %s", fn, path, strerror(errno));
        close(fd);
        return -1;
    }
    memset(block, 0, sizeof block);
    snprintf(block, sizeof block, SUM_MAGIC "size %lld\nfnv1a64 %016llx\n",
             (long long)st.st_size, (unsigned long long)h);
    if (pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block || fsync(fd) < 0) {
        err_set(err, "%s: %s: writing the checksum block: %s", fn, path, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* 1: the checksum block matches; 0: there is none (a file from another writer); -1: it does
 * not match or cannot be parsed (corrupt); -2: I/O error, errno set. */
int h5io_sum_check(const char *path)
{
    char block[H5IO_SUM_BLOCK + 1];
    struct stat st;
    long long size;
    unsigned long long want;
    uint64_t h;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -2;
    ssize_t n = pread(fd, block, H5IO_SUM_BLOCK, 0);
    int rc;
    if (n < 0) {
        rc = -2;
    } else if (n < H5IO_SUM_BLOCK || memcmp(block, SUM_MAGIC, strlen(SUM_MAGIC))) {
        rc = 0;
    } else {
        block[H5IO_SUM_BLOCK] = 0;
        rc = -1;
        if (sscanf(block + strlen(SUM_MAGIC), "size %lld\nfnv1a64 %16llx", &size, &want) == 2 &&
            fstat(fd, &st) == 0 && st.st_size == size)
            rc = sum_fd(fd, &h) < 0 ? -2 : h == want ? 1 : -1;
    }
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* commit */

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int h5io_commit(H5Out *f, Err *err)
{
    const char *fn = "h5io_commit";
    if (h5io_check_open(f, 1, fn, err))
        return -1;
    f->open = 0;
    if (H5Fclose(f->file) < 0) {
        h5io_fail(err, fn, f, "cannot close the file");
        unlink(f->tmp);
        f->writing = 0;
        return -1;
    }
    f->writing = 0;
    if (sum_write(f->tmp, fn, err)) {
        unlink(f->tmp);
        return -1;
    }
    if (rename(f->tmp, f->path) < 0) {
        err_set(err, "%s: rename %s to %s: %s", fn, f->tmp, f->path, strerror(errno));
        unlink(f->tmp);
        return -1;
    }
    /* the rename itself is durable only once the directory entry is on disk */
    char dir[H5IO_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", f->path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir] = 0; /* "/x.h5" keeps "/" */
    if (fsync_path(dir, O_RDONLY | O_DIRECTORY) < 0 && errno != EINVAL)
        return err_set(err, "%s: %s: fsync of directory %s: %s", fn, f->path, dir,
                       strerror(errno));
    return 0;
}

void h5io_close(H5Out *f)
{
    if (!f || !f->open)
        return;
    H5Fclose(f->file);
    if (f->writing)
        unlink(f->tmp);
    f->open = 0;
    f->writing = 0;
}

