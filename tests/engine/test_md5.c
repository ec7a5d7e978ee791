/*
 * test_md5.c: MD5 (harness/core/md5.c) against the test suite of RFC 1321 (appendix A.5), a
 * message fed in uneven pieces against the same message at once (the block buffering), the
 * padding boundaries (55, 56, 63, 64 and 65 bytes), and `md5sum` on a file of a million bytes
 * when the tool is there (coreutils).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/md5.h"
#include "testlib.h"

static int test_rfc1321_suite(void)
{
    static const char *const cases[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"1234567890123456789012345678901234567890123456789012345678901234567890123456789"
         "0",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char hex[33];
        md5_hex(cases[i][0], strlen(cases[i][0]), hex);
        if (strcmp(hex, cases[i][1]))
            return tl_fail("md5(\"%s\") = %s, expected %s", cases[i][0], hex, cases[i][1]);
    }
    return 0;
}

static int test_pieces_and_boundaries(void)
{
    static uint8_t msg[1000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 131 + 7);
    const size_t lengths[] = {55, 56, 63, 64, 65, 127, 128, 1000};
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
        size_t n = lengths[l];
        uint8_t whole[16], pieces[16];
        Md5 m;
        md5_init(&m);
        md5_update(&m, msg, n);
        md5_final(&m, whole);
        md5_init(&m);
        for (size_t at = 0, step = 1; at < n; at += step, step = step % 70 + 3)
            md5_update(&m, msg + at, at + step <= n ? step : n - at);
        md5_final(&m, pieces);
        if (memcmp(whole, pieces, 16))
            return tl_fail("%zu bytes: fed in pieces gives another digest", n);
    }
    return 0;
}

static int test_against_md5sum(void)
{
    char dir[256], path[512], cmd[1024];
    if (system("command -v md5sum >/dev/null 2>&1") != 0)
        return tl_skip("md5sum not installed (coreutils)");
    if (tl_tmpdir(dir, sizeof dir, "md5"))
        return 1;
    tl_path(path, sizeof path, dir, "msg.bin");
    size_t n = 1000003;
    uint8_t *msg = malloc(n);
    if (!msg)
        return tl_fail("out of memory");
    for (size_t i = 0; i < n; i++)
        msg[i] = (uint8_t)((i * 2654435761u) >> 13);
    FILE *f = fopen(path, "wb");
    int rc = !f || fwrite(msg, 1, n, f) != n;
    if (f)
        fclose(f);
    char want[64] = "", got[33];
    snprintf(cmd, sizeof cmd, "md5sum '%s'", path);
    FILE *p = rc ? NULL : popen(cmd, "r");
    if (!p || !fgets(want, sizeof want, p))
        rc = tl_fail("could not run %s", cmd);
    if (p)
        pclose(p);
    md5_hex(msg, n, got);
    if (!rc && strncmp(got, want, 32))
        rc = tl_fail("md5 %s, md5sum says %.32s", got, want);
    free(msg);
    tl_tmpdir_remove(dir);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"rfc1321_suite", test_rfc1321_suite},
        {"pieces_and_boundaries", test_pieces_and_boundaries},
        {"against_md5sum", test_against_md5sum},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
