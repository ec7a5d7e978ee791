# mk/fuzz.mk: fuzzing the parsers of untrusted input (tests/fuzz/README.md), included by the
# top-level Makefile.
#
#   make fuzz            fuzz the record parser, the PNG converter, the label parser and the
#                        JPEG decoder for FUZZ_SECONDS each (clang + libFuzzer: Debian clang,
#                        libclang-rt-14-dev)
#   make fuzz-build      the fuzz targets only, in build/fuzz
#
# Variables: FUZZ_SECONDS (default 60), FUZZ_CC (default clang).

.PHONY: fuzz fuzz-build

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 -Iharness \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
FUZZ_TARGETS := records png labels jpeg
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
# Longest input per target: 4 CIFAR-100 records; a 1024 x 2 PNG with room to grow; labels.
FUZZ_MAXLEN_records := 12400
FUZZ_MAXLEN_png     := 65536
FUZZ_MAXLEN_labels  := 4096
FUZZ_MAXLEN_jpeg    := 65536

$(FUZZ_BUILD)/fuzz_records: tests/fuzz/fuzz_records.c harness/data/data_cifar.c \
                            harness/core/tensor.c harness/core/rng.c $(ENGINE_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(filter %.c,$^) -o $@ -lm

$(FUZZ_BUILD)/fuzz_png: tests/fuzz/fuzz_png.c tools/cifar_png2bin.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< -o $@ -lpng

$(FUZZ_BUILD)/fuzz_labels: tests/fuzz/fuzz_labels.c tools/cifar_png2bin.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< -o $@ -lpng

# libjpeg-turbo is the system's, not instrumented (as libpng): coverage stops at our calls.
$(FUZZ_BUILD)/fuzz_jpeg: tests/fuzz/fuzz_jpeg.c harness/data/jpeg.c harness/core/tensor.c \
                         $(ENGINE_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(filter %.c,$^) -o $@ -lturbojpeg -lm

fuzz-build: $(FUZZ_BINS)

# Each target grows its corpus in build/fuzz/corpus_<t> from tests/fuzz/seeds_<t> plus the
# regression inputs; a crash leaves build/fuzz/crash-<t>-* and fails the target.
fuzz: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus_$$t; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    case $$t in records) len=$(FUZZ_MAXLEN_records);; png) len=$(FUZZ_MAXLEN_png);; \
	        jpeg) len=$(FUZZ_MAXLEN_jpeg);; *) len=$(FUZZ_MAXLEN_labels);; esac; \
	    $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
	        -max_len=$$len -timeout=10 -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- \
	        $(FUZZ_BUILD)/corpus_$$t tests/fuzz/seeds_$$t tests/fuzz/regress \
	        2>$(FUZZ_BUILD)/fuzz_$$t.log || { tail -n 40 $(FUZZ_BUILD)/fuzz_$$t.log; exit 1; }; \
	    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' $(FUZZ_BUILD)/fuzz_$$t.log \
	        | tail -n 2; \
	done
