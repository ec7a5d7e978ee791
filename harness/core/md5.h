/*
 * md5.h: MD5 (RFC 1321), for checksums the results files record and a reader can recompute
 * with `md5sum`: the noisy label set of a Table 4 run, the model files a Table 5 evaluation
 * used. Not for security.
 *
 *   Md5 m; md5_init(&m); md5_update(&m, p, n); ...; md5_final(&m, digest);
 *   md5_hex(p, n, hex) -- the 32 lowercase hex digits and a NUL
 */
#ifndef MD5_H
#define MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct Md5 {
    uint32_t a, b, c, d;
    uint64_t bytes;        /* message length so far */
    uint8_t block[64];     /* pending bytes, bytes % 64 of them */
} Md5;

void md5_init(Md5 *m);
void md5_update(Md5 *m, const void *data, size_t n);
void md5_final(Md5 *m, uint8_t digest[16]);
/* md5_final, written as 32 lowercase hex digits and a NUL. */
void md5_final_hex(Md5 *m, char hex[33]);
void md5_hex(const void *data, size_t n, char hex[33]);

#endif
