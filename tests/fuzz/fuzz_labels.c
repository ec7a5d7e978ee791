/*
 * fuzz_labels.c: libFuzzer harness for the JSON label parser of the npm converter
 * (png2bin_parse_labels in tools/cifar_png2bin.c). A parsed array must hold only 0..9.
 */
#define CIFAR_PNG2BIN_NO_MAIN
#include "../../tools/cifar_png2bin.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *labels = NULL;
    size_t n = 0;
    char msg[512];
    if (png2bin_parse_labels((const char *)data, size, &labels, &n, msg, sizeof msg) == 0) {
        for (size_t i = 0; i < n; i++)
            if (labels[i] >= P2B_CLASSES)
                abort(); /* the fuzzer reports this input as a crash */
        free(labels);
    }
    return 0;
}
