# mixup-repro: build, test and reproduce. `make help` lists the targets.
#
# Toggles (override on the command line, e.g. `make DEBUG=1`):
#   DEBUG=1    -O0 -g
#   ASAN=1     -fsanitize=address,undefined (make test-asan sets it)
#   THREADS=n  thread count for runs and benchmarks
#   JOBS=n     processes sharing one experiment's grid (mk/experiments.mk)
#   SCALE=s    smoke | cpu | paper
#   DATA=dir   data directory (git-ignored)
DEBUG   ?= 0
ASAN    ?= 0
ARCH    ?= -march=native
THREADS ?= 2
SCALE   ?= cpu
DATA    ?= data

MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
# The OpenMP build of OpenBLAS shares the engine's OpenMP pool (one pool on 2 cores).
BLAS_PC   := /usr/lib/$(MULTIARCH)/openblas-openmp/pkgconfig
BLAS_DIR  := /usr/lib/$(MULTIARCH)/openblas-openmp
PKGS      := lua5.4 hdf5 libturbojpeg

CC      ?= gcc
OPT     := $(if $(filter 1,$(DEBUG)),-O0 -g,-O2 -g $(ARCH))
SANFLAGS := -fsanitize=address -fsanitize=undefined -fno-omit-frame-pointer
SAN     := $(if $(filter 1,$(ASAN)),$(SANFLAGS))
WARN    := -Wall -Wextra -Wshadow -Wconversion -Wmissing-prototypes -Wno-sign-conversion
CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) $(SAN) $(WARN) -fopenmp \
           $(shell PKG_CONFIG_PATH=$(BLAS_PC) pkg-config --cflags openblas $(PKGS) 2>/dev/null)
LDLIBS  := $(shell PKG_CONFIG_PATH=$(BLAS_PC) pkg-config --libs openblas $(PKGS) 2>/dev/null) \
           -Wl,-rpath,$(BLAS_DIR) -lpng -lm -fopenmp $(SAN)

BUILD   := build$(if $(filter 1,$(ASAN)),-asan,)

# MPI (issue 16): MPI=1 links OpenMPI (harness/train/dist.c, engine.mpi), MPI=0 leaves it out;
# the default is 1 where OpenMPI's pkg-config file is installed. config.mk is written after
# tools/setup.sh ran (installing what is missing, OpenMPI included) and make then re-reads
# this file, so a fresh machine's first build already links it. mpi.flag changes only when
# MPI does, and rebuilds dist.o (and so the binaries) then.
-include $(BUILD)/config.mk
MPI     ?= $(MPI_FOUND)
ifeq ($(MPI),1)
CFLAGS  += -DMIXUP_MPI $(shell pkg-config --cflags ompi-c)
LDLIBS  += $(shell pkg-config --libs ompi-c)
endif
$(shell mkdir -p $(BUILD); [ "$$(cat $(BUILD)/mpi.flag 2>/dev/null)" = "$(MPI)" ] || \
        echo "$(MPI)" > $(BUILD)/mpi.flag)
