/*
 * fuzz_records.c: libFuzzer harness for the CIFAR record parser and what runs on parsed data
 * (harness/data/data_cifar.c): data_cifar_parse, subsets, balanced draws, corruption and batch
 * assembly with crops and flips. `make fuzz` builds it with clang -fsanitize=fuzzer,address,
 * undefined; tests/fuzz/README.md describes the corpora and the regression inputs.
 *
 * Input: byte 0 picks the kind (bit 0: CIFAR-100), the set size (bits 1-2: 1..4 examples) and
 * where the records go (bits 3-4: 0..3, beyond the set is an error path); byte 1 the crop
 * padding and whether offsets are taken modulo the valid range; the rest are the records.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_cifar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEADER 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FUZZ_HEADER)
        return 0;
    CifarKind kind = data[0] & 1 ? CIFAR_100 : CIFAR_10;
    int n = 1 + ((data[0] >> 1) & 3), first = (data[0] >> 3) & 3;
    int pad = (data[1] & 31) % (CIFAR_PAD_MAX + 2); /* CIFAR_PAD_MAX + 1 is an error path */
    int wrap = data[1] >> 7;
    CifarSet s, sub;
    Err err;
    if (data_cifar_alloc(&s, kind, n, &err))
        return 0;
    const uint8_t *rec = data + FUZZ_HEADER;
    size_t len = size - FUZZ_HEADER;
    if (data_cifar_parse(&s, first, rec, len, "fuzz", 0, &err) == 0) {
        int idx[4], changed;
        for (int i = 0; i < n; i++)
            idx[i] = n - 1 - i;
        if (data_cifar_subset(&sub, &s, idx, n, &err) == 0)
            data_cifar_free(&sub);
        data_cifar_balanced_indices(idx, &s, n, 1, &err);
        data_cifar_corrupt(&s, (double)(data[1] & 15) / 15.0, 2, &changed, &err);
        /* Augmentations from the pixel bytes: valid when wrap is set, arbitrary otherwise. */
        CifarAug aug[4];
        const uint8_t *px = s.pixels;
        for (int i = 0; i < n; i++) {
            int top = px[i * 7], left = px[i * 7 + 1];
            if (wrap) {
                top %= 2 * pad + 1;
                left %= 2 * pad + 1;
            }
            aug[i] = (CifarAug){top, left, px[i * 7 + 2] & 1};
            idx[i] = i;
        }
        Tensor x = {0};
        float lut[3 * 256];
        float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.25f, 0.25f, 0.25f};
        data_cifar_norm_lut(lut, mean, std);
        if (tensor_reserve(&x, (size_t)n * CIFAR_PIXELS, &err) == 0) {
            data_cifar_assemble(&x, &s, idx, n, aug, pad, lut, &err);
            data_cifar_assemble(&x, &s, idx, n, NULL, pad, lut, &err);
        }
        tensor_free(&x);
    }
    data_cifar_free(&s);
    return 0;
}