# The engine's layers (README "Layout"): one folder each; main.c is the host.
LAYERS     := core nn data io train metrics bind
ENGINE_SRC := $(foreach d,$(LAYERS),$(wildcard harness/$(d)/*.c))
ENGINE_HDR := $(foreach d,$(LAYERS),$(wildcard harness/$(d)/*.h))
ENGINE_OBJ := $(ENGINE_SRC:harness/%.c=$(BUILD)/harness/%.o)
TEST_SRC   := $(wildcard tests/engine/test_*.c)
TEST_BIN   := $(TEST_SRC:tests/engine/%.c=$(BUILD)/tests/%)
TESTLIB    := $(BUILD)/tests/testlib.o $(BUILD)/tests/ref.o
EXE        := $(if $(filter 1,$(ASAN)),mixup-asan,mixup)

# Keep test objects between runs (they are intermediates of the test binaries).
.SECONDARY:

.PHONY: all setup test test-asan bench bench-mpi clean help fixtures print-flags published
all: $(EXE)

help:
	@echo "make                build ./mixup (installs missing Debian packages when root)"
	@echo "make reproduce      every experiment at SCALE, then report and plots"
	@echo "                    (SCALE=smoke: the whole pipeline in minutes)"
	@echo "make reproduce-NAME one experiment's runs, then report and plots:"
	@$(MAKE) --no-print-directory help-experiments
	@echo "make exp/SCRIPT     the runs only (FILTER=\"axis=id ...\", FORCE=1, JOBS=n)"
	@echo "make report         results/REPORT.md: reproduced vs published, per cell"
	@echo "make plots          gnuplot figures from the HDF5 results into plots/"
	@echo "make plots-figure5  Figure 5 and its METRICS.md (FIGURE5_SEED=n FIGURE5_METHODS=a,b)"
	@echo "make data           fetch and md5-verify CIFAR-10 (make data-cifar100: CIFAR-100)"
	@echo "make data-imagenet IMAGENET=DIR  check ILSVRC-2012 and write its index (Table 1)"
	@echo "make test           build and run every test; closes with 'N passed, M failed, K skipped'"
	@echo "make test-asan      the same under AddressSanitizer and UBSan"
	@echo "make bench          images/s and peak memory of a training step, vs PyTorch"
	@echo "make bench-mpi      data-parallel training over 2 MPI ranks vs one process"
	@echo "make fuzz           fuzz the data parsers for FUZZ_SECONDS each (clang, libFuzzer)"
	@echo "make fixtures       regenerate tests/fixtures/*.h5 (python3-torch, python3-h5py)"
	@echo "Variables: SCALE=smoke|cpu|paper THREADS=n JOBS=n RESULTS=dir DATA=dir PLOTS=dir"

# Dependencies: checked (and installed with apt-get when root) once per machine.
$(BUILD)/.deps-ok: tools/setup.sh
	@mkdir -p $(BUILD)
	@sh tools/setup.sh
	@touch $@
setup: $(BUILD)/.deps-ok
$(BUILD)/config.mk: $(BUILD)/.deps-ok
	@echo "MPI_FOUND := $$(pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)" > $@
$(BUILD)/harness/train/dist.o: $(BUILD)/mpi.flag

$(BUILD)/harness/%.o: harness/%.c $(ENGINE_HDR) | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iharness -c $< -o $@

# Provenance: the flags the engine was built with, reported by nn.build_info().
$(BUILD)/harness/bind/lua_sys.o: CFLAGS += -DMIXUP_CFLAGS='"$(strip $(OPT) $(SAN) -std=c11 -fopenmp)"'

$(BUILD)/libengine.a: $(ENGINE_OBJ)
	ar rcs $@ $^

$(EXE): $(BUILD)/harness/main.o $(BUILD)/libengine.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%.o: tests/engine/%.c tests/engine/testlib.h tests/engine/ref.h $(ENGINE_HDR) \
                   | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iharness -c $< -o $@

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(TESTLIB) $(BUILD)/libengine.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# The real-data tests need CIFAR-10: fetched (and verified) first; they skip visibly without it.
# test_net counts the engine's allocations during steady-state training steps.
$(BUILD)/tests/test_net: LDLIBS += -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc \
                                   -Wl,--wrap=aligned_alloc

test: data $(EXE) $(TEST_BIN)
	@MIXUP_DATA=$(DATA) sh tests/run.sh $(BUILD) $(EXE)

test-asan:
	$(MAKE) ASAN=1 test

bench: $(EXE) $(BUILD)/tools/fma_peak data
	@sh tools/bench.sh $(EXE)

# The FMA ceiling kernel of `make bench`: the widest vectors this CPU has (ARCH).
$(BUILD)/tools/fma_peak: tools/fma_peak.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) -O2 $(ARCH) -ffp-contract=fast -fopenmp $< -o $@

bench-mpi: $(EXE) data
	@sh tools/bench_dp.sh $(EXE)

# The fixtures' generators need PyTorch, torchvision and h5py (make test needs none of them).
FIXTURE_PKGS := python3-torch python3-torchvision python3-h5py
fixtures:
	@/usr/bin/python3 -c 'import torch, torchvision, h5py' 2>/dev/null || { echo \
	"make fixtures: needs Debian's $(FIXTURE_PKGS); run: sudo apt-get install" \
	"$(FIXTURE_PKGS)" >&2; exit 1; }
	/usr/bin/python3 tests/fixtures/make_fixtures.py tests/fixtures

clean:
	rm -rf build build-asan mixup mixup-asan

# For scripts: the exact flags the build uses.
print-flags:
	@echo "CFLAGS=$(CFLAGS)"
	@echo "LDLIBS=$(LDLIBS)"

# Topic makefiles live in mk/: data (CIFAR download and conversion), experiments (the
# reproduce-* entry points, one per experiments/*.lua script), figure5 (Figure 5's plots and run
# defaults), plots (report and figures), fuzz.
-include $(wildcard mk/*.mk)

# experiments/published.lua is generated from the shared facts; committed.
published:
	python3 tools/published_to_lua.py ../shared/paper/published.tsv experiments/published.lua
